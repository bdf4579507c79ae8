/**
 * Bot tokens, pure: the consumer grammar (CLI form <-> data), due dates, rotation planning and
 * bookkeeping, generic token generation (randomness passed in), and what GitHub needs to know
 * (permissions per consumer, the settings pages). No fs, no network, no clock.
 */
import { ExitCode, InfraError } from '../lib/errors.js';
import { addDays, dateOfEpochSeconds } from './dates.js';
import { ENV_RE, GITHUB_LOGIN_RE, type IsoDate, type PendingRotation, type TokenConsumer, type TokenEntry, type TokenKind } from './types.js';
import { shellQuote } from '../lib/shell-quote.js';

export const CONSUMER_KINDS = ['github_secret', 'github_env_secret', 'github_org_secret', 'ansible_vault_var'] as const;
export type ConsumerKind = (typeof CONSUMER_KINDS)[number];

/** The CLI form of each consumer kind, in the order of its parts after the kind. */
export const CONSUMER_FORMS: Record<ConsumerKind, string> = {
  github_secret: 'github_secret:OWNER/REPO:NAME',
  github_env_secret: 'github_env_secret:OWNER/REPO:ENVIRONMENT:NAME',
  github_org_secret: 'github_org_secret:ORG:NAME',
  ansible_vault_var: 'ansible_vault_var:ENV:GROUP:VAR',
};

const CONSUMER_FIELDS: Record<ConsumerKind, readonly string[]> = {
  github_secret: ['repo', 'name'],
  github_env_secret: ['repo', 'environment', 'name'],
  github_org_secret: ['org', 'name'],
  ansible_vault_var: ['environment', 'group', 'var'],
};

/** GitHub Actions secret names: letters, digits, _; not starting with a digit; GITHUB_ is reserved (any case). */
export const SECRET_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const REPO_NAME_RE = /^[A-Za-z0-9._-]{1,100}$/;
/** GitHub deployment environment names: no `:` or `/`, inner spaces allowed, at most 255 characters. */
const GITHUB_ENVIRONMENT_RE = /^[A-Za-z0-9_.-](?:[A-Za-z0-9 _.-]{0,253}[A-Za-z0-9_.-])?$/;
/** Ansible group names that are safe as a folder under group_vars/. */
export const ANSIBLE_GROUP_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const IDENTIFIER_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Ansible refuses Python keywords as variable names (ansible.utils.vars.isidentifier). */
const PYTHON_KEYWORDS = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield'.split(' '),
);

export interface FieldProblem {
  field: string; // inside the consumer, e.g. "repo"
  message: string;
}

export const consumerKind = (c: TokenConsumer): ConsumerKind => Object.keys(c)[0] as ConsumerKind;

