/**
 * `infra audit` (docs/reference.md, "infra audit"), the pure part: plain data in, findings and the access matrix out.
 * The service gathers the data (registry, inventories, files on disk, a `wg show all dump`, what
 * `--live` read from the hosts); nothing here reads the clock, the disk or the network: `asOf` is
 * the date every judgement is made against.
 *
 * Grant resolution and the render plan are grants.ts's and render.ts's: the audit asks them what
 * render would write and who reaches what, and never computes either a second time.
 */
import { shellCommand } from '../lib/shell-quote.js';
import { formatProblem, InfraError, type Problem } from '../lib/errors.js';
import { addDays, dateOfEpochSeconds, daysBetween } from './dates.js';
import { environmentNames, grantCoversEnvironment, hostsOf, planAccess, type AccessPlan } from './grants.js';
import type { Inventory } from './inventory.js';
import { cidrContains, cidrEnd, formatAddress, parseAddress, parseCidr, type Address, type Cidr } from './ip-alloc.js';
import { GENERATED_FILE, planRender, PLAYBOOK_SETTINGS } from './render.js';
import { keyParser, type KeySummary, type ParseKey } from './key-summary.js';
import { policyProblems } from './ssh-key.js';
import { dueSoonDays } from './tokens.js';
import { DEFAULT_POLICY, type InfraConfig, type IsoDate, type Member, type Policy, type TokenEntry } from './types.js';
import { vpnStatus, type Finding } from './vpn-plan.js';
import { noAccessFindings } from './no-access.js';
import { readVarsFile, unreadableVarsFix } from './vars-file.js';
import { secretFindings, type CatalogEntry } from './secrets.js';
import { liveSshdFindings } from './live-audit.js';
import type { SshdAnswer } from './live-collect.js';
import { certificateFindings } from './cert-audit.js';
import type { RenderedCertificates } from './render-certs.js';
import type { WgDump } from './wg-dump.js';

export type { Finding } from './vpn-plan.js';
export type Severity = Finding['severity'];

export const SEVERITIES: readonly Severity[] = ['high', 'medium', 'low'];

/** Every code of docs/reference.md, "infra audit" with its severity (token-expiring is high when past, low when coming up). */
export const CODES = {
  'invalid-registry': 'high',
  'weak-key': 'high',
  'expired-key': 'high',
  'duplicate-key': 'high',
  'departed-access': 'high',
  'stale-render': 'high',
  'shadowed-render': 'high',
  'vpn-bypass': 'high',
  'unknown-key': 'high',
  'missing-key': 'medium',
  'unreachable-host': 'medium',
  'unknown-peer': 'high',
  'token-overdue': 'high',
  'token-expiring': 'high',
  'secret-exposed': 'high', // replaces token-exposed (old member.yml data is still read; the new code is emitted)
  'ca-exposed': 'high',
  'secret-not-readable': 'medium',
  'rotation-incomplete': 'high',
  'vpn-address-conflict': 'high',
  'old-key': 'medium',
  'single-member-host': 'medium',
  'admin-without-pgp': 'medium',
  'no-access': 'medium',
  'idle-peer': 'low',
  'key-expiring': 'low',
  'token-due-soon': 'low',
  'unmanaged-auth': 'high',
  'altered-key': 'high',
  'host-sshd-policy': 'medium',
  'unknown-ca': 'high',
  'cert-long-lived': 'medium',
} as const satisfies Record<string, Severity>;
export type FindingCode = keyof typeof CODES;

/**
 * Token fields of the agreed shape (keys/<bot>/member.yml) that the tokens work adds to TokenEntry;
 * read through this type so the audit compiles before and after that lands.
 */
export interface AuditTokenFields {
  expires_at?: IsoDate;
  readable_by?: string[];
  pending?: { started_at: IsoDate; started_by: string; left: string[] };
}
type AuditToken = TokenEntry & AuditTokenFields;

/** What one host answered to `--live` (the collector runs Ansible; this is its result as data). */
export interface LiveHost {
  environment: string;
  host: string;
  /** Why the host gave no answer: timed out, refused, unknown host key. Absent when it answered. */
  unreachable?: string;
  /** Remote user -> the text of ~user/.ssh/authorized_keys; null when the file does not exist. */
  authorizedKeys?: Readonly<Record<string, string | null>>;
  /** Remote user -> why that user's file could not be read (no such user, permission denied). */
  userErrors?: Readonly<Record<string, string>>;
  /** What sshd trusts there: its settings per user and every file it reads (core/live-collect.ts). */
  sshd?: SshdAnswer;
}

/** One `wg show all dump`, and where it came from (a VPN server's name, or the file given to --wg-dump). */
export interface DumpSource {
  source?: string;
  dump: WgDump;
}

/** Another file in host_vars/ or group_vars/, with the top-level variables it defines. */
export interface VarFile {
  path: string; // relative to the registry root, with /
  variables: readonly string[];
  /** Set when infra cannot tell what the file defines (see core/vars-file.ts): why, and the line when known. */
  unreadable?: string;
  line?: number;
}

