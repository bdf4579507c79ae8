/**
 * `infra audit` (docs/reference.md, "infra audit"): gathers what the pure audit (src/core/audit.ts) judges — the registry (even an
 * invalid one: what loads is audited, every problem is a finding), the inventories, the files the last
 * render wrote and every other vars file beside them, a saved `wg show all dump`, what `--live` reads
 * from the hosts through Ansible, and with --since the registry's git history.
 */
import path from 'node:path';
import { legacyCacheNote } from '../adapters/derived-state.js';
import { inspectInventories, previousRenders, varsFilesOf } from '../adapters/inventories.js';
import { connectionSources } from '../adapters/vars-files.js';
import { localCommandFindings, localCommandNotice, localCommandSettings } from '../core/local-command-vars.js';
import { knownKeys } from '../adapters/member-facts.js';
import type { Loaded } from '../adapters/registry-load.js';
import { readSecretCatalog } from '../adapters/secret-catalog.js';
import { unloadedPeers } from '../adapters/unloaded-members.js';
import type { RenderedCertificates } from '../core/render-certs.js';
import type { LiveCollector, LiveRequest } from '../adapters/ansible-live.js';
import { auditFindings, liveTargets, SEVERITIES, sortFindings, summarize, type DumpSource, type Finding, type LiveHost, type Severity } from '../core/audit.js';
import type { AuditReport } from '../core/audit-format.js';
import { changesOver } from '../core/changes.js';
import { environmentNames, hostsOf, planAccess, type AccessPlan } from '../core/grants.js';
import type { Inventory } from '../core/inventory.js';
import { futureDateProblems } from '../core/future-dates.js';
import { keyParser, type ParseKey } from '../core/key-summary.js';
import { DEFAULT_POLICY, type InfraConfig, type Member } from '../core/types.js';
import { dueItems } from '../core/audit-due.js';
import { reachEdges } from '../core/audit-reach.js';
import { isIsoDate } from '../core/validate.js';
import { parseWgDump } from '../core/wg-dump.js';
import { askedAddress } from '../core/live-audit.js';
import { vpnRangesOf } from '../core/render.js';
import { checkLiveSettings, userCAs } from './live-settings.js';
import { ExitCode, InfraError, type Problem } from '../lib/errors.js';
import { readArg, today, type Context } from './context.js';
import { shellQuote } from '../lib/shell-quote.js';

export const AUDIT_FORMATS = ['table', 'markdown', 'json'] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

export interface AuditOptions {
  /** Only this environment's hosts (keys, tokens and the registry are judged whatever it is). */
  env?: string;
  /** YYYY-MM-DD: the date every judgement is made against (default today). */
  asOf?: string;
  /** A date YYYY-MM-DD or a git ref: list the access changes since then. */
  since?: string;
  /** low | medium | high: `failed` when a finding is at least this severe. */
  failOn?: string;
  /** Read authorized_keys and WireGuard peers from the hosts, through Ansible. */
  live?: boolean;
  /** With --live: an Ansible pattern limiting the hosts asked. */
  limit?: string;
  /** With --live: hosts asked at once (default the number of hosts, up to 50). */
  forks?: number;
  /** With --live: each host's deadline in seconds (default 10). */
  timeout?: number;
  /** A saved `wg show all dump` (FILE, or - for stdin). */
  wgDump?: string;
  /** table | markdown | json (validated here; the command prints it). */
  format?: string;
}

export interface AuditResult extends AuditReport {
  summary: Record<Severity, number>;
  /** --fail-on's threshold was reached: the command exits 4. */
  failed: boolean;
  /** The format asked for (validated), default table. */
  format: AuditFormat;
  /** Things worth doing that are not findings (an old in-registry cache folder to delete), for stderr. */
  notes?: string[];
}

const DATE_HINT = (flag: string, ctx: Context) => `pass a date YYYY-MM-DD, e.g. --${flag} ${today(ctx)}`;

/** Every flag checked before anything is read: a bad value is invalid input (3), a flag that needs another is a usage error (2). */
function checkOptions(ctx: Context, o: AuditOptions): { format: AuditFormat; failOn?: Severity } {
  if (o.asOf !== undefined && !isIsoDate(o.asOf)) throw new InfraError(ExitCode.invalid, `--as-of ${JSON.stringify(o.asOf)} is not a date YYYY-MM-DD`, { hint: DATE_HINT('as-of', ctx) });
  if (o.failOn !== undefined && !(SEVERITIES as readonly string[]).includes(o.failOn))
    throw new InfraError(ExitCode.invalid, `--fail-on ${JSON.stringify(o.failOn)} is not a severity (low, medium or high)`, { hint: 'infra audit --fail-on high' });
  if (o.format !== undefined && !(AUDIT_FORMATS as readonly string[]).includes(o.format))
    throw new InfraError(ExitCode.invalid, `--format ${JSON.stringify(o.format)} is not one of table, markdown, json`, { hint: 'infra audit --format markdown' });
  // A date-shaped --since must be a real date; anything else is a git ref, resolved later.
  if (o.since !== undefined && (o.since.trim() === '' || (/^\d{4}-\d{2}-\d{2}$/.test(o.since) && !isIsoDate(o.since))))
    throw new InfraError(ExitCode.invalid, `--since ${JSON.stringify(o.since)} is neither a date YYYY-MM-DD nor a git ref`, { hint: 'infra audit --since 2026-01-01 (or a commit, branch or tag)' });
  if (o.limit !== undefined && !o.live) throw new InfraError(ExitCode.usage, '--limit narrows the hosts --live asks, and needs --live', { hint: `infra audit --live --limit ${shellQuote(o.limit)}` });
  checkLiveSettings(o);
  return { format: (o.format as AuditFormat | undefined) ?? 'table', ...(o.failOn ? { failOn: o.failOn as Severity } : {}) };
}

