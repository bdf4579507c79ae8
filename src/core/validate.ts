/**
 * Validation of the registry's plain data. Pure: the store parses YAML and hands over the data plus a
 * `locate` function (path -> line) so every problem can be printed as `file:line: field: problem`.
 * Validation collects every problem instead of stopping at the first one.
 */
import type { Problem } from '../lib/errors.js';
import { InfraError } from '../lib/errors.js';
import { dict, ownValue } from './dict.js';
import { keyParser, summaryOf, type KeySummary, type ParseKey } from './key-summary.js';
import { canonicalKeyData, parsePublicKey, policyProblems } from './ssh-key.js';
import { validateSshHostPolicy } from './sshd-policy.js';
import { checkWgKey, validateNetwork } from './wireguard.js';
import { validateCertificates, validateCertPolicy } from './cert-validate.js';
import { addressKey, cidrContains, formatCidr, hostRange, parseCidr, type Cidr } from './ip-alloc.js';
import { CONSUMER_FORMS, CONSUMER_KINDS, consumerKey, consumerProblems, formatConsumer, parseConsumer, type ConsumerKind } from './tokens.js';
import {
  DEFAULT_POLICY,
  ENV_RE,
  GITHUB_LOGIN_RE,
  GITLAB_USERNAME_RE,
  HANDLE_RE,
  NAME_RE,
  type Grant,
  type InfraConfig,
  type Member,
  type PendingRotation,
  type Policy,
  type SshKeyEntry,
  type TokenConsumer,
  type TokenEntry,
  type VpnNetwork,
  type VpnPeer,
} from './types.js';
import { shellQuote } from '../lib/shell-quote.js';

export type Path = ReadonlyArray<string | number>;
export type Locate = (path: Path) => number | undefined;

export const GROUP_RE = /^[a-z][a-z0-9_-]{0,63}$/;
export const UNIX_USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
export { ENV_RE };
export const ORG_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;
export const TOKEN_KINDS = ['github', 'matrix', 'generic'] as const;
export const KEY_FAMILIES = ['ed25519', 'ed25519-sk', 'ecdsa', 'ecdsa-sk', 'rsa'] as const;
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export function fieldName(path: Path): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  return out || '(document)';
}

/** Collects problems for one file; `at` resolves the nearest line for a path (falling back to its parents). */
export class Problems {
  readonly list: Problem[] = [];
  constructor(
    readonly file: string,
    private readonly locate: Locate = () => undefined,
  ) {}

  at(path: Path): number | undefined {
    for (let n = path.length; n >= 0; n--) {
      const line = this.locate(path.slice(0, n));
      if (line !== undefined) return line;
    }
    return undefined;
  }

  add(path: Path, message: string): void {
    this.list.push({ file: this.file, line: this.at(path), field: fieldName(path), message });
  }
}

export function isIsoDate(value: unknown): value is string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(value);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Free text (a name, an email, a source): generous, but a 10 kB value is a mistake or an attack. */
export const MAX_TEXT_LENGTH = 1000;

/** Printable, single-line text: what a name or comment may be. Shows the offending character class, never raw bytes. */
export function textProblem(value: unknown, what = 'text'): string | undefined {
  if (typeof value !== 'string') return `must be ${what}, got ${describeType(value)}`;
  if (value.trim() === '') return 'must not be empty';
  if (CONTROL_RE.test(value)) return 'must not contain newlines, tabs or control characters';
  if (value.length > MAX_TEXT_LENGTH) return `is ${value.length} characters long; at most ${MAX_TEXT_LENGTH}`;
  return undefined;
}

function describeType(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `${typeof v} ${JSON.stringify(v)}`;
}

function unknownFields(p: Problems, path: Path, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) p.add([...path, key], `unknown field (expected one of: ${allowed.join(', ')})`);
  }
}

function str(p: Problems, obj: Record<string, unknown>, path: Path, key: string, opts: { required?: boolean; re?: RegExp; reText?: string } = {}): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (opts.required) p.add([...path, key], 'is required');
    return undefined;
  }
  const problem = textProblem(v, 'a string');
  if (problem) return void p.add([...path, key], problem);
  if (opts.re && !opts.re.test(v as string)) return void p.add([...path, key], `must match ${opts.reText ?? opts.re.source}`);
  return v as string;
}

function date(p: Problems, obj: Record<string, unknown>, path: Path, key: string, required = false): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) p.add([...path, key], 'is required (a date, YYYY-MM-DD)');
    return undefined;
  }
  if (!isIsoDate(v)) return void p.add([...path, key], `must be a date YYYY-MM-DD, got ${describeType(v)}`);
  return v;
}

/** The most days any setting counts (a rotation period, a key's age, a horizon): 100 years. */
export const MAX_DAYS = 36_500;

function int(p: Problems, obj: Record<string, unknown>, path: Path, key: string, min: number, fallback?: number, max = MAX_DAYS): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) return void p.add([...path, key], `must be a whole number >= ${min}`), fallback;
  // every reader does date arithmetic with it: a number past any date is refused here, never met there
  if (v > max) return void p.add([...path, key], `must be at most ${max}, got ${v}`), fallback;
  return v;
}

function list(p: Problems, obj: Record<string, unknown>, path: Path, key: string, required = false): unknown[] {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) p.add([...path, key], 'is required (a list)');
    return [];
  }
  if (!Array.isArray(v)) return p.add([...path, key], `must be a list, got ${describeType(v)}`), [];
  return v;
}