export interface AuditInput {
  /** The date every judgement is made against (YYYY-MM-DD). */
  asOf: IsoDate;
  /** infra.yml as validated; undefined when infra.yml itself does not validate. */
  config?: InfraConfig;
  /** The members that validated, sorted by handle (all of them for a valid registry). */
  members: readonly Member[];
  /** Every problem the registry and its inventories have (empty for a valid registry): each is an invalid-registry finding. */
  problems?: readonly Problem[];
  /** Environment -> parsed inventory, for the environments whose inventory loads. */
  inventories: Readonly<Record<string, Inventory>>;
  /** Environment -> the folder its host_vars/ sits in (see adapters/inventories.ts); default the path in infra.yml. */
  inventoryFolders?: Readonly<Record<string, string>>;
  /**
   * The generated files on disk now (`host_vars/<host>/infra.generated.yml` of every environment):
   * relative path -> content; a path not listed is absent. Omit to skip stale-render.
   */
  rendered?: ReadonlyMap<string, string | Uint8Array>;
  /** Every other file in the environments' host_vars/ and group_vars/ (shadowed-render). */
  varFiles?: readonly VarFile[];
  /** Parsed `wg show all dump`s (unknown-peer, idle-peer, departed-access). */
  wgDumps?: readonly DumpSource[];
  /** What `--live` read from each host (unknown-key, missing-key, departed-access, unreachable-host). */
  live?: readonly LiveHost[];
  /** The registry's user CAs (ca/*.pub) as canonical base64: a host trusting one of them is not unmanaged-auth. */
  registryUserCAs?: readonly string[];
  /**
   * Every admin-held secret with who its ciphertext is encrypted to (src/adapters/secret-catalog.ts): judged
   * for secret-exposed, ca-exposed and secret-not-readable. Without it, a token's recorded readable_by alone
   * is judged (secret-exposed).
   */
  secrets?: readonly CatalogEntry[];
  /**
   * Each member key's summary by its text (see key-summary.ts), used by every check here and by the access
   * plan; it should remember what it parsed (keyParser does). Default: keyParser(), each key parsed once.
   */
  parseKey?: ParseKey;
  /** The CAs and KRL render gives reached hosts (see render-certs.ts), for stale-render; absent: the registry has no CA. */
  certificates?: RenderedCertificates;
}

/** One row of the access matrix (docs/reference.md, "infra audit" JSON), with the grants behind it and who of the members is VPN-only. */
export interface AccessMatrixRow {
  environment: string;
  host: string;
  user: string;
  members: string[]; // active members holding a usable key, sorted
  vpn_only: boolean; // every member here reaches it only from the VPN (and, with nobody, every grant is vpn_only)
  vpn_only_members: string[]; // those of `members` whose keys get from="<VPN ranges>" here
  grants: string[]; // the grants giving this user on this host: `access[i]`
}