/** The real collector, loaded only when --live is asked for. */
const realCollector: LiveCollector = async (requests, progress, settings) => (await import('../adapters/ansible-live.js')).collectLive(requests, progress, settings);

/** The CAs and KRL render would write now; a CA file render refuses is a problem render reports, not the audit's crash. */
async function certificatesForAudit(ctx: Context, loaded: Loaded): Promise<{ certificates?: RenderedCertificates }> {
  const { renderCertificates } = await import('./certs-render.js');
  try {
    const made = await renderCertificates(ctx, loaded);
    return made ? { certificates: made.rendered } : {};
  } catch (e) {
    if (e instanceof InfraError) return {};
    throw e;
  }
}

export async function runAudit(ctx: Context, options: AuditOptions = {}, collector: LiveCollector = realCollector): Promise<AuditResult> {
  const { format, failOn } = checkOptions(ctx, options);
  const asOf = options.asOf ?? today(ctx);
  const root = await ctx.store.root();
  const inspected = await ctx.store.inspect();
  const partial = inspected.partial;
  const problems: Problem[] = [...inspected.problems];
  const config: InfraConfig | undefined = partial?.registry.config;
  const members: Member[] = partial?.registry.members ?? [];
  if (partial) problems.push(...futureDateProblems(members, partial.located, asOf));

  // Each key as the load already parsed it (the member cache keeps that too), for every check and plan below.
  const parseKey = keyParser(partial ? knownKeys(partial) : new Map());

  let inventories: Record<string, Inventory> = {};
  let folders: Record<string, string> = {};
  if (partial) {
    const inv = await inspectInventories(partial);
    problems.push(...inv.problems);
    ({ inventories, folders } = inv);
  }
  if (options.env !== undefined && config) {
    const known = environmentNames(config);
    if (!known.includes(options.env))
      throw new InfraError(ExitCode.invalid, `no environment "${options.env}" in infra.yml (known: ${known.join(', ') || 'none'})`, { hint: known.length ? `infra audit --env ${shellQuote(known[0])}` : 'add an environment under environments: in infra.yml' });
    inventories = pick(inventories, options.env);
    folders = pick(folders, options.env);
  }
  const folderList = Object.values(folders);

  const wgDumps: DumpSource[] = [];
  if (options.wgDump !== undefined) wgDumps.push({ source: options.wgDump === '-' ? 'stdin' : options.wgDump, dump: parseWgDump(await readArg(ctx, options.wgDump)) });

  let live: LiveHost[] | undefined;
  let localCommand: { findings: Finding[]; notice: string[] } | undefined;
  let registryUserCAs: string[] | undefined;
  if (options.live) {
    if (!config) throw new InfraError(ExitCode.invalid, '--live needs infra.yml to load: it says which hosts to ask', { hint: 'run `infra check`, fix infra.yml, then `infra audit --live`' });
    const requests = liveRequests(root, config, members, inventories, options.limit, parseKey);
    const progress = (line: string) => {
      if (ctx.stderr.isTTY && !ctx.json) ctx.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
    };
    // Before Ansible runs: the connection settings that run a command on this machine (listed, and findings).
    localCommand = await localCommandBeforeLive(root, config, inventories, folders);
    for (const line of localCommand.notice) ctx.stderr.write(`${line}\n`);
    const result = await collector(requests, progress, { ...(options.forks !== undefined ? { forks: options.forks } : {}), ...(options.timeout !== undefined ? { timeoutSeconds: options.timeout } : {}) });
    registryUserCAs = await userCAs(root);
    live = result.live;
    wgDumps.push(...result.dumps);
  }

  // Member files with problems do not load; the addresses their peers hold are still compared (vpn-address-conflict).
  const loadedHandles = new Set(members.map((m) => m.handle));
  const unloaded = problems.flatMap((p) => /^keys\/([^/]+)\/member\.yml$/.exec(p.file)?.[1] ?? []).filter((h) => !loadedHandles.has(h));
  const unloadedPeerList = unloaded.length ? await unloadedPeers(root, unloaded) : [];

  const judgement = auditFindings({
    asOf,
    parseKey,
    config,
    members,
    problems,
    inventories,
    inventoryFolders: folders,
    ...(config ? { rendered: await previousRenders(root, folderList, 'skip'), varFiles: await varsFilesOf(root, folders, inventories) } : {}),
    ...(inspected.loaded ? await certificatesForAudit(ctx, inspected.loaded) : {}),
    wgDumps,
    ...(live ? { live } : {}),
    ...(partial ? { secrets: await readSecretCatalog(root, members) } : {}),
    ...(registryUserCAs ? { registryUserCAs } : {}),
    ...(unloadedPeerList.length ? { unloadedPeers: unloadedPeerList } : {}),
  });
  let findings = judgement.findings;
  const access = judgement.access;

  let changes;
  if (options.since !== undefined) {
    const { registryHistory, uncommittedRegistryFiles } = await import('../adapters/git.js');
    changes = changesOver(await registryHistory(root, options.since));
    // who the vault password and CA keys are encrypted to, commit by commit (docs/reference.md, "What changed since")
    changes.push(...(await (await import('../adapters/secret-history.js')).secretReaderChanges(root, options.since)));
    // Who signed each change and whether the change rules allow it (docs/reference.md, "Signed changes").
    const { judgeSince } = await import('./signed-changes.js');
    const judged = await judgeSince(root, options.since);
    changes = changes.map((c) => ({ ...c, ...judged.of(c.commit) }));
    // Edits of the working tree not committed yet: listed last, each saying it is uncommitted (and never judged as signed).
    const uncommitted = await uncommittedRegistryFiles(root, today(ctx));
    if (uncommitted) changes.push(...changesOver([uncommitted]).map((c) => ({ ...c, uncommitted: true })));
    findings.push(...judged.findings);
    findings.splice(0, findings.length, ...sortFindings(findings));
  }

  if (localCommand?.findings.length) findings = sortFindings([...findings, ...localCommand.findings]);
  // a private key anywhere in the tree is published with the registry (core/private-material.ts)
  const { scanForPrivateKeys } = await import('../adapters/registry-tree.js');
  const { privateKeyFindings } = await import('../core/private-material.js');
  const scan = await scanForPrivateKeys(root);
  if (scan.found.length) findings = sortFindings([...findings, ...privateKeyFindings(scan.found)]);
  const summary = summarize(findings);
  const failed = failOn !== undefined && findings.some((f) => SEVERITIES.indexOf(f.severity) <= SEVERITIES.indexOf(failOn));
  const notes = [await legacyCacheNote(root), scan.truncated].filter((n): n is string => n !== undefined);
  // The Markdown's pictures: what falls due within the horizon, and which groups reach which hosts.
  const due = dueItems({ config, members, asOf, wgDumps });
  const reach = config ? reachEdges(config, inventories) : [];
  const horizon_days = (config?.policy ?? DEFAULT_POLICY).audit.horizon_days;
  return { as_of: asOf, findings, access, ...(changes ? { changes, since: options.since } : {}), due, reach, horizon_days, summary, failed, format, ...(notes.length ? { notes } : {}) };
}