function stringList(p: Problems, obj: Record<string, unknown>, path: Path, key: string, re?: RegExp, required = false): string[] {
  const out: string[] = [];
  list(p, obj, path, key, required).forEach((item, i) => {
    const problem = textProblem(item, 'a string');
    if (problem) p.add([...path, key, i], problem);
    else if (re && !re.test(item as string)) p.add([...path, key, i], `must match ${re.source}`);
    else out.push(item as string);
  });
  return out;
}

// ---------------------------------------------------------------- infra.yml

function validatePolicy(p: Problems, raw: unknown): Policy {
  const policy: Policy = structuredClone(DEFAULT_POLICY);
  if (raw === undefined || raw === null) return policy;
  if (!isObject(raw)) return p.add(['policy'], 'must be a mapping'), policy;
  unknownFields(p, ['policy'], raw, ['ssh', 'tokens', 'audit', 'vpn', 'changes', 'certs']);
  const section = (name: string, allowed: string[]): Record<string, unknown> => {
    const s = raw[name];
    if (s === undefined || s === null) return {};
    if (!isObject(s)) return p.add(['policy', name], 'must be a mapping'), {};
    unknownFields(p, ['policy', name], s, allowed);
    return s;
  };
  const ssh = section('ssh', ['allowed_types', 'min_rsa_bits', 'max_age_days', 'vpn_only_hosts', 'host']);
  if (ssh.allowed_types !== undefined) {
    const types = stringList(p, ssh, ['policy', 'ssh'], 'allowed_types');
    types.forEach((t, i) => {
      if (t === 'dsa') p.add(['policy', 'ssh', 'allowed_types', i], 'dsa is never allowed (OpenSSH deprecated it as insecure)');
      else if (!(KEY_FAMILIES as readonly string[]).includes(t)) p.add(['policy', 'ssh', 'allowed_types', i], `unknown key type "${t}" (known: ${KEY_FAMILIES.join(', ')})`);
    });
    policy.ssh.allowed_types = types.filter((t) => (KEY_FAMILIES as readonly string[]).includes(t));
  }
  policy.ssh.min_rsa_bits = int(p, ssh, ['policy', 'ssh'], 'min_rsa_bits', 1024, policy.ssh.min_rsa_bits, 16384)!;
  policy.ssh.max_age_days = int(p, ssh, ['policy', 'ssh'], 'max_age_days', 1, policy.ssh.max_age_days)!;
  const vpnOnlyHosts = str(p, ssh, ['policy', 'ssh'], 'vpn_only_hosts');
  if (vpnOnlyHosts !== undefined) policy.ssh.vpn_only_hosts = vpnOnlyHosts;
  if (ssh.host !== undefined) policy.ssh.host = validateSshHostPolicy(p, ssh.host);
  const vpn = section('vpn', ['idle_days']);
  policy.vpn = { idle_days: int(p, vpn, ['policy', 'vpn'], 'idle_days', 1, DEFAULT_POLICY.vpn!.idle_days)! };
  const tokens = section('tokens', ['rotate_every_days']);
  policy.tokens.rotate_every_days = int(p, tokens, ['policy', 'tokens'], 'rotate_every_days', 1, policy.tokens.rotate_every_days)!;
  const audit = section('audit', ['min_members_per_host', 'horizon_days']);
  policy.audit.min_members_per_host = int(p, audit, ['policy', 'audit'], 'min_members_per_host', 1, policy.audit.min_members_per_host)!;
  policy.audit.horizon_days = int(p, audit, ['policy', 'audit'], 'horizon_days', 0, policy.audit.horizon_days)!;
  if (raw.changes !== undefined && raw.changes !== null) {
    const changes = section('changes', ['two_admins', 'require_signed']);
    policy.changes = {};
    for (const flag of ['two_admins', 'require_signed'] as const) {
      if (changes[flag] === undefined) continue;
      if (typeof changes[flag] !== 'boolean') p.add(['policy', 'changes', flag], 'must be true or false');
      else policy.changes[flag] = changes[flag];
    }
  }
  policy.certs = validateCertPolicy(p, raw.certs);
  return policy;
}

function validateGrant(p: Problems, raw: unknown, i: number, envNames: string[]): Grant | undefined {
  const path = ['access', i];
  if (!isObject(raw)) return void p.add(path, 'must be a mapping with groups, hosts and user');
  unknownFields(p, path, raw, ['groups', 'hosts', 'user', 'vpn_only', 'environments']);
  const groups = stringList(p, raw, path, 'groups', GROUP_RE, true);
  if (Array.isArray(raw.groups) && raw.groups.length === 0) p.add([...path, 'groups'], 'must name at least one group');
  const hosts = str(p, raw, path, 'hosts', { required: true });
  const user = str(p, raw, path, 'user', { required: true, re: UNIX_USER_RE, reText: 'a Unix user name (lowercase letters, digits, _ and -)' });
  if (raw.vpn_only !== undefined && typeof raw.vpn_only !== 'boolean') p.add([...path, 'vpn_only'], 'must be true or false');
  let environments: string[] | undefined;
  if (raw.environments !== undefined) {
    environments = stringList(p, raw, path, 'environments');
    environments.forEach((e, j) => {
      if (!envNames.includes(e)) p.add([...path, 'environments', j], `no environment "${e}" in environments (known: ${envNames.join(', ') || 'none'})`);
    });
  }
  if (!hosts || !user) return undefined;
  return { groups, hosts, user, ...(raw.vpn_only === true ? { vpn_only: true } : {}), ...(environments ? { environments } : {}) };
}