/** What is wrong with each field of a consumer whose shape is right; [] when it is valid. */
export function consumerProblems(c: TokenConsumer): FieldProblem[] {
  const out: FieldProblem[] = [];
  const add = (field: string, message: string) => out.push({ field, message });
  const secretName = (name: string) => {
    if (!SECRET_NAME_RE.test(name)) add('name', 'a GitHub secret name is letters, digits and _, not starting with a digit');
    else if (/^GITHUB_/i.test(name)) add('name', 'secret names starting with GITHUB_ are reserved by GitHub');
    else if (name.length > 255) add('name', 'a GitHub secret name is at most 255 characters');
  };
  const repo = (value: string) => {
    const [owner, name, ...rest] = value.split('/');
    if (rest.length || name === undefined || !GITHUB_LOGIN_RE.test(owner) || !REPO_NAME_RE.test(name) || /^\.+$/.test(name))
      add('repo', 'must be OWNER/REPO (a GitHub owner, then the repository name: letters, digits, . _ -)');
  };
  if ('github_secret' in c) {
    repo(c.github_secret.repo);
    secretName(c.github_secret.name);
  } else if ('github_env_secret' in c) {
    repo(c.github_env_secret.repo);
    const env = c.github_env_secret.environment;
    if (!GITHUB_ENVIRONMENT_RE.test(env) || /^\.+$/.test(env)) add('environment', 'a GitHub environment name is letters, digits, . _ - and inner spaces (no : or /)');
    secretName(c.github_env_secret.name);
  } else if ('github_org_secret' in c) {
    if (!GITHUB_LOGIN_RE.test(c.github_org_secret.org)) add('org', 'must be a GitHub organisation login (letters, digits, inner -)');
    secretName(c.github_org_secret.name);
  } else {
    const v = c.ansible_vault_var;
    if (!ENV_RE.test(v.environment)) add('environment', 'must be an environment name of infra.yml (lowercase letters, digits, _ and -)');
    if (!ANSIBLE_GROUP_RE.test(v.group)) add('group', 'must be an Ansible group name (letters, digits, _ and -, not starting with a digit)');
    if (!IDENTIFIER_RE.test(v.var)) add('var', 'an Ansible variable name is letters, digits and _, not starting with a digit');
    else if (PYTHON_KEYWORDS.has(v.var)) add('var', `"${v.var}" is a Python keyword, which Ansible refuses as a variable name`);
    // infra_* beside the generated files is render's alone: render would refuse to run (and rightly)
    else if (v.var.startsWith('infra_')) add('var', `"${v.var}" starts with infra_, which only \`infra render\` may define; name it after the bot, e.g. roobot_${v.var.slice(6) || 'token'}`);
  }
  return out;
}

/** Builds a consumer from its kind and field values (in CONSUMER_FIELDS order). */
function buildConsumer(kind: ConsumerKind, values: string[]): TokenConsumer {
  const fields = Object.fromEntries(CONSUMER_FIELDS[kind].map((f, i) => [f, values[i]]));
  return { [kind]: fields } as unknown as TokenConsumer;
}