export interface AuditResult {
  findings: Finding[];
  access: AccessMatrixRow[];
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const severityRank = (s: Severity) => SEVERITIES.indexOf(s);

/** docs/reference.md, "infra audit"'s order: severity (high first), then code, then subject; detail only breaks ties. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || byText(a.code, b.code) || byText(a.subject, b.subject) || byText(a.detail, b.detail));
}

export function summarize(findings: readonly Finding[]): Record<Severity, number> {
  const out: Record<Severity, number> = { high: 0, medium: 0, low: 0 };
  for (const f of findings) out[f.severity]++;
  return out;
}

const finding = (code: FindingCode, subject: string, detail: string, fix: string, severity: Severity = CODES[code]): Finding => ({ code, severity, subject, detail, fix });

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const applyCommand = (folder: string, host?: string, tags?: string) =>
  shellCommand(['ansible-playbook', '-i', folder, 'ansible/apply-access.yml', ...(tags ? ['--tags', tags] : []), ...(host ? ['--limit', host] : [])]);

// ------------------------------------------------------------------ the whole audit

export function auditFindings(input: AuditInput): AuditResult {
  const { config, asOf } = input;
  const policy: Policy = config?.policy ?? DEFAULT_POLICY;
  const members = input.members;
  const findings: Finding[] = [];
  const problems = [...(input.problems ?? [])];
  const parseKey = input.parseKey ?? keyParser();
  const readKey = keyReader(parseKey);

  findings.push(...keyFindings(members, policy, asOf, readKey));
  findings.push(...tokenFindings(members, config, policy, asOf, input.secrets === undefined));
  if (input.secrets) findings.push(...secretFindings(input.secrets, config, members));
  findings.push(...certificateFindings(config, members, asOf));

  let plan: AccessPlan | undefined;
  let access: AccessMatrixRow[] = [];
  if (config) {
    const environments = loadedEnvironments(config, input.inventories);
    try {
      plan = planAccess(config, members, input.inventories, environments, parseKey);
    } catch (e) {
      if (!(e instanceof InfraError)) throw e;
      problems.push({ file: 'infra.yml', field: 'access', message: e.message });
    }
    findings.push(...adminFindings(config, members));
    findings.push(...addressFindings(config, members));
    findings.push(...bypassFindings(config, input.inventories, environments));
    if (plan) {
      access = accessMatrix(config, input.inventories, plan);
      findings.push(...busFactorFindings(config, access, policy));
      findings.push(...noAccessFindings(config, members, plan, input.inventories).map((f) => finding('no-access', f.subject, f.detail, f.fix)));
    }
    // Render refuses an invalid registry, so "what render would write now" exists only for a valid one.
    if (input.rendered && problems.length === 0) {
      try {
        findings.push(...staleRenderFindings(config, members, input, environments, parseKey));
      } catch (e) {
        if (!(e instanceof InfraError)) throw e;
        problems.push({ file: 'infra.yml', field: '(render)', message: e.hint ? `${e.message} (${e.hint})` : e.message });
      }
    }
    findings.push(...shadowFindings(config, input.varFiles ?? [], input.inventoryFolders));
  }

  const departed = new DepartedPlaces(members, readKey);
  if (input.rendered && config) departed.scanRendered(input.rendered, renderedFolders(config, input.inventoryFolders));
  for (const d of input.wgDumps ?? []) findings.push(...dumpFindings(d, config, members, policy, asOf, departed));
  if (input.live && config && plan) findings.push(...liveFindings(input.live, config, members, plan, input.inventoryFolders, departed, readKey, input.registryUserCAs));
  findings.push(...departed.findings(config));

  findings.push(...problems.map(problemFinding));
  return { findings: sortFindings(findings), access };
}

function loadedEnvironments(config: InfraConfig, inventories: Readonly<Record<string, Inventory>>): string[] {
  return environmentNames(config).filter((e) => inventories[e] !== undefined);
}

const folderOf = (config: InfraConfig, env: string, folders?: Readonly<Record<string, string>>) => folders?.[env] ?? config.environments[env];

// ------------------------------------------------------------------ invalid-registry

function problemFinding(p: Problem): Finding {
  const where = `${p.file}${p.line ? `:${p.line}` : ''}`;
  return finding('invalid-registry', `${where} ${p.field}`, formatProblem(p), `edit ${where} (${p.field}: ${p.message}), then run \`infra check\``);
}

// ------------------------------------------------------------------ keys

/** A key entry's summary, undefined when it does not parse (validation reports it: invalid-registry). */
type KeyReader = (entry: { key: string }) => KeySummary | undefined;

function keyReader(parseKey: ParseKey): KeyReader {
  return (entry) => {
    try {
      return parseKey(entry.key);
    } catch {
      return undefined; // a member that loaded has only parseable keys
    }
  };
}

interface ParsedKey {
  member: Member;
  name: string;
  parsed: KeySummary;
}

function parsedKeys(members: readonly Member[], readKey: KeyReader): ParsedKey[] {
  const out: ParsedKey[] = [];
  for (const member of members)
    for (const k of member.ssh_keys) {
      const parsed = readKey(k);
      if (parsed) out.push({ member, name: k.name, parsed });
    }
  return out;
}

/** A date judgement on one key or token: its code, a short note for a table, and the finding's detail. */
export interface DateMark<C extends FindingCode> {
  code: C;
  severity: Severity;
  note: string;
  detail: string;
}

/**
 * expired-key, key-expiring and old-key for one registered key, judged against `asOf`: the audit's findings,
 * and the marks `keys list` and `members show` print.
 */
export function keyDateMarks(k: { added: IsoDate; expires?: IsoDate }, policy: Policy, asOf: IsoDate): Array<DateMark<'expired-key' | 'key-expiring' | 'old-key'>> {
  const out: Array<DateMark<'expired-key' | 'key-expiring' | 'old-key'>> = [];
  if (k.expires !== undefined) {
    const left = daysBetween(asOf, k.expires);
    // expiry-time="YYYYMMDD" means the key stops working as that day begins.
    if (left <= 0) out.push({ code: 'expired-key', severity: CODES['expired-key'], note: `expired ${k.expires}`, detail: `expired on ${k.expires} (${plural(-left, 'day')} ago); sshd refuses it` });
    else if (left <= policy.audit.horizon_days) out.push({ code: 'key-expiring', severity: CODES['key-expiring'], note: `expires in ${plural(left, 'day')}`, detail: `expires on ${k.expires}, in ${plural(left, 'day')}` });
  }
  const age = daysBetween(k.added, asOf);
  if (age > policy.ssh.max_age_days)
    out.push({ code: 'old-key', severity: CODES['old-key'], note: `old: over ${policy.ssh.max_age_days} days`, detail: `added on ${k.added}, ${plural(age, 'day')} ago (policy: at most ${policy.ssh.max_age_days})` });
  return out;
}

/** token-overdue and token-due-soon for one token (by rotated_at and its period), judged against `asOf`. */
export function tokenDueMark(t: Pick<TokenEntry, 'rotated_at' | 'rotate_every_days'>, policy: Policy, asOf: IsoDate): (DateMark<'token-overdue' | 'token-due-soon'> & { due?: IsoDate }) | undefined {
  const every = t.rotate_every_days ?? policy.tokens.rotate_every_days;
  if (t.rotated_at === undefined)
    return { code: 'token-overdue', severity: CODES['token-overdue'], note: 'overdue: never rotated', detail: `no rotated_at: never rotated with infra, so its age is unknown (rotate every ${plural(every, 'day')})` };
  const due = addDays(t.rotated_at, every);
  const left = daysBetween(asOf, due);
  if (left < 0) return { code: 'token-overdue', severity: CODES['token-overdue'], due, note: `overdue by ${plural(-left, 'day')}`, detail: `rotated on ${t.rotated_at}, due on ${due} (${plural(-left, 'day')} ago; every ${plural(every, 'day')})` };
  if (left <= dueSoonDays(policy.audit.horizon_days, every)) return { code: 'token-due-soon', severity: CODES['token-due-soon'], due, note: left === 0 ? 'due today' : `due in ${plural(left, 'day')}`, detail: `rotated on ${t.rotated_at}, due on ${due} (in ${plural(left, 'day')})` };
  return undefined;
}

function keyFindings(members: readonly Member[], policy: Policy, asOf: IsoDate, readKey: KeyReader): Finding[] {
  const out: Finding[] = [];
  for (const member of members) {
    // A departed member's keys grant nothing (render revokes them); their age and strength no longer matter.
    if (member.status !== 'active') continue;
    for (const k of member.ssh_keys) {
      const subject = `${member.handle}/${k.name}`;
      const replace = `\`${shellCommand(['infra', 'keys', 'add', member.handle, 'NEW_KEY.pub'])}\`, then \`${shellCommand(['infra', 'keys', 'remove', member.handle, k.name])}\``;
      const parsed = readKey(k);
      if (!parsed) continue;
      const weak = policyProblems(parsed, policy.ssh);
      if (weak.length)
        out.push(finding('weak-key', subject, `${weak.join('; ')} (${parsed.fingerprint}); it grants nothing until replaced`, shellCommand(['infra', 'keys', 'remove', member.handle, k.name])));
      for (const mark of keyDateMarks(k, policy, asOf)) out.push(finding(mark.code, subject, mark.detail, mark.code === 'expired-key' ? shellCommand(['infra', 'keys', 'remove', member.handle, k.name]) : replace));
    }
  }
  out.push(...duplicateKeyFindings(members, readKey));
  return out;
}

/** One key blob under two principals (departed ones too: a key is one person's, forever). */
function duplicateKeyFindings(members: readonly Member[], readKey: KeyReader): Finding[] {
  const holders = new Map<string, ParsedKey[]>();
  for (const k of parsedKeys(members, readKey)) {
    const blob = k.parsed.base64; // canonical: the bytes, not however the text spelled them
    const list = holders.get(blob);
    if (list) list.push(k);
    else holders.set(blob, [k]);
  }
  const out: Finding[] = [];
  for (const list of holders.values()) {
    const principals = [...new Set(list.map((k) => k.member.handle))];
    if (principals.length < 2) continue;
    const names = list.map((k) => `${k.member.handle}/${k.name}`).sort(byText);
    const keep = names[0];
    const remove = names.filter((n) => n.split('/')[0] !== keep.split('/')[0]);
    out.push(
      finding(
        'duplicate-key',
        list[0].parsed.fingerprint,
        `one key is registered as ${names.join(', ')}: a key belongs to one principal, and whoever holds its private half is both`,
        remove.map((n) => shellCommand(['infra', 'keys', 'remove', ...n.split(/\/(.*)/s, 2)])).join('; '),
      ),
    );
  }
  return out;
}

// ------------------------------------------------------------------ tokens and admins

function tokenFindings(members: readonly Member[], config: InfraConfig | undefined, policy: Policy, asOf: IsoDate, judgeRecord: boolean): Finding[] {
  const out: Finding[] = [];
  const horizon = policy.audit.horizon_days;
  const admins = new Set(config?.admins ?? []);
  const byHandle = new Map(members.map((m) => [m.handle, m]));
  for (const bot of members)
    for (const t of bot.tokens as AuditToken[]) {
      const subject = `${bot.handle}/${t.name}`;
      const rotate = shellCommand(['infra', 'tokens', 'rotate', subject]);
      if (t.pending) {
        const left = t.pending.left.length ? t.pending.left.join(', ') : 'none (only the final step is left)';
        out.push(
          finding(
            'rotation-incomplete',
            subject,
            `a rotation started on ${t.pending.started_at} by ${t.pending.started_by} stopped part-way: consumers still on the old value: ${left}`,
            `${shellCommand(['infra', 'tokens', 'rotate', subject])} --resume --key ADMIN_KEY.asc`,
          ),
        );
      }
      const due = tokenDueMark(t, policy, asOf);
      if (due) out.push(finding(due.code, subject, due.detail, rotate));
      if (t.expires_at !== undefined) {
        const left = daysBetween(asOf, t.expires_at);
        if (left <= 0) out.push(finding('token-expiring', subject, `GitHub says it expired on ${t.expires_at} (${plural(-left, 'day')} ago): its consumers are failing`, rotate, 'high'));
        else if (left <= horizon) out.push(finding('token-expiring', subject, `GitHub says it expires on ${t.expires_at}, in ${plural(left, 'day')}`, rotate, 'low'));
      }
      // With the ciphertexts read (the catalog), secretFindings judges exposure; this is the record alone.
      if (!judgeRecord) continue;
      const exposed = (t.readable_by ?? []).filter((h) => (config && !admins.has(h)) || byHandle.get(h)?.status === 'departed').sort(byText);
      if (exposed.length)
        out.push(
          finding(
            'secret-exposed',
            subject,
            `the current value was encrypted to ${exposed.map((h) => `${h} (${byHandle.get(h)?.status === 'departed' ? `departed ${byHandle.get(h)!.departed}` : 'no longer an admin'})`).join(', ')}, and it has not been rotated since`,
            rotate,
          ),
        );
    }
  return out;
}

function adminFindings(config: InfraConfig, members: readonly Member[]): Finding[] {
  const byHandle = new Map(members.map((m) => [m.handle, m]));
  const out: Finding[] = [];
  for (const admin of config.admins) {
    const m = byHandle.get(admin);
    if (!m || m.has_pgp) continue; // no member at all is invalid-registry
    out.push(
      finding(
        'admin-without-pgp',
        admin,
        `${admin} is an admin but keys/${admin}/pgp.asc is missing, so token values cannot be encrypted to them`,
        `${shellCommand(['infra', 'members', 'edit', admin, '--pgp', `${admin}.asc`])} (exported with \`${shellCommand(['gpg', '--export', '--armor', m.email ?? admin])} > ${shellCommand([`${admin}.asc`])}\`), then \`infra tokens reencrypt\``,
      ),
    );
  }
  return out;
}

// ------------------------------------------------------------------ VPN addresses

function addressFindings(config: InfraConfig, members: readonly Member[]): Finding[] {
  const out: Finding[] = [];
  const holders = new Map<string, { text: string; network: string; owners: string[] }>();
  const readdress = (handle: string, device: string, network: string) =>
    `${shellCommand(['infra', 'vpn', 'leave', handle, '--device', device, '--network', network])}, then \`${shellCommand(['infra', 'vpn', 'join', handle, '--device', device, '--network', network])}\` (a new key and a free address)`;
  for (const net of Object.values(config.vpn)) {
    const ranges = new Map<4 | 6, Cidr>();
    for (const r of [net.ipv4, net.ipv6]) {
      if (r === undefined) continue;
      try {
        const c = parseCidr(r, { strict: false });
        ranges.set(c.family, c);
      } catch {
        // infra.yml's own problem, reported by validation
      }
    }
    const reserved: Address[] = [];
    for (const r of net.reserved) {
      try {
        reserved.push(parseAddress(r.split('/')[0]));
      } catch {
        // reported by validation
      }
    }
    for (const m of members)
      for (const p of m.vpn_peers) {
        if (p.network !== net.name) continue;
        const owner = `${m.handle}/${p.device}`;
        for (const text of p.addresses) {
          let a: Address;
          try {
            a = parseAddress(text.split('/')[0]);
          } catch {
            continue;
          }
          const normal = formatAddress(a.family, a.value);
          const subject = `${net.name}/${normal}`;
          const bad = (why: string) => out.push(finding('vpn-address-conflict', subject, `${owner} holds ${text}, ${why}`, readdress(m.handle, p.device, net.name)));
          const range = ranges.get(a.family);
          if (!range || !cidrContains(range, a)) bad(`outside network ${net.name} (${range ? formatAddress(range.family, range.network) + '/' + range.prefix : `no IPv${a.family} range`})`);
          else if (range.bits - range.prefix > 1 && a.value === range.network) bad(`the network address of ${net.name}`);
          else if (a.family === 4 && range.bits - range.prefix > 1 && a.value === cidrEnd(range)) bad(`the broadcast address of ${net.name}`);
          else if (reserved.some((r) => r.family === a.family && r.value === a.value)) bad(`reserved in ${net.name} (the server's own address)`);
          const key = `${net.name}|${a.family}|${a.value}`;
          const seen = holders.get(key);
          if (seen) seen.owners.push(owner);
          else holders.set(key, { text: normal, network: net.name, owners: [owner] });
        }
      }
  }
  for (const h of holders.values()) {
    const owners = [...new Set(h.owners)].sort(byText);
    if (owners.length < 2) continue;
    const [handle, device] = owners[1].split('/');
    out.push(finding('vpn-address-conflict', `${h.network}/${h.text}`, `${owners.join(' and ')} share the address ${h.text} (compared as addresses, not text)`, readdress(handle, device, h.network)));
  }
  return out;
}

// ------------------------------------------------------------------ grants

/** `hosts` without `reached`: `hosts:!vpnOnly` when that pattern is a plain name, else each host by name. */
function excluding(hosts: string, reached: readonly string[], vpnOnly: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(vpnOnly) ? `${hosts}:!${vpnOnly}` : [hosts, ...reached.map((h) => `!${h}`)].join(':');
}

/** Grant index -> host names it selects, per environment (only grants covering it). */
function grantHosts(config: InfraConfig, inventory: Inventory, environment: string): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  config.access.forEach((grant, i) => {
    if (grantCoversEnvironment(grant, environment)) out.set(i, new Set(hostsOf(grant.hosts, inventory)));
  });
  return out;
}