/** Shapes only; what the values mean (ranges, overlaps, endpoint, keys) is wireguard.validateNetwork's. */
function shapeNetwork(p: Problems, name: string, raw: unknown): VpnNetwork | undefined {
  const path = ['vpn', name];
  if (!/^[a-z][a-z0-9_-]{0,14}$/.test(name)) p.add(path, 'network names are lowercase letters, digits, _ and -, at most 15 characters (they become interface names)');
  if (!isObject(raw)) return void p.add(path, 'must be a mapping');
  unknownFields(p, path, raw, ['ipv4', 'ipv6', 'endpoint', 'server_public_key', 'reserved', 'dns', 'allowed_ips', 'keepalive', 'mtu', 'servers']);
  const ipv4 = str(p, raw, path, 'ipv4');
  const ipv6 = str(p, raw, path, 'ipv6');
  const endpoint = str(p, raw, path, 'endpoint', { required: true });
  const key = str(p, raw, path, 'server_public_key', { required: true });
  const servers = str(p, raw, path, 'servers', { required: true });
  const reserved = stringList(p, raw, path, 'reserved');
  const dns = raw.dns === undefined ? undefined : stringList(p, raw, path, 'dns');
  const allowed = raw.allowed_ips === undefined ? [ipv4, ipv6].filter((x): x is string => !!x) : stringList(p, raw, path, 'allowed_ips');
  const keepalive = int(p, raw, path, 'keepalive', 0);
  const mtu = int(p, raw, path, 'mtu', 576);
  if (!endpoint || !key || !servers) return undefined;
  return {
    name,
    ...(ipv4 ? { ipv4 } : {}),
    ...(ipv6 ? { ipv6 } : {}),
    endpoint,
    server_public_key: key,
    reserved,
    ...(dns ? { dns } : {}),
    allowed_ips: allowed,
    ...(keepalive !== undefined ? { keepalive } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    servers,
  };
}

/** "vpn.meet.reserved[0]" -> ['vpn', 'meet', 'reserved', 0] */
function pathOfField(field: string): Path {
  return field.split('.').flatMap((part) => {
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) return [part];
    const idx = [...m[2].matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
    return [...(m[1] ? [m[1]] : []), ...idx];
  });
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function validateConfig(raw: unknown, file: string, locate?: Locate): { config?: InfraConfig; problems: Problem[] } {
  const p = new Problems(file, locate);
  if (!isObject(raw)) {
    p.add([], raw === null || raw === undefined ? 'the file is empty: it needs at least org, admins and environments' : 'must be a mapping');
    return { problems: p.list };
  }
  unknownFields(p, [], raw, ['org', 'admins', 'environments', 'policy', 'access', 'vpn', 'render']);
  const org = str(p, raw, [], 'org', { required: true });
  const admins = stringList(p, raw, [], 'admins', HANDLE_RE);
  const environments = dict<string>(); // null prototype: an environment may be called `constructor`
  if (raw.environments === undefined || raw.environments === null) p.add(['environments'], 'is required (environment name -> inventory folder)');
  else if (!isObject(raw.environments)) p.add(['environments'], 'must be a mapping of environment name -> inventory folder');
  else {
    for (const [name, folder] of Object.entries(raw.environments)) {
      if (!ENV_RE.test(name)) p.add(['environments', name], 'environment names are lowercase letters, digits, _ and -');
      const problem = textProblem(folder, 'a folder path');
      if (problem) p.add(['environments', name], problem);
      else if ((folder as string).startsWith('/') || (folder as string).split(/[\\/]/).includes('..'))
        p.add(['environments', name], 'must be a folder inside the registry (relative, without ..)');
      else environments[name] = (folder as string).replace(/\/+$/, '');
    }
  }
  const policy = validatePolicy(p, raw.policy);
  const access = list(p, raw, [], 'access')
    .map((g, i) => validateGrant(p, g, i, Object.keys(environments)))
    .filter((g): g is Grant => !!g);
  const vpn = dict<VpnNetwork>(); // null prototype: a network may be called `toString`
  if (raw.vpn !== undefined && raw.vpn !== null) {
    if (!isObject(raw.vpn)) p.add(['vpn'], 'must be a mapping of network name -> network');
    else
      for (const [name, net] of Object.entries(raw.vpn)) {
        const n = shapeNetwork(p, name, net);
        if (n) vpn[name] = n;
      }
  }
  for (const net of Object.values(vpn))
    for (const problem of validateNetwork(net, Object.values(vpn))) p.add(pathOfField(problem.field), problem.message);
  let render: InfraConfig['render'];
  if (raw.render !== undefined && raw.render !== null) {
    if (!isObject(raw.render)) p.add(['render'], 'must be a mapping');
    else {
      unknownFields(p, ['render'], raw.render, ['compat']);
      if (raw.render.compat !== undefined && raw.render.compat !== 'provision_ssh_keys') p.add(['render', 'compat'], 'the only compatibility shape is provision_ssh_keys');
      else if (raw.render.compat) render = { compat: 'provision_ssh_keys' };
    }
  }
  if (p.list.length || !org) return { problems: p.list };
  return { config: { org, admins, environments, policy, access, vpn, ...(render ? { render } : {}) }, problems: p.list };
}

// ---------------------------------------------------------------- member.yml

const MEMBER_FIELDS = ['name', 'kind', 'org', 'email', 'github', 'gitlab', 'status', 'departed', 'groups', 'ssh_keys', 'vpn_peers', 'tokens', 'certificates'];

function validateKey(p: Problems, raw: unknown, path: Path): { entry: SshKeyEntry; summary: KeySummary } | undefined {
  if (!isObject(raw)) return void p.add(path, 'must be a mapping with name, key and added');
  unknownFields(p, path, raw, ['name', 'key', 'added', 'expires', 'source']);
  const name = str(p, raw, path, 'name', { required: true, re: NAME_RE, reText: 'letters, digits, . _ - (at most 64)' });
  const added = date(p, raw, path, 'added', true);
  const expires = date(p, raw, path, 'expires');
  const source = str(p, raw, path, 'source');
  let key: string | undefined;
  let summary: KeySummary | undefined;
  if (raw.key === undefined || raw.key === null) p.add([...path, 'key'], 'is required');
  else if (typeof raw.key !== 'string') p.add([...path, 'key'], 'must be one public key line: type base64 [comment]');
  else {
    try {
      summary = summaryOf(parsePublicKey(raw.key));
      key = raw.key.trim();
    } catch (e) {
      p.add([...path, 'key'], errorText(e));
    }
  }
  if (!name || !key || !added || !summary) return undefined;
  return { entry: { name, key, added, ...(expires ? { expires } : {}), ...(source ? { source } : {}) }, summary };
}

function validatePeer(p: Problems, raw: unknown, path: Path, handle: string): VpnPeer | undefined {
  if (!isObject(raw)) return void p.add(path, 'must be a mapping with device, network, public_key, addresses and added');
  unknownFields(p, path, raw, ['device', 'network', 'public_key', 'addresses', 'added']);
  const device = str(p, raw, path, 'device', { required: true, re: NAME_RE, reText: 'letters, digits, . _ - (no spaces or /)' });
  const network = str(p, raw, path, 'network', { required: true });
  const publicKey = str(p, raw, path, 'public_key', { required: true });
  if (publicKey !== undefined) {
    try {
      checkWgKey(publicKey, 'public_key');
    } catch (e) {
      p.add([...path, 'public_key'], errorText(e));
    }
  }
  const rejoin = `remove the peer and enrol the device again: \`infra vpn leave ${shellQuote(handle)} --device ${shellQuote(device ?? 'DEVICE')}\`, then \`infra vpn join ${shellQuote(handle)} --device ${shellQuote(device ?? 'DEVICE')}\``;
  const addresses = stringList(p, raw, path, 'addresses', undefined, true);
  // An empty list passed `check` and then failed the server playbook's assertion for every peer on the server.
  if (Array.isArray(raw.addresses) && raw.addresses.length === 0) p.add([...path, 'addresses'], `must hold the peer's address (one per address family of its network): ${rejoin}`);
  const familyAt = new Map<number, number>();
  addresses.forEach((a, i) => {
    let c: Cidr;
    try {
      c = parseCidr(a, { strict: false });
    } catch (e) {
      return void p.add([...path, 'addresses', i], errorText(e));
    }
    if (c.prefix !== c.bits) return void p.add([...path, 'addresses', i], `a peer address is a single host (/${c.bits}), got ${a}`);
    // Refused rather than accepted: infra writes only the canonical form (vpn join, render), so another
    // spelling is a hand edit, and two spellings of one address defeat review by eye and by grep.
    const canonical = formatCidr(c);
    if (canonical !== a) p.add([...path, 'addresses', i], `write ${canonical}: the same address in the one form infra writes and compares`);
    const first = familyAt.get(c.family);
    if (first !== undefined) p.add([...path, 'addresses', i], `a second IPv${c.family} address (after ${addresses[first]}): a peer has one address per family`);
    else familyAt.set(c.family, i);
  });
  const added = date(p, raw, path, 'added', true);
  if (!device || !network || !publicKey || !added) return undefined;
  return { device, network, public_key: publicKey, addresses, added };
}

function validateConsumer(p: Problems, raw: unknown, path: Path): TokenConsumer | undefined {
  const forms = Object.values(CONSUMER_FORMS).join(', ');
  if (!isObject(raw)) return void p.add(path, `must be a mapping with one of ${CONSUMER_KINDS.join(', ')} (CLI forms: ${forms})`);
  const keys = Object.keys(raw);
  if (keys.length !== 1 || !(CONSUMER_KINDS as readonly string[]).includes(keys[0]))
    return void p.add(path, `must have exactly one of ${CONSUMER_KINDS.join(', ')}`);
  const kind = keys[0] as ConsumerKind;
  const inner = raw[kind];
  const ipath = [...path, kind];
  if (!isObject(inner)) return void p.add(ipath, 'must be a mapping');
  const fields = CONSUMER_FORMS[kind].split(':').slice(1);
  const names: Record<string, string> = { 'OWNER/REPO': 'repo', ENVIRONMENT: 'environment', NAME: 'name', ORG: 'org', ENV: 'environment', GROUP: 'group', VAR: 'var' };
  const allowed = fields.map((f) => names[f]);
  unknownFields(p, ipath, inner, allowed);
  const values: Record<string, string> = {};
  for (const f of allowed) {
    const v = str(p, inner, ipath, f, { required: true });
    if (v !== undefined) values[f] = v;
  }
  if (Object.keys(values).length !== allowed.length) return undefined;
  const consumer = { [kind]: values } as unknown as TokenConsumer;
  const problems = consumerProblems(consumer);
  for (const problem of problems) p.add([...ipath, problem.field], problem.message);
  return problems.length ? undefined : consumer;
}

/** An http(s) URL without credentials, query or fragment; plain http only on the loopback (local test servers). */
function homeserverProblem(value: string): string | undefined {
  // The URL parser drops or percent-encodes what it does not want, but the text as written is what infra
  // shows: a bidi override or look-alike in it would reach the terminal.
  if (!/^[\x21-\x7e]+$/.test(value)) return 'must be a URL of printable ASCII (no spaces or invisible characters; a non-ASCII host in its xn-- form)';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be the homeserver URL, e.g. https://matrix.example';
  }
  if (url.username || url.password) return 'must not hold a user name or password';
  if (url.search || url.hash) return 'must not have a query or fragment';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) return undefined;
  return 'must be an https:// URL';
}