/** Shows user input in a message without control characters, cut short. */
function shown(value: string, max = 60): string {
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

const FORMS_TEXT = Object.values(CONSUMER_FORMS).join(', ');

/** `github_secret:OWNER/REPO:NAME` etc. -> a consumer; anything else is an InfraError (exit 3) saying what is wrong. */
export function parseConsumer(text: string, what = '--consumer'): TokenConsumer {
  const fail = (message: string) =>
    new InfraError(ExitCode.invalid, `${what} "${shown(text)}": ${message}`, { hint: `write it as one of: ${FORMS_TEXT}` });
  if (typeof text !== 'string' || text.trim() === '') throw fail('is empty');
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(text)) throw fail('must be one line without control characters');
  if (text !== text.trim()) throw fail('has spaces around it');
  const [kind, ...parts] = text.split(':');
  if (!(CONSUMER_KINDS as readonly string[]).includes(kind)) throw fail(`unknown kind "${shown(kind, 30)}" (known: ${CONSUMER_KINDS.join(', ')})`);
  const k = kind as ConsumerKind;
  const fields = CONSUMER_FORMS[k].split(':').slice(1);
  if (parts.length !== fields.length) throw fail(`expected ${CONSUMER_FORMS[k]} (${fields.length} parts after the kind, got ${parts.length})`);
  const empty = parts.findIndex((p) => p === '');
  if (empty >= 0) throw fail(`${fields[empty]} is empty`);
  const consumer = buildConsumer(k, parts);
  const problems = consumerProblems(consumer);
  if (problems.length) throw fail(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
  return consumer;
}

/** The CLI form, the inverse of parseConsumer. */
export function formatConsumer(c: TokenConsumer): string {
  const kind = consumerKind(c);
  const inner = (c as Record<string, Record<string, string>>)[kind];
  return [kind, ...CONSUMER_FIELDS[kind].map((f) => inner[f])].join(':');
}

/** Identity of the place a consumer writes to: GitHub owners, repositories and secret names are case-insensitive. */
export function consumerKey(c: TokenConsumer): string {
  if ('github_secret' in c) return `github_secret:${c.github_secret.repo.toLowerCase()}:${c.github_secret.name.toUpperCase()}`;
  if ('github_env_secret' in c)
    return `github_env_secret:${c.github_env_secret.repo.toLowerCase()}:${c.github_env_secret.environment.toLowerCase()}:${c.github_env_secret.name.toUpperCase()}`;
  if ('github_org_secret' in c) return `github_org_secret:${c.github_org_secret.org.toLowerCase()}:${c.github_org_secret.name.toUpperCase()}`;
  return formatConsumer(c);
}

/** A sentence naming the place, for progress and dry-run lines. */
export function describeConsumer(c: TokenConsumer): string {
  if ('github_secret' in c) return `GitHub Actions secret ${c.github_secret.name} of ${c.github_secret.repo}`;
  if ('github_env_secret' in c) return `GitHub Actions secret ${c.github_env_secret.name} of ${c.github_env_secret.repo}, environment ${c.github_env_secret.environment}`;
  if ('github_org_secret' in c) return `GitHub Actions organisation secret ${c.github_org_secret.name} of ${c.github_org_secret.org}`;
  return `ansible-vault variable ${c.ansible_vault_var.var} (${c.ansible_vault_var.environment}, group ${c.ansible_vault_var.group})`;
}

/** Where an ansible_vault_var consumer writes, relative to the registry root. */
export function vaultFilePath(inventoryFolder: string, group: string): string {
  return `${inventoryFolder.replace(/\/+$/, '')}/group_vars/${group}/infra.tokens.yml`;
}

// ---------------------------------------------------------------- due dates

export type DueStatus = 'ok' | 'due-soon' | 'overdue';

export interface TokenDue {
  /** The last day to rotate; absent when the token was never rotated (then it is overdue). */
  due?: IsoDate;
  status: DueStatus;
  /** What sets the date: the rotation period, or (GitHub) the day before the token expires. */
  reason: 'schedule' | 'expiry' | 'never-rotated';
  every_days: number;
}

/** Overdue when `due` is before today; due soon when it is within `horizonDays` from today. */
/**
 * How many days before a scheduled rotation it counts as due soon: the horizon, but at most a third of
 * the period, so a token rotated today with a period near the horizon (`--every 30`) is not due soon at once.
 */
export function dueSoonDays(horizonDays: number, everyDays: number): number {
  return Math.min(horizonDays, Math.floor(everyDays / 3));
}

export function tokenDue(token: TokenEntry, defaultEveryDays: number, today: IsoDate, horizonDays: number): TokenDue {
  const every = token.rotate_every_days ?? defaultEveryDays;
  if (!token.rotated_at) return { status: 'overdue', reason: 'never-rotated', every_days: every };
  let due = addDays(token.rotated_at, every);
  let reason: TokenDue['reason'] = 'schedule';
  if (token.expires_at) {
    const lastUsableDay = addDays(token.expires_at, -1); // it stops working on expires_at
    if (lastUsableDay < due) {
      due = lastUsableDay;
      reason = 'expiry';
    }
  }
  // an expiry keeps the whole horizon: a new GitHub token takes a person, not a schedule
  const soon = reason === 'expiry' ? horizonDays : dueSoonDays(horizonDays, every);
  const status: DueStatus = due < today ? 'overdue' : due <= addDays(today, soon) ? 'due-soon' : 'ok';
  return { due, status, reason, every_days: every };
}

// ---------------------------------------------------------------- generating and reading values

/** A generic token: 32 random bytes (given by the caller), base64url without padding (43 characters). */
export function generateGenericToken(randomBytes: Uint8Array): string {
  if (randomBytes.length !== 32) throw new Error(`generateGenericToken needs 32 random bytes, got ${randomBytes.length}`);
  return Buffer.from(randomBytes).toString('base64url');
}

/**
 * A secret as read from stdin or a prompt: one trailing line break is dropped; empty, whitespace-only,
 * multi-line or control-character values are refused without ever showing them. Tokens (not passwords)
 * may not hold whitespace at all.
 */
export function readSecretLine(raw: string, what: string, options: { allowSpaces?: boolean } = {}): string {
  const value = raw.replace(/\r?\n$/, '');
  const fail = (message: string) => new InfraError(ExitCode.invalid, `${what} ${message} (the value is not shown)`, { hint: `give ${what} on stdin, one line, e.g. from a password manager` });
  if (value.trim() === '') throw fail('is empty');
  if (/[\r\n]/.test(value)) throw fail('has a line break in the middle: paste it as one line');
  if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/.test(value) || (!options.allowSpaces && /\t/.test(value))) throw fail('holds control characters');
  if (!options.allowSpaces && /\s/.test(value)) throw fail('holds spaces; a token is one word');
  return value;
}