function bypassFindings(config: InfraConfig, inventories: Readonly<Record<string, Inventory>>, environments: readonly string[]): Finding[] {
  const pattern = config.policy.ssh.vpn_only_hosts;
  if (!pattern) return [];
  const out: Finding[] = [];
  for (const env of environments) {
    const inventory = inventories[env];
    const vpnOnly = new Set(hostsOf(pattern, inventory));
    if (vpnOnly.size === 0) continue;
    for (const [i, hosts] of grantHosts(config, inventory, env)) {
      const grant = config.access[i];
      if (grant.vpn_only) continue;
      const reached = [...hosts].filter((h) => vpnOnly.has(h)).sort(byText);
      if (!reached.length) continue;
      out.push(
        finding(
          'vpn-bypass',
          `access[${i}] in ${env}`,
          `the grant (groups ${grant.groups.join(', ')}, hosts ${JSON.stringify(grant.hosts)}, user ${grant.user}) reaches ${reached.join(', ')} without vpn_only, but policy.ssh.vpn_only_hosts (${JSON.stringify(pattern)}) says they are reached only from the VPN`,
          // Excluding the hosts by name is right whatever the patterns hold: `a:!b:&c` would mean (a - b) & c.
          `in infra.yml, add \`vpn_only: true\` to access[${i}] (or exclude them from its hosts: "${excluding(grant.hosts, reached, pattern)}"), then \`infra render\``,
        ),
      );
    }
  }
  return out;
}

