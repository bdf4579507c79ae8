/**
 * vault/vault.yml: what the registry records about the Ansible vault password, readable without decrypting
 * anything (the password itself is vault/password.asc). Validated strictly: the file arrives by pull
 * request like any other (docs/reference.md, "vault/vault.yml"). Pure.
 */
import type { Problem } from '../lib/errors.js';
import { HANDLE_RE, type IsoDate } from './types.js';
import { isIsoDate, type Locate } from './validate.js';

export const VAULT_STATE_FILE = 'vault/vault.yml';
export const VAULT_PASSWORD_FILE = 'vault/password.asc';
export const VAULT_PENDING_FILE = 'vault/password.pending.asc';
export const VAULT_CLIENT_FILE = 'ansible/vault-pass-client';
/** More files than any inventory holds: a hostile `left` list must not make a resume walk forever. */
export const MAX_PENDING_FILES = 100_000;

export interface VaultRotationPending {
  started_at: IsoDate;
  started_by: string;
  /** Files (relative to the registry root) whose vault items are still under the old password. */
  left: string[];
}

export interface VaultState {
  /** When `infra vault init` stored the password, and who did. */
  created_at: IsoDate;
  created_by: string;
  /** When this password was made by infra (init with a random one, or a rotation); absent: imported, history unknown. */
  rotated_at?: IsoDate;
  rotated_by?: string;
  pending?: VaultRotationPending;
}

const TOP = ['created_at', 'created_by', 'rotated_at', 'rotated_by', 'pending'];
const PENDING = ['started_at', 'started_by', 'left'];

/** A registry-relative path infra may rewrite: no absolute path, no `..`, no empty or odd segment. */
export function safeRelativePath(p: unknown): p is string {
  if (typeof p !== 'string' || p.length === 0 || p.length > 4096) return false;
  if (p.startsWith('/') || p.includes('\\') || /[\0-\x1f\x7f]/.test(p)) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** The state in `raw` (vault.yml's parsed content), or every problem with it. */
export function validateVaultState(raw: unknown, file: string, locate: Locate = () => undefined): { state?: VaultState; problems: Problem[] } {
  const problems: Problem[] = [];
  const add = (path: Array<string | number>, message: string) => problems.push({ file, line: locate(path), field: path.join('.') || '(file)', message });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    add([], 'must be a mapping (created_at, created_by, ...)');
    return { problems };
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!TOP.includes(k)) add([k], `unknown field (known: ${TOP.join(', ')})`);
  const date = (path: string[], v: unknown, required: boolean) => {
    if (v === undefined) {
      if (required) add(path, 'missing: a date YYYY-MM-DD');
    } else if (!isIsoDate(v)) add(path, 'must be a date YYYY-MM-DD');
  };
  const handle = (path: string[], v: unknown, required: boolean) => {
    if (v === undefined) {
      if (required) add(path, 'missing: an admin handle');
    } else if (typeof v !== 'string' || !HANDLE_RE.test(v)) add(path, 'must be a handle (a-z, 0-9, -)');
  };
  date(['created_at'], o.created_at, true);
  handle(['created_by'], o.created_by, true);
  date(['rotated_at'], o.rotated_at, false);
  handle(['rotated_by'], o.rotated_by, o.rotated_at !== undefined);
  if (o.rotated_by !== undefined && o.rotated_at === undefined) add(['rotated_at'], 'missing: rotated_by is set, so rotated_at must be too');
  if (o.pending !== undefined) {
    const p = o.pending;
    if (p === null || typeof p !== 'object' || Array.isArray(p)) add(['pending'], 'must be a mapping (started_at, started_by, left)');
    else {
      const q = p as Record<string, unknown>;
      for (const k of Object.keys(q)) if (!PENDING.includes(k)) add(['pending', k], `unknown field (known: ${PENDING.join(', ')})`);
      date(['pending', 'started_at'], q.started_at, true);
      handle(['pending', 'started_by'], q.started_by, true);
      if (!Array.isArray(q.left)) add(['pending', 'left'], 'must be a list of files (relative to the registry root)');
      else if (q.left.length > MAX_PENDING_FILES) add(['pending', 'left'], `lists more than ${MAX_PENDING_FILES} files`);
      else {
        const seen = new Set<string>();
        q.left.forEach((f, i) => {
          if (!safeRelativePath(f)) add(['pending', 'left', i], 'must be a path relative to the registry root, without `..`');
          else if (seen.has(f)) add(['pending', 'left', i], 'is listed twice');
          else seen.add(f);
        });
      }
    }
  }
  if (problems.length) return { problems };
  const state: VaultState = { created_at: o.created_at as IsoDate, created_by: o.created_by as string };
  if (o.rotated_at !== undefined) state.rotated_at = o.rotated_at as IsoDate;
  if (o.rotated_by !== undefined) state.rotated_by = o.rotated_by as string;
  if (o.pending !== undefined) {
    const q = o.pending as Record<string, unknown>;
    state.pending = { started_at: q.started_at as IsoDate, started_by: q.started_by as string, left: [...(q.left as string[])] };
  }
  return { state, problems };
}

const HEADER = '# The Ansible vault password of this registry: when it was made and by whom. The password itself is\n# vault/password.asc, encrypted to every admin. Written by `infra vault init` and `infra vault rotate`.\n';

/** The text of vault.yml for `state` (infra owns this file: it is written whole, in one fixed layout). */
export function vaultStateText(state: VaultState): string {
  const lines = [`created_at: ${state.created_at}`, `created_by: ${state.created_by}`];
  if (state.rotated_at) lines.push(`rotated_at: ${state.rotated_at}`, `rotated_by: ${state.rotated_by}`);
  if (state.pending) {
    lines.push('pending:', `  started_at: ${state.pending.started_at}`, `  started_by: ${state.pending.started_by}`);
    lines.push(state.pending.left.length ? '  left:' : '  left: []', ...state.pending.left.map((f) => `    - ${JSON.stringify(f)}`));
  }
  return `${HEADER}${lines.join('\n')}\n`;
}

/** The state once a rotation started by `by` on `today` has these files left. */
export function startVaultRotation(state: VaultState, today: IsoDate, by: string, left: string[]): VaultState {
  return { ...state, pending: { started_at: today, started_by: by, left: [...left] } };
}

/** The state once `file` holds only items under the new password. */
export function vaultFileDone(state: VaultState, file: string): VaultState {
  if (!state.pending) return state;
  return { ...state, pending: { ...state.pending, left: state.pending.left.filter((f) => f !== file) } };
}

/** The state once the new password replaced the old one. */
export function finishVaultRotation(state: VaultState, today: IsoDate, by: string): VaultState {
  const { pending: _done, ...rest } = state;
  return { ...rest, rotated_at: today, rotated_by: by };
}