function validatePending(p: Problems, raw: unknown, path: Path, consumers: TokenConsumer[]): PendingRotation | undefined {
  if (!isObject(raw)) return void p.add(path, 'must be a mapping with started_at, started_by and left');
  unknownFields(p, path, raw, ['started_at', 'started_by', 'left']);
  const startedAt = date(p, raw, path, 'started_at', true);
  const startedBy = str(p, raw, path, 'started_by', { required: true, re: HANDLE_RE, reText: 'a member handle' });
  const known = new Set(consumers.map(consumerKey));
  const seen = new Set<string>();
  const left: string[] = [];
  list(p, raw, path, 'left', true).forEach((item, i) => {
    const problem = textProblem(item, 'a consumer in CLI form');
    if (problem) return p.add([...path, 'left', i], problem);
    let consumer: TokenConsumer;
    try {
      consumer = parseConsumer(item as string, 'pending consumer');
    } catch (e) {
      return p.add([...path, 'left', i], errorText(e));
    }
    const key = consumerKey(consumer);
    if (!known.has(key)) return p.add([...path, 'left', i], `${formatConsumer(consumer)} is not among this token's consumers`);
    if (seen.has(key)) return p.add([...path, 'left', i], `${formatConsumer(consumer)} is listed twice`);
    seen.add(key);
    left.push(item as string);
  });
  if (!startedAt || !startedBy) return undefined;
  return { started_at: startedAt, started_by: startedBy, left };
}