function accessMatrix(config: InfraConfig, inventories: Readonly<Record<string, Inventory>>, plan: AccessPlan): AccessMatrixRow[] {
  const rows: AccessMatrixRow[] = [];
  for (const [environment, hosts] of plan) {
    const selected = grantHosts(config, inventories[environment], environment);
    for (const [host, users] of hosts)
      for (const [user, ua] of users) {
        const grants = [...selected].filter(([i, hs]) => hs.has(host) && config.access[i].user === user).map(([i]) => i);
        const everyKeyVpnOnly = new Map<string, boolean>(); // member -> all their keys here are vpn_only
        for (const g of ua.granted) everyKeyVpnOnly.set(g.member, (everyKeyVpnOnly.get(g.member) ?? true) && g.vpnOnly);
        const members = [...everyKeyVpnOnly.keys()].sort(byText);
        const vpnOnlyMembers = members.filter((m) => everyKeyVpnOnly.get(m));
        rows.push({
          environment,
          host,
          user,
          members,
          vpn_only: members.length ? vpnOnlyMembers.length === members.length : grants.every((i) => config.access[i].vpn_only === true),
          vpn_only_members: vpnOnlyMembers,
          grants: grants.map((i) => `access[${i}]`),
        });
      }
  }
  return rows;
}