// ---------------------------------------------------------------- GitHub specifics

/** `2027-01-30 12:00:00 UTC` (or with a `+0100` offset), as GitHub sends it -> the UTC date; undefined when unreadable. */
export function parseGithubExpiration(header: string | undefined | null): IsoDate | undefined {
  if (!header) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})\s*(UTC|Z|[+-]\d{2}:?\d{2})$/.exec(header.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, zone] = m;
  let offsetMinutes = 0;
  if (zone !== 'UTC' && zone !== 'Z') {
    const digits = zone.replace(':', '');
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  }
  // a field out of its range (month 62, hour 99, offset -99:99) is not a time GitHub sends: unreadable, not rolled over
  if (+h > 23 || +mi > 59 || +s > 60 || Math.abs(offsetMinutes) > 18 * 60 || +zone.replace(':', '').slice(-2) > 59) return undefined;
  const day = `${y}-${mo}-${d}`;
  const midnight = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(midnight) || new Date(midnight).toISOString().slice(0, 10) !== day) return undefined; // 2027-02-30
  return dateOfEpochSeconds((midnight + ((+h * 60 + +mi) * 60 + +s) * 1000 - offsetMinutes * 60_000) / 1000);
}

export const GITHUB_API_URL = 'https://api.github.com';

/** The web address for an API base URL: api.github.com -> github.com, GHES https://host/api/v3 -> https://host. */
export function githubWebUrl(apiBaseUrl: string = GITHUB_API_URL): string {
  const url = new URL(apiBaseUrl);
  if (/^\/api\/v3\/?$/.test(url.pathname)) return url.origin;
  if (url.hostname.startsWith('api.')) return `${url.protocol}//${url.hostname.slice(4)}${url.port ? `:${url.port}` : ''}`;
  return url.origin;
}

export type GithubTokenType = 'fine-grained' | 'classic';

/** Personal token types by their documented prefixes; undefined for anything else. */
export function githubTokenType(value: string): GithubTokenType | undefined {
  if (value.startsWith('github_pat_')) return 'fine-grained';
  if (value.startsWith('ghp_')) return 'classic';
  return undefined;
}

/** The page (signed in as the bot) where the old token is revoked: the API cannot revoke personal tokens. */
export function githubRevokeUrl(apiBaseUrl?: string, type?: GithubTokenType): string {
  return `${githubWebUrl(apiBaseUrl)}/settings/${type === 'fine-grained' ? 'personal-access-tokens' : 'tokens'}`;
}

/** The page where a new token is made, for the rotation prompt. */
export function githubNewTokenUrl(apiBaseUrl?: string): string {
  return `${githubWebUrl(apiBaseUrl)}/settings/personal-access-tokens/new`;
}

export interface GithubPermission {
  /** Fine-grained token permission, as GitHub's settings page names it. */
  fineGrained: string;
  /** Classic token scope. */
  classicScope: string;
  /** Where it must be granted. */
  on: string;
}

/** What the credential writing this consumer needs (GitHub's REST docs for the secrets endpoints). */
export function githubPermissionFor(c: TokenConsumer): GithubPermission | undefined {
  if ('github_secret' in c) return { fineGrained: 'Secrets: Read and write (repository)', classicScope: 'repo', on: c.github_secret.repo };
  if ('github_env_secret' in c) return { fineGrained: 'Environments: Read and write (repository)', classicScope: 'repo', on: c.github_env_secret.repo };
  if ('github_org_secret' in c) return { fineGrained: 'Secrets: Read and write (organization)', classicScope: 'admin:org', on: c.github_org_secret.org };
  return undefined;
}