const TOKEN_FIELDS = ['name', 'kind', 'rotate_every_days', 'rotated_at', 'rotated_by', 'expires_at', 'homeserver', 'readable_by', 'consumers', 'pending'];

function validateToken(p: Problems, raw: unknown, path: Path): TokenEntry | undefined {
  if (!isObject(raw)) return void p.add(path, 'must be a mapping with name, kind and consumers');
  unknownFields(p, path, raw, TOKEN_FIELDS);
  const name = str(p, raw, path, 'name', { required: true, re: NAME_RE });
  const kind = str(p, raw, path, 'kind', { required: true });
  if (kind && !(TOKEN_KINDS as readonly string[]).includes(kind)) p.add([...path, 'kind'], `must be one of ${TOKEN_KINDS.join(', ')}`);
  const every = int(p, raw, path, 'rotate_every_days', 1);
  const rotatedAt = date(p, raw, path, 'rotated_at');
  const rotatedBy = str(p, raw, path, 'rotated_by', { re: HANDLE_RE });
  const expiresAt = date(p, raw, path, 'expires_at');
  if (expiresAt && kind !== 'github') p.add([...path, 'expires_at'], 'only github tokens have expires_at (GitHub reports it)');
  const homeserver = str(p, raw, path, 'homeserver');
  if (homeserver !== undefined) {
    const problem = kind === 'matrix' ? homeserverProblem(homeserver) : 'only matrix tokens have a homeserver';
    if (problem) p.add([...path, 'homeserver'], problem);
  } else if (kind === 'matrix' && raw.homeserver === undefined) p.add([...path, 'homeserver'], 'is required for a matrix token (e.g. https://matrix.example)');
  const readableBy = raw.readable_by === undefined ? undefined : stringList(p, raw, path, 'readable_by', HANDLE_RE);
  const rawReaders = Array.isArray(raw.readable_by) ? raw.readable_by.map(String) : [];
  duplicates(rawReaders).forEach((i) => p.add([...path, 'readable_by', i], `${rawReaders[i]} is listed twice`));
  const consumers: TokenConsumer[] = [];
  const consumerKeys: string[] = [];
  list(p, raw, path, 'consumers').forEach((c, i) => {
    const consumer = validateConsumer(p, c, [...path, 'consumers', i]);
    if (!consumer) return;
    if (consumerKeys.includes(consumerKey(consumer))) return p.add([...path, 'consumers', i], `${formatConsumer(consumer)} is listed twice`);
    consumerKeys.push(consumerKey(consumer));
    consumers.push(consumer);
  });
  const pending = raw.pending === undefined || raw.pending === null ? undefined : validatePending(p, raw.pending, [...path, 'pending'], consumers);
  if (!name || !kind || !(TOKEN_KINDS as readonly string[]).includes(kind)) return undefined;
  return {
    name,
    kind: kind as TokenEntry['kind'],
    ...(every !== undefined ? { rotate_every_days: every } : {}),
    ...(rotatedAt ? { rotated_at: rotatedAt } : {}),
    ...(rotatedBy ? { rotated_by: rotatedBy } : {}),
    ...(expiresAt && kind === 'github' ? { expires_at: expiresAt } : {}),
    ...(homeserver && kind === 'matrix' ? { homeserver: homeserver.replace(/\/+$/, '') } : {}),
    ...(readableBy ? { readable_by: readableBy } : {}),
    consumers,
    ...(pending ? { pending } : {}),
  };
}

