/**
 * `infra audit` (docs/reference.md, "infra audit"), the pure part: plain data in, findings and the access matrix out.
 * The service gathers the data (registry, inventories, files on disk, a `wg show all dump`, what
 * `--live` read from the hosts); nothing here reads the clock, the disk or the network: `asOf` is
 * the date every judgement is made against.
 *
 * Grant resolution and the render plan are grants.ts's and render.ts's: the audit asks them what
 * render would write and who reaches what, and never computes either a second time.
 */
import { formatProblem, InfraError, type Problem } from '../lib/errors.js';
import { finding, folderOf, keyReader, parsedKeys, type KeyReader } from './audit-common.js';
import { adminFindings, keyFindings, tokenFindings } from './audit-credentials.js';
import { DepartedPlaces } from './audit-departed.js';
import { accessMatrix, busFactorFindings, bypassFindings } from './audit-grants.js';
import { orderFixes, problemsToReport } from './audit-fix-order.js';
import { renderedFolders, shadowFindings, staleRenderJudged } from './audit-rendered.js';
import { addressFindings, dumpFindings, type UnloadedPeer } from './audit-vpn.js';
import { environmentNames, planAccess, type AccessPlan } from './grants.js';
import type { Inventory } from './inventory.js';
import { keyParser, type ParseKey } from './key-summary.js';
import { DEFAULT_POLICY, type InfraConfig, type IsoDate, type Member, type Policy } from './types.js';
import type { Finding } from './vpn-plan.js';
import { noAccessFindings } from './no-access.js';
import { secretFindings, type CatalogEntry } from './secrets.js';
import { liveSshdFindings } from './live-audit.js';
import type { SshdAnswer } from './live-collect.js';
import { certificateFindings } from './cert-audit.js';
import type { RenderedCertificates } from './render-certs.js';
import type { WgDump } from './wg-dump.js';

// The parts of the audit, each in its own file; what other modules use is exported from here as before.
export { keyDateMarks, tokenDueMark, type DateMark } from './audit-credentials.js';
export { variableNames } from './audit-rendered.js';
export { vpnDumpFindings } from './audit-vpn.js';
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
  /** The VPN peers of member files that do not load, read leniently: an address one holds in another form is still compared. */
  unloadedPeers?: readonly UnloadedPeer[];
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
    findings.push(...addressFindings(config, members, input.unloadedPeers));
    findings.push(...bypassFindings(config, input.inventories, environments));
    if (plan) {
      access = accessMatrix(config, input.inventories, plan);
      findings.push(...busFactorFindings(config, access, policy));
      findings.push(...noAccessFindings(config, members, plan, input.inventories).map((f) => finding('no-access', f.subject, f.detail, f.fix)));
    }
    // Render refuses an invalid registry: stale-render is then judged on what loads, and says so (or that it could not).
    if (input.rendered) findings.push(...staleRenderJudged(config, members, input, environments, parseKey, problems));
    findings.push(...shadowFindings(config, input.varFiles ?? [], input.inventoryFolders));
  }

  const departed = new DepartedPlaces(members, readKey);
  if (input.rendered && config) departed.scanRendered(input.rendered, renderedFolders(config, input.inventoryFolders));
  for (const d of input.wgDumps ?? []) findings.push(...dumpFindings(d, config, members, policy, asOf, departed));
  if (input.live && config && plan) findings.push(...liveFindings(input.live, config, members, plan, input.inventoryFolders, departed, readKey, input.registryUserCAs));
  findings.push(...departed.findings(config));

  findings.push(...problemsToReport(problems, findings).map(problemFinding));
  return { findings: sortFindings(orderFixes(findings, problems.length > 0)), access };
}

function loadedEnvironments(config: InfraConfig, inventories: Readonly<Record<string, Inventory>>): string[] {
  return environmentNames(config).filter((e) => inventories[e] !== undefined);
}

// ------------------------------------------------------------------ invalid-registry

function problemFinding(p: Problem): Finding {
  const where = `${p.file}${p.line ? `:${p.line}` : ''}`;
  return finding('invalid-registry', `${where} ${p.field}`, formatProblem(p), `edit ${where} (${p.field}: ${p.message}), then run \`infra check\``);
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