/** Every permission the consumers need, one line each ("Secrets: Read and write (repository) on a/b, c/d"), plus the classic scopes. */
export function githubPermissions(consumers: TokenConsumer[]): { fineGrained: string[]; classicScopes: string[] } {
  const byPermission = new Map<string, string[]>();
  const scopes = new Set<string>();
  for (const c of consumers) {
    const p = githubPermissionFor(c);
    if (!p) continue;
    scopes.add(p.classicScope);
    const on = byPermission.get(p.fineGrained) ?? [];
    if (!on.some((x) => x.toLowerCase() === p.on.toLowerCase())) on.push(p.on);
    byPermission.set(p.fineGrained, on);
  }
  return { fineGrained: [...byPermission].map(([perm, on]) => `${perm} on ${on.join(', ')}`), classicScopes: [...scopes] };
}

// ---------------------------------------------------------------- rotation

export const tokenValueFile = (handle: string, name: string) => `keys/${handle}/tokens/${name}.asc`;
export const tokenPendingFile = (handle: string, name: string) => `keys/${handle}/tokens/${name}.pending.asc`;

export interface RotationPlanInput {
  handle: string;
  token: TokenEntry;
  admins: string[];
  resume?: boolean;
  /** The GitHub API base URL (for the revoke page). */
  githubApiUrl?: string;
  /** Paths of the vault files, by consumer CLI form (the service knows the inventory folders). */
  vaultFiles?: Record<string, string>;
}

export interface RotationPlan {
  token: string; // handle/name
  kind: TokenKind;
  resume: boolean;
  /** Where the new value comes from. */
  value_from: 'stdin-or-prompt' | 'matrix-login' | 'generated' | 'pending';
  value_file: string;
  pending_file: string;
  /** Consumers to update, in this order (member.yml order; on resume, those still left). */
  consumers: TokenConsumer[];
  /** On resume: consumers that already hold the new value. */
  already_done: string[];
  encrypt_to: string[];
  /** Human-readable lines for --dry-run, in the order things happen. */
  steps: string[];
}