/** `keys` (with `member`): each of the member's ssh_keys parsed, in the same order (see key-summary.ts). */
export function validateMember(handle: string, raw: unknown, file: string, locate?: Locate, hasPgp = false): { member?: Member; keys?: KeySummary[]; problems: Problem[] } {
  const p = new Problems(file, locate);
  if (!HANDLE_RE.test(handle)) p.add([], `the folder name "${handle}" is not a valid handle (lowercase letter first, then a-z 0-9 -, at most 32)`);
  if (!isObject(raw)) {
    p.add([], raw === null || raw === undefined ? 'the file is empty: it needs at least name, kind, org and status' : 'must be a mapping');
    return { problems: p.list };
  }
  unknownFields(p, [], raw, MEMBER_FIELDS);
  const name = str(p, raw, [], 'name', { required: true });
  const kind = str(p, raw, [], 'kind', { required: true });
  if (kind && kind !== 'human' && kind !== 'bot') p.add(['kind'], 'must be human or bot');
  const org = str(p, raw, [], 'org', { required: true, re: ORG_RE, reText: 'a short lowercase organisation id' });
  const email = str(p, raw, [], 'email', { re: EMAIL_RE, reText: 'an email address' });
  const github = str(p, raw, [], 'github', { re: GITHUB_LOGIN_RE, reText: 'a GitHub login' });
  const gitlab = str(p, raw, [], 'gitlab', { re: GITLAB_USERNAME_RE, reText: 'a GitLab username' });
  const status = str(p, raw, [], 'status', { required: true });
  if (status && status !== 'active' && status !== 'departed') p.add(['status'], 'must be active or departed');
  const departed = date(p, raw, [], 'departed');
  if (status === 'departed' && !departed) p.add(['status'], `a departed member needs a departed date: run \`infra members offboard ${shellQuote(handle)} --date YYYY-MM-DD\``);
  if (status === 'active' && departed) p.add(['departed'], 'is set but status is active');
  const groups = stringList(p, raw, [], 'groups', GROUP_RE);

  // Problems name the entry's index in the file, so an entry that failed validation does not shift the others.
  const keyEntries = list(p, raw, [], 'ssh_keys')
    .map((k, i) => ({ valid: validateKey(p, k, ['ssh_keys', i]), at: i }))
    .filter((k): k is { valid: { entry: SshKeyEntry; summary: KeySummary }; at: number } => !!k.valid);
  const ssh_keys = keyEntries.map((k) => k.valid.entry);
  duplicates(ssh_keys.map((k) => k.name)).forEach((i) => p.add(['ssh_keys', keyEntries[i].at, 'name'], `another key of ${handle} is already named "${ssh_keys[i].name}"`));
  // The same key twice under two names: removing one name would leave the other granting it.
  const keyData = ssh_keys.map((k) => canonicalKeyData(k.key));
  duplicates(keyData).forEach((i) =>
    p.add(
      ['ssh_keys', keyEntries[i].at, 'key'],
      `the same key is already listed as ${handle}/${ssh_keys[keyData.indexOf(keyData[i])].name}: one key, one entry; remove this one with \`infra keys remove ${shellQuote(handle)} ${shellQuote(ssh_keys[i].name)}\``,
    ),
  );
  const vpn_peers = list(p, raw, [], 'vpn_peers')
    .map((v, i) => validatePeer(p, v, ['vpn_peers', i], handle))
    .filter((v): v is VpnPeer => !!v);
  duplicates(vpn_peers.map((v) => `${v.network}/${v.device}`)).forEach((i) =>
    p.add(['vpn_peers', i, 'device'], `device "${vpn_peers[i].device}" is enrolled twice in network ${vpn_peers[i].network}`),
  );
  const tokens = list(p, raw, [], 'tokens')
    .map((t, i) => validateToken(p, t, ['tokens', i]))
    .filter((t): t is TokenEntry => !!t);
  if (kind !== 'bot' && tokens.length) p.add(['tokens'], 'only bots hold tokens (kind: bot)');
  duplicates(tokens.map((t) => t.name)).forEach((i) => p.add(['tokens', i, 'name'], `token "${tokens[i].name}" is listed twice`));
  const certificates = validateCertificates(p, raw.certificates);

  if (p.list.length || !name || !org) return { problems: p.list };
  return {
    member: {
      handle,
      name,
      kind: kind as Member['kind'],
      org,
      ...(email ? { email } : {}),
      ...(github ? { github } : {}),
      ...(gitlab ? { gitlab } : {}),
      status: status as Member['status'],
      ...(departed ? { departed } : {}),
      groups,
      ssh_keys,
      vpn_peers,
      tokens,
      ...(certificates.length ? { certificates } : {}),
      has_pgp: hasPgp,
    },
    keys: keyEntries.map((k) => k.valid.summary),
    problems: [],
  };
}

/** Indexes of the second and later occurrences. */
function duplicates(values: string[]): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  values.forEach((v, i) => (seen.has(v) ? out.push(i) : seen.add(v)));
  return out;
}

// ---------------------------------------------------------------- across files

export interface Located {
  memberFile(handle: string): string;
  memberLine(handle: string, path: Path): number | undefined;
  configFile: string;
  configLine(path: Path): number | undefined;
}

/** What crossCheck compares between members: who already holds a key blob, a WireGuard key, an address. */
interface Owners {
  key: Map<string, string>; // canonical key blob -> handle/key name
  wg: Map<string, string>; // WireGuard public key -> handle/device
  address: Map<string, string>; // addressKey -> handle/device
}

type Push = (handle: string | undefined, path: Path, message: string) => void;

function adminProblems(config: InfraConfig, byHandle: Map<string, Member>, unreadable: ReadonlySet<string>, push: Push): void {
  config.admins.forEach((a, i) => {
    const m = byHandle.get(a);
    if (!m && unreadable.has(a)) return; // its member.yml has problems of its own, reported already
    if (!m) push(undefined, ['admins', i], `no member "${a}": create keys/${a}/member.yml with \`infra members add ${shellQuote(a)}\``);
    else if (m.kind !== 'human') push(undefined, ['admins', i], `${a} is a bot; admins are people who can decrypt tokens`);
  });
}