/** Hosts some grant selects that fewer than min_members_per_host distinct active members can reach (any user). */
function busFactorFindings(config: InfraConfig, rows: readonly AccessMatrixRow[], policy: Policy): Finding[] {
  const min = policy.audit.min_members_per_host;
  const byHost = new Map<string, { environment: string; host: string; members: Set<string>; grants: Set<string> }>();
  for (const r of rows) {
    const key = `${r.environment}\0${r.host}`;
    let h = byHost.get(key);
    if (!h) byHost.set(key, (h = { environment: r.environment, host: r.host, members: new Set(), grants: new Set() }));
    r.members.forEach((m) => h!.members.add(m));
    r.grants.forEach((g) => h!.grants.add(g));
  }
  const out: Finding[] = [];
  for (const h of byHost.values()) {
    if (h.members.size >= min) continue;
    const groups = [...new Set([...h.grants].flatMap((g) => config.access[Number(/\d+/.exec(g)![0])].groups))].sort(byText);
    const who = h.members.size ? `only ${[...h.members].sort(byText).join(', ')} can reach it` : 'no active member can reach it';
    out.push(
      finding(
        'single-member-host',
        `${h.environment}/${h.host}`,
        `${who} (policy: at least ${min})`,
        `add another active member to ${groups.length === 1 ? 'group' : 'one of the groups'} ${groups.join(', ')} (\`groups:\` in keys/<handle>/member.yml), or grant another group this host in infra.yml \`access:\`, then \`infra render\``,
      ),
    );
  }
  return out;
}

// ------------------------------------------------------------------ rendered files

function renderedFolders(config: InfraConfig, folders?: Readonly<Record<string, string>>): Map<string, string> {
  // host_vars prefix -> the inventory folder (for the apply command)
  const out = new Map<string, string>();
  for (const env of environmentNames(config)) {
    const folder = folderOf(config, env, folders).replace(/\/+$/, '');
    out.set(`${folder}/host_vars/`, folder);
  }
  return out;
}

const decode = (content: string | Uint8Array) => (typeof content === 'string' ? content : new TextDecoder().decode(content));
const sameBytes = (disk: string | Uint8Array, expected: string) =>
  typeof disk === 'string' ? disk === expected : Buffer.from(disk.buffer, disk.byteOffset, disk.byteLength).equals(Buffer.from(expected, 'utf8'));

function staleRenderFindings(config: InfraConfig, members: readonly Member[], input: AuditInput, environments: readonly string[], parseKey: ParseKey): Finding[] {
  const rendered = input.rendered!;
  const previous = new Map<string, string>();
  for (const [p, content] of rendered) previous.set(p, decode(content));
  const plan = planRender({ root: '', config, members: [...members] }, input.inventories as Record<string, Inventory>, previous, {
    environments,
    ...(input.inventoryFolders ? { inventoryFolders: input.inventoryFolders } : {}),
    parseKey,
    ...(input.certificates ? { certificates: input.certificates } : {}),
  });
  const out: Finding[] = [];
  for (const [p, content] of plan.files) {
    const disk = rendered.get(p);
    if (disk === undefined) out.push(finding('stale-render', p, `${p} is missing: render would write it`, 'infra render'));
    else if (!sameBytes(disk, content)) out.push(finding('stale-render', p, `${p} differs from what \`infra render\` would write now (edited by hand, or the registry changed since the last render)`, 'infra render'));
  }
  for (const p of plan.remove) out.push(finding('stale-render', p, `${p} is no longer implied by the registry: render would remove it`, 'infra render'));
  return out;
}

/** The top-level variable names a vars file defines (sorted; merge keys included); undefined when infra cannot read it (see core/vars-file.ts). */
export function variableNames(text: string): string[] | undefined {
  const reading = readVarsFile(text);
  return 'names' in reading ? reading.names : undefined;
}

