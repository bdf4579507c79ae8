/**
 * `infra audit` (SPEC §7): gathers what the pure audit (src/core/audit.ts) judges — the registry (even an
 * invalid one: what loads is audited, every problem is a finding), the inventories, the files the last
 * render wrote and every other vars file beside them, a saved `wg show all dump`, what `--live` reads
 * from the hosts through Ansible, and with --since the registry's git history.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { inspectInventories, previousRenders } from '../adapters/inventories.js';
import { knownKeys, type Loaded } from '../adapters/store.js';
import type { RenderedCertificates } from '../core/render-certs.js';
import type { LiveCollector, LiveRequest } from '../adapters/ansible-live.js';
import { auditFindings, liveTargets, SEVERITIES, summarize, variableNames, type DumpSource, type LiveHost, type Severity, type VarFile } from '../core/audit.js';
import type { AuditReport } from '../core/audit-format.js';
import { changesOver } from '../core/changes.js';
import { environmentNames, hostsOf, planAccess, type AccessPlan } from '../core/grants.js';
import type { Inventory } from '../core/inventory.js';
import { keyParser, type ParseKey } from '../core/key-summary.js';
import type { InfraConfig, Member } from '../core/types.js';
import { isIsoDate } from '../core/validate.js';
import { parseWgDump } from '../core/wg-dump.js';
import { ExitCode, InfraError, type Problem } from '../lib/errors.js';
import { readArg, today, type Context } from './context.js';

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
  if (o.limit !== undefined && !o.live) throw new InfraError(ExitCode.usage, '--limit narrows the hosts --live asks, and needs --live', { hint: `infra audit --live --limit ${o.limit}` });
  return { format: (o.format as AuditFormat | undefined) ?? 'table', ...(o.failOn ? { failOn: o.failOn as Severity } : {}) };
}

/** The real collector, loaded only when --live is asked for. */
const realCollector: LiveCollector = async (requests, progress) => (await import('../adapters/ansible-live.js')).collectLive(requests, progress);

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

  // Each key as the load already parsed it (the member cache keeps that too), for every check and plan below.
  const parseKey = keyParser(knownKeys(members));

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
      throw new InfraError(ExitCode.invalid, `no environment "${options.env}" in infra.yml (known: ${known.join(', ') || 'none'})`, { hint: known.length ? `infra audit --env ${known[0]}` : 'add an environment under environments: in infra.yml' });
    inventories = pick(inventories, options.env);
    folders = pick(folders, options.env);
  }
  const folderList = Object.values(folders);

  const wgDumps: DumpSource[] = [];
  if (options.wgDump !== undefined) wgDumps.push({ source: options.wgDump === '-' ? 'stdin' : options.wgDump, dump: parseWgDump(await readArg(ctx, options.wgDump)) });

  let live: LiveHost[] | undefined;
  if (options.live) {
    if (!config) throw new InfraError(ExitCode.invalid, '--live needs infra.yml to load: it says which hosts to ask', { hint: 'run `infra check`, fix infra.yml, then `infra audit --live`' });
    const requests = liveRequests(root, config, members, inventories, options.limit, parseKey);
    const progress = (line: string) => {
      if (ctx.stderr.isTTY && !ctx.json) ctx.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
    };
    const result = await collector(requests, progress);
    live = result.live;
    wgDumps.push(...result.dumps);
  }

  const { findings, access } = auditFindings({
    asOf,
    parseKey,
    config,
    members,
    problems,
    inventories,
    inventoryFolders: folders,
    ...(config ? { rendered: await previousRenders(root, folderList), varFiles: await varFilesUnder(root, folderList) } : {}),
    ...(inspected.loaded ? await certificatesForAudit(ctx, inspected.loaded) : {}),
    wgDumps,
    ...(live ? { live } : {}),
  });

  let changes;
  if (options.since !== undefined) {
    const { registryHistory } = await import('../adapters/git.js');
    changes = changesOver(await registryHistory(root, options.since));
  }

  const summary = summarize(findings);
  const failed = failOn !== undefined && findings.some((f) => SEVERITIES.indexOf(f.severity) <= SEVERITIES.indexOf(failOn));
  return { as_of: asOf, findings, access, ...(changes ? { changes, since: options.since } : {}), summary, failed, format };
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
  return environments.map((environment) => ({
    environment,
    inventoryPath: path.resolve(root, config.environments[environment]),
    targets: targets.filter((t) => t.environment === environment).map(({ host, users }) => ({ host, users })),
    vpnServers: [...new Set(Object.values(config.vpn).flatMap((net) => hostsOf(net.servers, inventories[environment])))].sort(),
    ...(limit !== undefined ? { limit } : {}),
  }));
}

/** Ansible's host_group_vars plugin reads these: files ending .yml, .yaml, .json, or with no extension. */
const VARS_FILE_RE = /(^[^.]+$)|\.(ya?ml|json)$/;

/** Every file under each folder's host_vars/ and group_vars/ with the variables it defines (the audit knows the generated ones). */
async function varFilesUnder(root: string, folders: readonly string[]): Promise<VarFile[]> {
  const out: VarFile[] = [];
  const walk = async (rel: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(path.join(root, rel), { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw e;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (entry.name.startsWith('.')) continue; // Ansible skips hidden files too
      const child = `${rel}/${entry.name}`;
      const stat = await fs.stat(path.join(root, child)).catch(() => undefined); // follows links, as Ansible does
      if (!stat) continue;
      if (stat.isDirectory()) {
        if (depth < 8) await walk(child, depth + 1);
      } else if (stat.isFile() && VARS_FILE_RE.test(entry.name)) {
        out.push({ path: child, variables: variableNames(await fs.readFile(path.join(root, child), 'utf8')) ?? [] });
      }
    }
  };
  for (const folder of [...new Set(folders)].sort()) for (const sub of ['host_vars', 'group_vars']) await walk(`${folder.replace(/\/+$/, '')}/${sub}`, 0);
  return out;
}