/** One member's problems against the config and against the members checked before it (`owners`, which it joins). */
function memberCrossProblems(config: InfraConfig, m: Member, owners: Owners, push: Push): void {
  m.tokens.forEach((t, i) =>
    t.consumers.forEach((c, j) => {
      if ('ansible_vault_var' in c && !(c.ansible_vault_var.environment in config.environments))
        push(m.handle, ['tokens', i, 'consumers', j, 'ansible_vault_var', 'environment'], `no environment "${c.ansible_vault_var.environment}" in infra.yml (known: ${Object.keys(config.environments).join(', ') || 'none'})`);
    }),
  );
  m.ssh_keys.forEach((k, i) => {
    const blob = canonicalKeyData(k.key); // a padded re-encoding is the same key
    const other = owners.key.get(blob);
    if (other && other.split('/')[0] !== m.handle)
      push(m.handle, ['ssh_keys', i, 'key'], `the same key is registered as ${other}: one key belongs to one principal; remove one with \`infra keys remove ${shellQuote(m.handle)} ${shellQuote(k.name)}\``);
    else if (!other) owners.key.set(blob, `${m.handle}/${k.name}`);
  });
  m.vpn_peers.forEach((v, i) => {
    const net = ownValue(config.vpn, v.network);
    if (!net) {
      push(m.handle, ['vpn_peers', i, 'network'], `no VPN network "${printable(v.network)}" in infra.yml (known: ${Object.keys(config.vpn).join(', ') || 'none'})`);
      return;
    }
    const other = owners.wg.get(v.public_key);
    if (other) push(m.handle, ['vpn_peers', i, 'public_key'], `the same WireGuard key is used by ${other}: every device needs its own key (\`infra vpn rekey ${shellQuote(m.handle)} --device ${shellQuote(v.device)}\`)`);
    else owners.wg.set(v.public_key, `${m.handle}/${v.device}`);
    for (const problem of peerAddressProblems(net, v, `${m.handle}/${v.device}`, owners.address)) push(m.handle, ['vpn_peers', i, ...problem.path], problem.message);
  });
}

/**
 * Whether one member has no cross-file problem of its own: its tokens' environments, its peers' networks
 * and addresses (range, reserved, none twice within it). What it shares with others is checked apart.
 */
export function crossCheckMemberAlone(config: InfraConfig, m: Member): boolean {
  let clean = true;
  memberCrossProblems(config, m, { key: new Map(), wg: new Map(), address: new Map() }, () => void (clean = false));
  return clean;
}

/** Problems that need the whole registry: admins that do not exist, one key under two principals, peers in unknown networks, shared addresses. */
export function crossCheck(config: InfraConfig, members: Member[], at: Located, unreadable: ReadonlySet<string> = new Set()): Problem[] {
  const out: Problem[] = [];
  const push: Push = (handle, path, message) =>
    out.push(
      handle === undefined
        ? { file: at.configFile, line: at.configLine(path), field: fieldName(path), message }
        : { file: at.memberFile(handle), line: at.memberLine(handle, path), field: fieldName(path), message },
    );
  adminProblems(config, new Map(members.map((m) => [m.handle, m])), unreadable, push);
  const owners: Owners = { key: new Map(), wg: new Map(), address: new Map() };
  for (const m of members) memberCrossProblems(config, m, owners, push);
  return out;
}

/**
 * What crossCheck compares of one member, derived once (and kept in the member cache beside the member):
 * its keys' canonical blobs, and each peer's addresses as addressKey (null where one does not parse).
 */
export interface MemberFacts {
  blobs: string[];
  addresses: Array<Array<string | null>>;
}

export function memberFacts(m: Member): MemberFacts {
  return {
    blobs: m.ssh_keys.map((k) => canonicalKeyData(k.key)),
    addresses: m.vpn_peers.map((p) =>
      p.addresses.map((a) => {
        try {
          const c = peerCidr(a);
          return addressKey({ family: c.family, value: c.network });
        } catch {
          return null;
        }
      }),
    ),
  };
}

/**
 * Whether crossCheck(config, members) finds nothing, given that it found nothing for the same config over
 * the members whose handles are not in `changed` (members may since have been removed, changed or added):
 * only the admins and the changed members are checked, against the others' facts. A problem between two
 * unchanged members would have been found before; any pair with a changed member is compared here. When
 * this says false, run crossCheck for the problems themselves.
 */
export function crossCheckClean(config: InfraConfig, members: Member[], changed: ReadonlySet<string>, factsOf: (m: Member) => MemberFacts): boolean {
  let clean = true;
  const push: Push = () => void (clean = false);
  adminProblems(config, new Map(members.map((m) => [m.handle, m])), new Set(), push);
  // The changed members among themselves, collecting what they hold...
  const owners: Owners = { key: new Map(), wg: new Map(), address: new Map() };
  for (const m of members) if (changed.has(m.handle)) memberCrossProblems(config, m, owners, push);
  if (!clean) return false;
  // ...then every other member's holdings looked up in those (a few entries), nothing collected.
  for (const m of members) {
    if (changed.has(m.handle)) continue;
    const facts = factsOf(m);
    for (const blob of facts.blobs) if (owners.key.has(blob)) return false;
    for (let i = 0; i < m.vpn_peers.length; i++) {
      const v = m.vpn_peers[i];
      if (!ownValue(config.vpn, v.network) || owners.wg.has(v.public_key)) return false;
      for (const key of facts.addresses[i] ?? []) if (key === null || owners.address.has(key)) return false;
    }
  }
  return true;
}

/**
 * Peer addresses parsed once per process: a command that edits the registry checks the whole of it twice
 * (as loaded, and as it would be written), and at 50,000 peers parsing is most of that check.
 */
const peerCidrs = new Map<string, Cidr>();