function shadowFindings(config: InfraConfig, varFiles: readonly VarFile[], folders?: Readonly<Record<string, string>>): Finding[] {
  const out: Finding[] = [];
  const prefixes = renderedFolders(config, folders);
  for (const file of varFiles) {
    if (file.path.endsWith(`/host_vars/${file.path.split('/').at(-2)}/${GENERATED_FILE}`)) continue; // the generated file itself
    if (file.unreadable !== undefined) {
      // Ansible may load what infra cannot read: it could hide an override, so it is reported, never skipped.
      const at = file.line ? `${file.path}:${file.line}` : file.path;
      out.push(finding('shadowed-render', file.path, `${at} ${file.unreadable}; Ansible loads it, so it could override the generated access unseen`, unreadableVarsFix(file.path, file.unreadable)));
      continue;
    }
    const names = file.variables.filter((v) => v.startsWith('infra_') && !PLAYBOOK_SETTINGS.has(v)).sort(byText); // as render refuses them
    if (!names.length) continue;
    const inHostVars = [...prefixes.keys()].some((p) => file.path.startsWith(p));
    const effect = inHostVars
      ? 'Ansible loads host_vars files alphabetically and the last one wins, so it can override the generated file'
      : 'group_vars apply wherever a host has no generated file, granting keys infra does not know about';
    out.push(finding('shadowed-render', file.path, `defines ${names.join(', ')}: ${effect}`, `remove ${names.join(', ')} from ${file.path} (only \`infra render\` writes infra_* variables)`));
  }
  return out;
}

// ------------------------------------------------------------------ departed access, wherever it is

/** Where a departed member's keys and peers still are: rendered files, live hosts, WireGuard dumps. */
class DepartedPlaces {
  readonly keys = new Map<string, { subject: string; handle: string; departed?: string }>(); // fingerprint -> owner
  readonly blobs = new Map<string, string>(); // base64 -> fingerprint
  readonly peers = new Map<string, { subject: string; handle: string; departed?: string; network: string }>(); // wg public key -> owner
  readonly places = new Map<string, { kind: 'key' | 'peer'; subject: string; handle: string; departed?: string; where: Set<string>; folders: Set<string>; networks: Set<string> }>();

  constructor(members: readonly Member[], readKey: KeyReader) {
    for (const m of members) {
      if (m.status !== 'departed') continue;
      for (const k of m.ssh_keys) {
        const parsed = readKey(k);
        if (!parsed) continue;
        this.keys.set(parsed.fingerprint, { subject: `${m.handle}/${k.name}`, handle: m.handle, departed: m.departed });
        this.blobs.set(parsed.base64, parsed.fingerprint);
      }
      for (const p of m.vpn_peers) this.peers.set(p.public_key, { subject: `${m.handle}/${p.device}`, handle: m.handle, departed: m.departed, network: p.network });
    }
  }

  private note(kind: 'key' | 'peer', owner: { subject: string; handle: string; departed?: string }, where: string, extra: { folder?: string; network?: string } = {}): void {
    const id = `${kind}:${owner.subject}`;
    let p = this.places.get(id);
    if (!p) this.places.set(id, (p = { kind, ...owner, where: new Set(), folders: new Set(), networks: new Set() }));
    p.where.add(where);
    if (extra.folder) p.folders.add(extra.folder);
    if (extra.network) p.networks.add(extra.network);
  }

  keyAt(fingerprint: string, where: string, folder: string): boolean {
    const owner = this.keys.get(fingerprint);
    if (owner) this.note('key', owner, where, { folder });
    return !!owner;
  }

  peerAt(publicKey: string, where: string): boolean {
    const owner = this.peers.get(publicKey);
    if (owner) this.note('peer', owner, where, { network: owner.network });
    return !!owner;
  }

  /** Departed keys listed under infra_authorized_keys, departed peers under infra_wireguard_peers. */
  scanRendered(rendered: ReadonlyMap<string, string | Uint8Array>, prefixes: ReadonlyMap<string, string>): void {
    if (this.keys.size === 0 && this.peers.size === 0) return;
    for (const [p, content] of rendered) {
      const folder = [...prefixes].find(([prefix]) => p.startsWith(prefix))?.[1];
      if (folder === undefined) continue;
      const { authorized, peers } = grantingSections(decode(content));
      for (const blob of base64Words(authorized)) {
        const fingerprint = this.blobs.get(blob);
        if (fingerprint) this.keyAt(fingerprint, `${p} (infra_authorized_keys)`, folder);
      }
      for (const key of base64Words(peers)) if (this.peers.has(key)) this.peerAt(key, `${p} (infra_wireguard_peers)`);
    }
  }

  findings(config: InfraConfig | undefined): Finding[] {
    const out: Finding[] = [];
    for (const p of this.places.values()) {
      const since = p.departed ? ` departed on ${p.departed}, but` : ' departed, but';
      const what = p.kind === 'key' ? `their key ${p.subject}` : `their device ${p.subject}`;
      const apply =
        p.kind === 'key'
          ? [...(p.folders.size ? p.folders : new Set(config ? environmentNames(config).map((e) => config.environments[e]) : ['inventories/ENV']))]
              .sort(byText)
              .map((f) => `\`${applyCommand(f, undefined, 'ssh')}\``)
              .join(' and ')
          : `ansible/wireguard.yml on the ${[...p.networks].sort(byText).join(', ')} servers`;
      out.push(finding('departed-access', p.subject, `${p.handle}${since} ${what} is still in: ${[...p.where].sort(byText).join('; ')}`, `infra render, then apply it: ${apply}`));
    }
    return out;
  }
}

