/**
 * Validation of one keys/<handle>/member.yml: its SSH keys, VPN peers, tokens (with their consumers and a
 * pending rotation) and certificates, each problem naming the entry's index in the file.
 */
import { shellQuote } from '../lib/shell-quote.js';
import type { Problem } from '../lib/errors.js';
import { summaryOf, type KeySummary } from './key-summary.js';
import { canonicalKeyData, parsePublicKey } from './ssh-key.js';
import { checkWgKey } from './wireguard.js';
import { validateCertificates } from './cert-validate.js';
import { formatCidr, parseCidr, type Cidr } from './ip-alloc.js';
import { CONSUMER_FORMS, CONSUMER_KINDS, consumerKey, consumerProblems, formatConsumer, parseConsumer, type ConsumerKind } from './tokens.js';
import { GITHUB_LOGIN_RE, GITLAB_USERNAME_RE, HANDLE_RE, NAME_RE, type Member, type PendingRotation, type SshKeyEntry, type TokenConsumer, type TokenEntry, type VpnPeer } from './types.js';
import { date, EMAIL_RE, errorText, GROUP_RE, int, isObject, list, ORG_RE, Problems, str, stringList, textProblem, TOKEN_KINDS, unknownFields, type Locate, type Path } from './validate-fields.js';

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