/** Which consumers, in what order, and what else happens. Refuses a rotation over a pending one and a resume with nothing pending. */
export function planRotation(input: RotationPlanInput): RotationPlan {
  const { handle, token, admins } = input;
  const id = `${handle}/${token.name}`;
  const resume = !!input.resume;
  if (resume && !token.pending)
    throw new InfraError(ExitCode.invalid, `${id}: no rotation is in progress, nothing to resume`, { hint: `infra tokens rotate ${shellQuote(id)}` });
  if (!resume && token.pending)
    throw new InfraError(ExitCode.invalid, `${id}: a rotation started ${token.pending.started_at} by ${token.pending.started_by} is not finished (${token.pending.left.length} consumer(s) left)`, {
      hint: `infra tokens rotate ${shellQuote(id)} --resume --key YOUR-PRIVATE-KEY.asc`,
    });
  if (admins.length === 0)
    throw new InfraError(ExitCode.invalid, 'infra.yml names no admins, so the token could not be encrypted to anyone', { hint: 'add admins: [...] to infra.yml' });
  if (token.kind === 'matrix' && !token.homeserver)
    throw new InfraError(ExitCode.invalid, `${id}: a matrix token needs homeserver`, { hint: `add homeserver: https://... to the token in keys/${handle}/member.yml` });

  const left = new Set((token.pending?.left ?? []).map((s) => consumerKey(parseConsumer(s, 'pending.left'))));
  const consumers = resume ? token.consumers.filter((c) => left.has(consumerKey(c))) : [...token.consumers];
  const alreadyDone = resume ? token.consumers.filter((c) => !left.has(consumerKey(c))).map(formatConsumer) : [];
  const valueFile = tokenValueFile(handle, token.name);
  const pendingFile = tokenPendingFile(handle, token.name);
  const valueFrom: RotationPlan['value_from'] = resume ? 'pending' : token.kind === 'github' ? 'stdin-or-prompt' : token.kind === 'matrix' ? 'matrix-login' : 'generated';

  const steps: string[] = [];
  if (resume) steps.push(`decrypt the pending value from ${pendingFile} (needs an admin key: --key)`);
  else {
    if (token.kind === 'github') steps.push('read the new GitHub token from stdin or a hidden prompt, check it with GET /user (login and expiry)');
    if (token.kind === 'matrix') steps.push(`log in to ${token.homeserver} with the bot's password for a new access token on a new device, check it with /account/whoami`);
    if (token.kind === 'generic') steps.push('generate 32 random bytes (base64url)');
    steps.push(`store it encrypted to ${admins.join(', ')} in ${pendingFile}, and the consumers left in keys/${handle}/member.yml`);
  }
  for (const c of consumers) {
    const file = 'ansible_vault_var' in c ? input.vaultFiles?.[formatConsumer(c)] : undefined;
    steps.push(`write ${describeConsumer(c)}${file ? ` in ${file}` : ''}`);
  }
  steps.push(`move ${pendingFile} to ${valueFile}; set rotated_at and rotated_by`);
  if (token.kind === 'matrix') steps.push(`log out the old access token at ${token.homeserver} (ends its device)`);
  if (token.kind === 'github') steps.push(`revoke the old token at ${githubRevokeUrl(input.githubApiUrl)} (signed in as the bot)`);
  return {
    token: id,
    kind: token.kind,
    resume,
    value_from: valueFrom,
    value_file: valueFile,
    pending_file: pendingFile,
    consumers,
    already_done: alreadyDone,
    encrypt_to: [...admins],
    steps,
  };
}

/** The record of a rotation that has just stored its pending value: every consumer is left. */
export function startRotation(token: TokenEntry, today: IsoDate, by: string): TokenEntry {
  const pending: PendingRotation = { started_at: today, started_by: by, left: token.consumers.map(formatConsumer) };
  return { ...token, pending };
}

/** One consumer has the new value: it leaves `pending.left` (recorded at once by the service). */
export function consumerDone(token: TokenEntry, consumer: TokenConsumer): TokenEntry {
  if (!token.pending) throw new Error(`consumerDone: ${token.name} has no rotation in progress`);
  const key = consumerKey(consumer);
  const left = token.pending.left.filter((s) => consumerKey(parseConsumer(s, 'pending.left')) !== key);
  return { ...token, pending: { ...token.pending, left } };
}

/**
 * Every consumer has the value: the rotation is recorded (once), readable_by restarts with the admins the
 * new value was encrypted to, GitHub's expiry is replaced by the new token's (or dropped when it has none).
 */
export function finishRotation(token: TokenEntry, today: IsoDate, by: string, admins: string[], githubExpiresAt?: IsoDate): TokenEntry {
  if (token.pending && token.pending.left.length) throw new Error(`finishRotation: ${token.name} still has ${token.pending.left.length} consumer(s) left`);
  const { pending: _pending, expires_at: _expires, ...rest } = token;
  return {
    ...rest,
    rotated_at: today,
    rotated_by: by,
    ...(token.kind === 'github' && githubExpiresAt ? { expires_at: githubExpiresAt } : {}),
    readable_by: [...admins],
  };
}

/** After `reencrypt`: readable_by gains the current admins and never loses anyone (they saw the value). */
export function reencrypted(token: TokenEntry, admins: string[]): TokenEntry {
  const readable = [...(token.readable_by ?? [])];
  for (const a of admins) if (!readable.includes(a)) readable.push(a);
  return { ...token, readable_by: readable };
}

/** Who could read the current value but is no longer an admin: the token must be rotated. */
export function exposedTo(token: TokenEntry, currentAdmins: string[]): string[] {
  return (token.readable_by ?? []).filter((h) => !currentAdmins.includes(h));
}