/** Every run of base64 long enough to be a key (a WireGuard key is 44 characters, an SSH key blob more). */
function base64Words(text: string): Set<string> {
  return new Set(text.match(/[A-Za-z0-9+/]{40,}={0,2}/g) ?? []);
}

/**
 * The text of the two sections of a generated file that grant something. Line-based: a top-level key
 * starts a section; a departed key's base64 or a peer's public key is looked for within it (both are
 * plain base64, which YAML never escapes or folds).
 */
function grantingSections(text: string): { authorized: string; peers: string } {
  const parts: Record<string, string[]> = {};
  let current = '';
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    if (!/^[\s-]/.test(line)) current = /^['"]?([A-Za-z0-9_]+)/.exec(line)?.[1] ?? '';
    (parts[current] ??= []).push(line);
  }
  return { authorized: (parts.infra_authorized_keys ?? []).join('\n'), peers: (parts.infra_wireguard_peers ?? []).join('\n') };
}

// ------------------------------------------------------------------ wg show all dump

/**
 * unknown-peer, idle-peer and departed-access from one `wg show all dump` (shared with `infra vpn status`):
 * a peer is idle when its last handshake (or, never having one, its enrolment) is idle_days or more before asOf.
 */
export function vpnDumpFindings(source: DumpSource, config: InfraConfig | undefined, members: readonly Member[], asOf: IsoDate): Finding[] {
  const departed = new DepartedPlaces(members, keyReader(keyParser()));
  const out = dumpFindings(source, config, members, config?.policy ?? DEFAULT_POLICY, asOf, departed);
  return sortFindings([...out, ...departed.findings(config)]);
}

function dumpFindings(source: DumpSource, config: InfraConfig | undefined, members: readonly Member[], policy: Policy, asOf: IsoDate, departed: DepartedPlaces): Finding[] {
  const idleDays = policy.vpn?.idle_days ?? DEFAULT_POLICY.vpn!.idle_days;
  const nowSeconds = Date.parse(`${asOf}T00:00:00Z`) / 1000;
  const status = vpnStatus(source.dump, { root: '', config: config ?? { org: '', admins: [], environments: {}, policy, access: [], vpn: {} }, members: [...members] }, nowSeconds);
  const on = source.source ? ` on ${source.source}` : '';
  const prefix = source.source ? `${source.source}:` : '';
  const out: Finding[] = status.findings.filter((f) => f.code === 'unknown-peer').map((f) => ({ ...f, subject: `${prefix}${f.subject}`, detail: `${f.detail}${on}` }));
  const added = new Map<string, string>();
  for (const m of members) for (const p of m.vpn_peers) added.set(p.public_key, p.added);
  for (const p of status.peers) {
    if (p.member_status === 'departed') {
      departed.peerAt(p.public_key, `the WireGuard dump${on} (interface ${p.interface}, last handshake ${p.handshake})`);
      continue;
    }
    const last = p.latest_handshake === null ? undefined : dateOfEpochSeconds(p.latest_handshake);
    const since = last ?? added.get(p.public_key)!;
    const idle = daysBetween(since, asOf);
    if (idle < idleDays) continue;
    out.push(
      finding(
        'idle-peer',
        `${p.member}/${p.device}`,
        `${last ? `last handshake on ${last}` : `no handshake since it was enrolled on ${since}`}, ${plural(idle, 'day')} ago${on} (policy: ${idleDays})`,
        `if the device is gone: ${shellCommand(['infra', 'vpn', 'leave', p.member, '--device', p.device, '--network', p.network])}`,
      ),
    );
  }
  return out;
}

// ------------------------------------------------------------------ --live

/** Which users' authorized_keys `--live` reads on which host: every user some grant gives there. */
export function liveTargets(plan: AccessPlan): Array<{ environment: string; host: string; users: string[] }> {
  const out: Array<{ environment: string; host: string; users: string[] }> = [];
  for (const [environment, hosts] of plan) for (const [host, users] of hosts) out.push({ environment, host, users: [...users.keys()] });
  return out;
}

function liveFindings(
  live: readonly LiveHost[],
  config: InfraConfig,
  members: readonly Member[],
  plan: AccessPlan,
  folders: Readonly<Record<string, string>> | undefined,
  departed: DepartedPlaces,
  readKey: KeyReader,
  registryUserCAs: readonly string[] | undefined,
): Finding[] {
  const owners = new Map<string, string>(); // canonical base64 -> member/key, for the detail of unknown keys
  for (const k of parsedKeys(members, readKey)) owners.set(k.parsed.base64, `${k.member.handle}/${k.name}`);
  return liveSshdFindings({
    live,
    config,
    plan,
    folderOf: (env) => (config.environments[env] ? folderOf(config, env, folders) : `inventories/${env}`),
    owners,
    departedAt: (base64, where, folder) => {
      const fp = departed.blobs.get(base64);
      return fp !== undefined && departed.keyAt(fp, where, folder);
    },
    ...(registryUserCAs ? { registryUserCAs } : {}),
  });
}
