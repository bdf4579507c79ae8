/**
 * The change rules (docs/reference.md, "Signed changes"): what each commit changed, who may sign that, and
 * whether a protected change has a second admin's approval. Pure: the git and signature adapters hand in
 * each commit's changed files, its verified signer and the rules of the registry at its first parent.
 *
 * Every commit is judged against its PARENT's registry, so a commit that adds its signer's key or makes its
 * signer an admin can never authorise itself.
 */
import { parse as parseYaml } from 'yaml';
import { shellQuote } from '../lib/shell-quote.js';

/** Who must sign one changed thing: its owner (or an admin), an admin, an admin plus a second admin, nobody. */
export type Need = 'own' | 'admin' | 'protected' | 'none';

export interface ChangedItem {
  /** `keys/bob/member.yml: ssh_keys`, `infra.yml: admins`, `inventories/production/hosts.yml` */
  what: string;
  need: Need;
  /** for `own`: the member whose folder it is */
  owner?: string;
}

/** A file the commit changed, relative to the registry root; texts only for infra.yml and member.yml. */
export interface FileChange {
  path: string;
  before?: string;
  after?: string;
}

/** The parts of the parent's registry the rules read. */
export interface RulesAtParent {
  /** admins that are active humans there */
  admins: string[];
  /** policy.changes.two_admins, defaulting to true once infra.yml names two admins */
  twoAdmins: boolean;
  /** environments' inventory folders (relative to the registry root) */
  inventoryFolders: string[];
}

export type SignatureCheck =
  | { status: 'none' }
  | { status: 'good'; handle: string; format: 'ssh' | 'openpgp'; key: string }
  | { status: 'bad'; format: 'ssh' | 'openpgp' | 'unknown'; reason: string };

export interface CommitInput {
  commit: string;
  author: string;
  /** committer date, ISO 8601 UTC */
  date: string;
  /** a merge whose tree is the clean merge of its parents */
  cleanMerge: boolean;
  changes: FileChange[];
  /** hashes named by `Infra-Approves:` trailers */
  approves: string[];
  signature: SignatureCheck;
  rules: RulesAtParent;
}

export type ViolationCode = 'unsigned-change' | 'unauthorized-change' | 'unapproved-change';

export interface Violation {
  code: ViolationCode;
  commit: string;
  author: string;
  changed: string[];
  rule: string;
  fix: string;
}

export interface CommitVerdict {
  commit: string;
  author: string;
  date: string;
  /** the member whose valid signature it carries */
  signer?: string;
  signature: SignatureCheck['status'];
  signatureFormat?: 'ssh' | 'openpgp' | 'unknown';
  /** why a signature was not accepted */
  signatureProblem?: string;
  changed: ChangedItem[];
  verdict: 'allowed' | 'violation';
  /** what made it allowed, or what is wrong: one line */
  reason: string;
  /** commits this one approves (its valid Infra-Approves trailers) */
  approves?: string[];
  /** trailers that approve nothing, and why */
  ignoredApprovals?: string[];
  approvedBy?: string[];
}

export interface RangeVerdict {
  commits: CommitVerdict[];
  violations: Violation[];
}