function pick<T>(record: Record<string, T>, key: string): Record<string, T> {
  return Object.hasOwn(record, key) ? { [key]: record[key] } : {};
}

/** One request per environment whose inventory loads: the users to read per host, and the VPN servers there. */
function liveRequests(root: string, config: InfraConfig, members: readonly Member[], inventories: Record<string, Inventory>, limit: string | undefined, parseKey: ParseKey): LiveRequest[] {
  const environments = Object.keys(inventories);
  let plan: AccessPlan | undefined;
  try {
    plan = planAccess(config, members, inventories, environments, parseKey);
  } catch (e) {
    if (!(e instanceof InfraError)) throw e; // the problem is an invalid-registry finding already
  }
  const targets = plan ? liveTargets(plan) : [];
  const vpnRanges = vpnRangesOf(config.vpn);
  return environments.map((environment) => ({
    environment,
    inventoryPath: path.resolve(root, config.environments[environment]),
    targets: targets
      .filter((t) => t.environment === environment)
      .map(({ host, users }) => ({ host, users, addresses: Object.fromEntries(users.map((u) => [u, askedAddress(plan?.get(environment)?.get(host)?.get(u), vpnRanges)])) })),
    vpnServers: [...new Set(Object.values(config.vpn).flatMap((net) => hostsOf(net.servers, inventories[environment])))].sort(),
    ...(limit !== undefined ? { limit } : {}),
  }));
}

/** The inventories' connection settings that run a command on the controller, per environment (see core/local-command-vars.ts). */
async function localCommandBeforeLive(root: string, config: InfraConfig, inventories: Record<string, Inventory>, folders: Record<string, string>): Promise<{ findings: Finding[]; notice: string[] }> {
  const findings: Finding[] = [];
  const notice: string[] = [];
  for (const env of Object.keys(inventories).sort()) {
    if (folders[env] === undefined) continue;
    const settings = localCommandSettings(await connectionSources(root, folders[env], inventories[env], config.environments[env]));
    findings.push(...localCommandFindings(env, settings));
    notice.push(...localCommandNotice(env, settings));
  }
  return { findings, notice };
}