function peerCidr(text: string): Cidr {
  let c = peerCidrs.get(text);
  if (!c) {
    c = parseCidr(text, { strict: false, allowBareAddress: true });
    if (peerCidrs.size >= 500_000) peerCidrs.clear();
    peerCidrs.set(text, c);
  }
  return c;
}

/** A network's ranges and reserved addresses, parsed once per network object (not once per peer). */
const networkFactsCache = new WeakMap<VpnNetwork, { rangeOf: (family: number) => Cidr | undefined; reserved: Set<string> }>();

function networkFacts(net: VpnNetwork): { rangeOf: (family: number) => Cidr | undefined; reserved: Set<string> } {
  const known = networkFactsCache.get(net);
  if (known) return known;
  const range = (text: string | undefined): Cidr | undefined => {
    if (text === undefined) return undefined;
    try {
      return parseCidr(text, { strict: false });
    } catch {
      return undefined; // the network's own problem, reported on infra.yml
    }
  };
  const v4 = range(net.ipv4);
  const v6 = range(net.ipv6);
  const reserved = new Set<string>();
  for (const r of net.reserved) {
    try {
      const c = parseCidr(r, { strict: false, allowBareAddress: true });
      reserved.add(addressKey({ family: c.family, value: c.network }));
    } catch {
      // reported on infra.yml
    }
  }
  const facts = { rangeOf: (family: number) => (family === 4 ? v4 : v6), reserved };
  networkFactsCache.set(net, facts);
  return facts;
}

/**
 * What `vpn join` guarantees of a peer's addresses, checked for hand edits: each inside the network's
 * range of its family, a host address (not the network or IPv4 broadcast address), not reserved, held by
 * no other peer (compared as addresses, not text), and one for every family the network has.
 * `owners` (addressKey -> `handle/device`) collects the addresses seen so far across calls.
 */
export function peerAddressProblems(net: VpnNetwork, peer: VpnPeer, name: string, owners: Map<string, string>): Array<{ path: Path; message: string }> {
  const out: Array<{ path: Path; message: string }> = [];
  const rejoinText = () => `\`infra vpn leave ${shellQuote(name.split('/')[0])} --device ${shellQuote(peer.device)}\`, then \`infra vpn join ${shellQuote(name.split('/')[0])} --device ${shellQuote(peer.device)}\` gives it free addresses`;
  const { rangeOf, reserved } = networkFacts(net);
  const held = new Set<number>();
  peer.addresses.forEach((a, j) => {
    let c: Cidr;
    try {
      c = peerCidr(a);
    } catch (e) {
      return void out.push({ path: ['addresses', j], message: errorText(e) });
    }
    held.add(c.family);
    const range = rangeOf(c.family);
    const at: Path = ['addresses', j];
    if (!range) return void out.push({ path: at, message: `${a} is IPv${c.family}, but network ${net.name} has no IPv${c.family} range: ${rejoinText()}` });
    const address = { family: c.family, value: c.network };
    if (!cidrContains(range, address)) return void out.push({ path: at, message: `${a} is outside network ${net.name} (${formatCidr(range)}): ${rejoinText()}` });
    const { first, last } = hostRange(range);
    if (c.network < first) return void out.push({ path: at, message: `${a} is the network address of ${formatCidr(range)}, not a host address: ${rejoinText()}` });
    if (c.network > last) return void out.push({ path: at, message: `${a} is the broadcast address of ${formatCidr(range)}, not a host address: ${rejoinText()}` });
    const key = addressKey(address);
    if (reserved.has(key)) return void out.push({ path: at, message: `${a} is reserved in vpn.${net.name}.reserved (never handed to peers): ${rejoinText()}` });
    const holder = owners.get(key);
    if (holder) out.push({ path: at, message: `${a} is also held by ${holder}: ${rejoinText()}` });
    else owners.set(key, name);
  });
  if (peer.addresses.length > 0) {
    for (const family of [4, 6] as const) {
      const range = rangeOf(family);
      if (range && !held.has(family)) out.push({ path: ['addresses'], message: `network ${net.name} has an IPv${family} range (${formatCidr(range)}) but this peer has no IPv${family} address: ${rejoinText()}` });
    }
  }
  return out;
}

/** Policy verdicts on registered keys (type and size); age and expiry are the audit's, judged against a date. */
/** `parseKey`: the load's key summaries when it has them (see keyParser), so 30,000 keys are not parsed again. */
export function policyCheck(config: InfraConfig, members: Member[], at: Located, parseKey: ParseKey = keyParser()): Problem[] {
  const out: Problem[] = [];
  for (const m of members)
    m.ssh_keys.forEach((k, i) => {
      for (const problem of policyProblems(parseKey(k.key), config.policy.ssh))
        out.push({
          file: at.memberFile(m.handle),
          line: at.memberLine(m.handle, ['ssh_keys', i, 'key']),
          field: fieldName(['ssh_keys', i, 'key']),
          message: `${problem}: replace it (\`infra keys add ${shellQuote(m.handle)} NEWKEY.pub\`) and remove this one (\`infra keys remove ${shellQuote(m.handle)} ${shellQuote(k.name)}\`)`,
        });
    });
  return out;
}

export function assertHandle(handle: string): void {
  if (!HANDLE_RE.test(handle))
    throw new InfraError(3, `handle "${printable(handle)}" is not valid: a lowercase letter first, then a-z, 0-9 or -, at most 32 characters`, {
      hint: 'for example: infra members add alice-m --name "Alice Moreau" ...',
    });
}

/** A short, single-line, escape-free rendering of user input for error messages. */
export function printable(value: string, max = 40): string {
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