const OWN_FIELDS = new Set(['name', 'email', 'ssh_keys', 'vpn_peers']);
const PROTECTED_MEMBER_FIELDS = new Set(['groups', 'status', 'kind', 'departed']);
const PROTECTED_CONFIG_FIELDS = new Set(['admins', 'access', 'policy', 'environments', 'vpn']);
const MEMBER_FILE_RE = /^keys\/([^/]+)\/member\.yml$/;
const PGP_FILE_RE = /^keys\/([^/]+)\/pgp\.asc$/;
const GENERATED_RE = /(^|\/)host_vars\/[^/]+\/infra\.generated\.yml$/;
export const APPROVES_TRAILER_RE = /^Infra-Approves:[ \t]*([0-9a-f]{40}(?:[0-9a-f]{24})?)[ \t]*$/gm;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
function mapping(text: string | undefined): Record<string, unknown> | undefined | 'unreadable' {
  if (text === undefined) return undefined;
  try {
    const v = parseYaml(text, { maxAliasCount: 100 });
    return v === null || v === undefined ? {} : isObject(v) ? v : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** Top-level fields whose values differ (comments and layout are not fields). */
function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return names.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

/** What one commit changed, item by item, with who must sign each. */
export function classifyChanges(changes: readonly FileChange[], rules: Pick<RulesAtParent, 'inventoryFolders'>): ChangedItem[] {
  const out: ChangedItem[] = [];
  const inInventory = (p: string) => p.startsWith('inventories/') || rules.inventoryFolders.some((f) => f !== '' && p.startsWith(`${f.replace(/\/+$/, '')}/`));
  for (const c of changes) {
    const p = c.path;
    if (p === 'allowed_signers' || GENERATED_RE.test(p)) {
      out.push({ what: p, need: 'none' });
      continue;
    }
    if (p === 'infra.yml') {
      const [b, a] = [mapping(c.before), mapping(c.after)];
      if (b === 'unreadable' || a === 'unreadable' || b === undefined || a === undefined) {
        out.push({ what: `infra.yml (${a === undefined ? 'deleted' : b === undefined ? 'created' : 'unreadable YAML'})`, need: 'protected' });
        continue;
      }
      const fields = changedFields(b, a);
      if (!fields.length) out.push({ what: 'infra.yml (comments or layout)', need: 'admin' });
      for (const f of fields) out.push({ what: `infra.yml: ${f}`, need: PROTECTED_CONFIG_FIELDS.has(f) ? 'protected' : 'admin' });
      continue;
    }
    const member = MEMBER_FILE_RE.exec(p);
    if (member) {
      const handle = member[1];
      const [b, a] = [mapping(c.before), mapping(c.after)];
      if (b === undefined) out.push({ what: `${p}: new member ${handle}`, need: 'protected' });
      else if (a === undefined) out.push({ what: `${p}: member ${handle} removed`, need: 'protected' });
      else if (b === 'unreadable' || a === 'unreadable') out.push({ what: `${p} (unreadable YAML)`, need: 'protected' });
      else {
        const fields = changedFields(b, a);
        if (!fields.length) out.push({ what: `${p} (comments or layout)`, need: 'own', owner: handle });
        for (const f of fields)
          out.push(OWN_FIELDS.has(f) ? { what: `${p}: ${f}`, need: 'own', owner: handle } : { what: `${p}: ${f}`, need: PROTECTED_MEMBER_FIELDS.has(f) ? 'protected' : 'admin' });
      }
      continue;
    }
    const pgp = PGP_FILE_RE.exec(p);
    if (pgp) {
      out.push({ what: p, need: 'own', owner: pgp[1] });
      continue;
    }
    if (inInventory(p)) {
      out.push({ what: p, need: 'protected' });
      continue;
    }
    out.push({ what: p, need: 'admin' }); // token values, playbooks, anything else in the registry
  }
  return out;
}

const list = (names: readonly string[]) => (names.length ? names.join(', ') : 'none');
const adminsText = (rules: RulesAtParent) => (rules.admins.length ? `an admin (${list(rules.admins)})` : 'an admin (infra.yml names none at its parent)');

/** Judge every commit of a range (oldest first): signatures, who may sign what, and approvals. */
export function judgeRange(inputs: readonly CommitInput[]): RangeVerdict {
  const index = new Map(inputs.map((c, i) => [c.commit, i]));
  // Valid approvals: an admin's signed commit naming a commit in the range approves it and all before it.
  const approvals: Array<{ by: string; upTo: number; at: number }> = [];
  const verdicts: CommitVerdict[] = [];
  const notes = new Map<number, { approves: string[]; ignored: string[] }>();
  inputs.forEach((c, at) => {
    if (!c.approves.length) return;
    const n = { approves: [] as string[], ignored: [] as string[] };
    notes.set(at, n);
    const sig = c.signature;
    for (const hash of c.approves) {
      const i = index.get(hash);
      if (sig.status !== 'good') n.ignored.push(`${hash.slice(0, 12)}: the approval is not validly signed`);
      else if (!c.rules.admins.includes(sig.handle)) n.ignored.push(`${hash.slice(0, 12)}: ${sig.handle} was not an admin at the approval's parent`);
      else if (i === undefined) n.ignored.push(`${hash.slice(0, 12)}: not a commit in the range verified`);
      else {
        n.approves.push(hash);
        approvals.push({ by: sig.handle, upTo: i, at });
      }
    }
  });
  const violations: Violation[] = [];
  inputs.forEach((c, at) => {
    const changed = c.cleanMerge ? [] : classifyChanges(c.changes, c.rules);
    const sig = c.signature;
    const base: CommitVerdict = {
      commit: c.commit,
      author: c.author,
      date: c.date,
      ...(sig.status === 'good' ? { signer: sig.handle } : {}),
      signature: sig.status,
      ...(sig.status !== 'none' ? { signatureFormat: sig.format } : {}),
      ...(sig.status === 'bad' ? { signatureProblem: sig.reason } : {}),
      changed,
      verdict: 'allowed',
      reason: '',
    };
    const note = notes.get(at);
    if (note?.approves.length) base.approves = note.approves;
    if (note?.ignored.length) base.ignoredApprovals = note.ignored;
    const what = changed.filter((x) => x.need !== 'none');
    const violation = (code: ViolationCode, rule: string, fix: string, items = what) => {
      violations.push({ code, commit: c.commit, author: c.author, changed: items.map((x) => x.what), rule, fix });
      base.verdict = 'violation';
      base.reason = rule;
    };
    if (c.cleanMerge) base.reason = 'a clean merge of its parents: introduces nothing';
    else if (!what.length) base.reason = changed.length ? 'only generated files: `infra render --check` proves them' : 'changes nothing in the registry';
    else {
      const owners = [...new Set(what.filter((x) => x.need === 'own').map((x) => x.owner!))];
      const needsAdmin = what.some((x) => x.need !== 'own');
      const whoMay = needsAdmin ? adminsText(c.rules) : `${owners.join(' and ')} or ${adminsText(c.rules)}`;
      if (sig.status !== 'good') {
        const why = sig.status === 'none' ? 'it is not signed' : `its signature is not accepted: ${sig.reason}`;
        violation('unsigned-change', `every change to the registry must be signed by a member allowed to make it; ${why}`, `${whoMay} must sign it (git commit --amend -S, with a key registered at its parent)`);
      } else {
        const isAdmin = c.rules.admins.includes(sig.handle);
        const refused = what.filter((x) => !isAdmin && !(x.need === 'own' && x.owner === sig.handle));
        if (refused.length) {
          const rule = refused.some((x) => x.need !== 'own')
            ? `${sig.handle} is not an admin at its parent: only an admin may sign ${refused.some((x) => x.need === 'protected') ? 'a protected change' : 'this change'}`
            : `${sig.handle} may sign changes to their own folder only (keys/${sig.handle}/: ssh_keys, vpn_peers, pgp.asc, name, email)`;
          violation('unauthorized-change', rule, `${refused.some((x) => x.need !== 'own') ? adminsText(c.rules) : `${[...new Set(refused.map((x) => x.owner!))].join(' and ')} or ${adminsText(c.rules)}`} must sign it instead`, refused);
        } else {
          const protectedItems = what.filter((x) => x.need === 'protected');
          if (protectedItems.length && c.rules.twoAdmins) {
            const by = [...new Set(approvals.filter((a) => a.upTo >= at && a.at > at && a.by !== sig.handle).map((a) => a.by))];
            if (by.length) {
              base.approvedBy = by;
              base.reason = `protected change signed by admin ${sig.handle}, approved by ${by.join(', ')}`;
            } else {
              const others = c.rules.admins.filter((a) => a !== sig.handle);
              const own = approvals.some((a) => a.upTo >= at && a.at > at && a.by === sig.handle);
              violation(
                'unapproved-change',
                `a protected change needs a second admin's approval${own ? ` (${sig.handle} approved it, but cannot approve their own change)` : ''}`,
                others.length ? `a second admin (${list(others)}) must run \`infra approve ${shellQuote(c.commit)}\`` : `infra.yml names no second admin: add one, who then runs \`infra approve ${shellQuote(c.commit)}\``,
                protectedItems,
              );
            }
          } else base.reason = isAdmin ? `signed by admin ${sig.handle}` : `signed by ${sig.handle}, in their own folder`;
        }
      }
    }
    verdicts.push(base);
  });
  return { commits: verdicts, violations };
}

/** The `Infra-Approves:` trailers of a commit message. */
export function approvalTrailers(message: string): string[] {
  return [...message.matchAll(APPROVES_TRAILER_RE)].map((m) => m[1]);
}
