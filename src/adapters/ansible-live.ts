/**
 * `infra audit --live`: what sshd on each host really trusts, read THROUGH ANSIBLE (docs/reference.md,
 * "--live: what it runs"), never by a home-made SSH fan-out. ONE ad-hoc run per environment, every host
 * in parallel (`--forks`, default the number of hosts up to 50), each host under one deadline:
 *
 *   ansible <hosts> -i <inventory> --forks N -T SECONDS -m ansible.builtin.script \
 *     -a "<package>/ansible/infra-live-collect.sh {{ infra_sshd_config | default('-') | quote }} {{ infra_live_args[inventory_hostname] }}" \
 *     -e '{"infra_live_args": {<host>: "<wg|-> <outside address> <user>=<address> ..."}}' \
 *     -e 'ansible_become={{ infra_become | default(true) | bool }}'
 *
 * with ANSIBLE_TIMEOUT (connection, banner included) and ANSIBLE_TASK_TIMEOUT (the script) both SECONDS, so a
 * host that accepts TCP and never answers costs the deadline once, beside the others. The collector runs as
 * root where the inventory lets Ansible become root, exactly as the apply playbook does (`infra_become`).
 *
 * Output comes as JSON lines (ANSIBLE_STDOUT_CALLBACK=ansible.posix.jsonl; ad-hoc runs need
 * ANSIBLE_LOAD_CALLBACK_PLUGINS=1), read as they arrive, so the progress line of each host shows as it answers.
 * src/core/live-collect.ts reads each host's answer strictly (it is hostile input).
 */
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import { ExitCode, InfraError } from '../lib/errors.js';
import type { DumpSource, LiveHost } from '../core/audit.js';
import type { HostAnswer } from '../core/ansible-json.js';
import { oneLine } from '../core/ansible-json.js';
import { parseAuthorizedKeys } from '../core/authorized-keys.js';
import { describeAnswer, JsonlEvents, OUTSIDE_ADDRESS, readCollector } from '../core/live-collect.js';
import { UNIX_USER_RE } from '../core/validate.js';
import { runProgram } from './run-program.js';
import { shellCommand } from '../lib/shell-quote.js';

export interface LiveRequest {
  environment: string;
  /** absolute path given to `ansible -i` (the environment's inventory file or folder) */
  inventoryPath: string;
  /** whose view of sshd to ask for where; `addresses`: user -> the address its members connect from (default OUTSIDE_ADDRESS) */
  targets: Array<{ host: string; users: string[]; addresses?: Readonly<Record<string, string>> }>;
  /** hosts a VPN network's `servers` pattern selects here: add `wg show all dump` there */
  vpnServers: string[];
  /** --limit PATTERN, passed to ansible as --limit */
  limit?: string;
}

export interface LiveResult {
  live: LiveHost[];
  dumps: DumpSource[];
}

/** --forks and --timeout: hosts at once (default the number of hosts, up to 50), and each host's deadline in seconds (default 10). */
export interface LiveSettings {
  forks?: number;
  timeoutSeconds?: number;
}

/** Progress lines (one per host as it answers) go to `progress`; the service prints them on a terminal only. */
export type LiveCollector = (requests: LiveRequest[], progress: (line: string) => void, settings?: LiveSettings) => Promise<LiveResult>;

export interface LiveCollectorOptions {
  /** The deadline of the whole `ansible` run; default: what the per-host deadlines add up to, plus a minute for Ansible itself. */
  timeoutMs?: number;
  /** Added to the environment `ansible` runs in (tests: ANSIBLE_HOME, a control-socket folder). */
  env?: NodeJS.ProcessEnv;
  /** The ansible executable; default `ansible` on the PATH. */
  ansible?: string;
  /** The collector script; default the package's ansible/infra-live-collect.sh. */
  script?: string;
}

export const DEFAULT_LIVE_TIMEOUT_SECONDS = 10;
export const MAX_DEFAULT_FORKS = 50;
/** The whole run's deadline: each wave of hosts may cost two host deadlines and 15 s, plus a minute for Ansible itself. */
export const liveRunDeadlineSeconds = (waves: number, hostTimeoutSeconds: number) => waves * (2 * hostTimeoutSeconds + 15) + 60;
const INSTALL_HINT = 'install Ansible (`apt-get install ansible` or `pipx install ansible-core`), then run `infra audit --live` again';
const COLLECTOR = fileURLToPath(new URL('../../ansible/infra-live-collect.sh', import.meta.url));

/**
 * A host name Ansible's pattern syntax would read as more than that name (a comma splits, `*?[` glob,
 * a leading `!&~` negates, intersects or starts a regex): such a host cannot be asked for exactly.
 */
const PATTERN_SPECIAL_RE = /[,*?[\]]|^[!&~]|^\s|\s$/;
/** Ansible's answer when the pattern and --limit leave no host: not an error, just nothing to read. */
const NO_HOSTS_RE = /leaves us with no hosts to target|No hosts matched/i;
/** What goes into the collector's arguments (templated by Ansible, split by the shell): plain addresses only. */
const ADDRESS_RE = /^[0-9a-fA-F.:]{2,45}$/;

/** Shell quoting for the script path in the module's free-form arguments. */
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function makeLiveCollector(options: LiveCollectorOptions = {}): LiveCollector {
  const ansible = options.ansible ?? 'ansible';
  const script = options.script ?? COLLECTOR;

  async function collectEnvironment(request: LiveRequest, progress: (line: string) => void, settings: LiveSettings, out: LiveResult): Promise<void> {
    const timeout = settings.timeoutSeconds ?? DEFAULT_LIVE_TIMEOUT_SECONDS;
    const usersOf = new Map<string, Map<string, string>>(); // host -> user -> address
    for (const t of request.targets) {
      const users = usersOf.get(t.host) ?? new Map<string, string>();
      for (const u of t.users) users.set(u, t.addresses?.[u] ?? OUTSIDE_ADDRESS);
      usersOf.set(t.host, users);
    }
    const wgHosts = new Set(request.vpnServers);
    for (const h of wgHosts) if (!usersOf.has(h)) usersOf.set(h, new Map());

    const results = new Map<string, LiveHost>();
    const errors = new Map<string, Record<string, string>>(); // host -> user -> why it was not asked
    const done = (host: string, entry: LiveHost, line: string) => {
      results.set(host, entry);
      progress(line);
    };
    const asked: string[] = [];
    const args: Record<string, string> = {};
    for (const [host, users] of [...usersOf].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (PATTERN_SPECIAL_RE.test(host)) {
        const reason = `infra cannot name host ${JSON.stringify(host)} exactly in an Ansible host pattern; check it by hand`;
        done(host, { environment: request.environment, host, unreachable: reason }, `${request.environment}/${host}: unreachable: ${reason}`);
        continue;
      }
      const words = [wgHosts.has(host) ? 'wg' : '-', OUTSIDE_ADDRESS];
      for (const [user, address] of [...users].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        // Module arguments are templated by Ansible and split by the shell: only plain names and addresses go in.
        if (!UNIX_USER_RE.test(user)) (errors.get(host) ?? errors.set(host, {}).get(host)!)[user] = 'not a plain Unix user name, so infra does not ask the host about it';
        else words.push(`${user}=${ADDRESS_RE.test(address) ? address : OUTSIDE_ADDRESS}`);
      }
      args[host] = words.join(' ');
      asked.push(host);
    }
    if (asked.length === 0) return;

    const forks = settings.forks ?? Math.min(asked.length, MAX_DEFAULT_FORKS);
    const waves = Math.ceil(asked.length / forks);
    const runTimeoutMs = options.timeoutMs ?? liveRunDeadlineSeconds(waves, timeout) * 1000;
    const argv = [
      asked.join(','),
      '-i', request.inventoryPath,
      '--forks', String(forks),
      '-T', String(timeout),
      '--task-timeout', String(timeout),
      '-m', 'ansible.builtin.script',
      '-a', `${shellQuote(script)} {{ infra_sshd_config | default('-') | quote }} {{ infra_live_args[inventory_hostname] | default('- ${OUTSIDE_ADDRESS}') }}`,
      '-e', JSON.stringify({ infra_live_args: args }),
      '-e', 'ansible_become={{ infra_become | default(true) | bool }}',
      ...(request.limit !== undefined ? ['--limit', request.limit] : []),
    ];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...options.env,
      ANSIBLE_STDOUT_CALLBACK: 'ansible.posix.jsonl',
      ANSIBLE_LOAD_CALLBACK_PLUGINS: '1',
      // An unknown host key is a finding, never accepted silently, whatever ansible.cfg or the caller's
      // environment says (an env setting beats ansible.cfg). Without a terminal (newSession) ssh cannot ask either.
      ANSIBLE_HOST_KEY_CHECKING: 'True',
      ANSIBLE_TIMEOUT: String(timeout),
      ANSIBLE_TASK_TIMEOUT: String(timeout),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
    };

    const events = new JsonlEvents();
    const decoder = new StringDecoder('utf8');
    const take = (answers: Array<[string, HostAnswer]>) => {
      for (const [host, answer] of answers) {
        if (!usersOf.has(host) || results.has(host)) continue;
        const entry = hostEntry(request.environment, host, answer, wgHosts.has(host), errors.get(host), out);
        done(host, entry.live, entry.line);
      }
    };
    let run;
    try {
      run = await runProgram(ansible, argv, { env, timeoutMs: runTimeoutMs, newSession: true, installHint: INSTALL_HINT, onStdout: (chunk) => take(events.push(decoder.write(chunk))) });
      take(events.push(decoder.end()));
      take(events.end());
    } catch (e) {
      if (!(e instanceof InfraError) || !/did not finish within/.test(e.message)) throw e;
      const reason = `Ansible did not finish within ${Math.round(runTimeoutMs / 1000)}s and was stopped`;
      for (const host of asked) if (!results.has(host)) done(host, { environment: request.environment, host, unreachable: reason }, `${request.environment}/${host}: unreachable: ${reason}`);
      out.live.push(...[...results.values()]);
      return;
    }
    const answeredAny = [...results.keys()].some((h) => asked.includes(h));
    if (!answeredAny && NO_HOSTS_RE.test(run.stderr)) return; // --limit left no host: nothing to read
    if (!answeredAny && run.code !== 0) {
      const error = run.stderr.split('\n').find((l) => /^ERROR!/.test(l));
      throw new InfraError(ExitCode.remote, `ansible could not read the ${request.environment} hosts (exit ${run.code}): ${oneLine(error ?? run.stderr.slice(-300))}`, {
        hint: `check that \`${shellCommand(['ansible', '-i', request.inventoryPath, asked[0] ?? 'all', '-m', 'ansible.builtin.ping'])}\` works, then run \`infra audit --live\` again`,
      });
    }
    // Without --limit every host asked for must answer: one that does not is a host Ansible's inventory lacks
    // (infra and Ansible read the inventory differently), which must show, not pass as healthy.
    if (request.limit === undefined)
      for (const host of asked)
        if (!results.has(host)) {
          const reason = `Ansible's inventory ${request.inventoryPath} has no host ${host} (or Ansible gave no answer for it), so nothing was read there`;
          done(host, { environment: request.environment, host, unreachable: reason }, `${request.environment}/${host}: unreachable: ${reason}`);
        }
    out.live.push(...[...results.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)));
  }

  return async (requests, progress, settings = {}) => {
    const out: LiveResult = { live: [], dumps: [] };
    for (const request of requests) await collectEnvironment(request, progress, settings, out);
    return out;
  };
}

/** One host's answer as the audit's LiveHost, its dump (into out.dumps) and its progress line. */
function hostEntry(environment: string, host: string, answer: HostAnswer, wantWg: boolean, userErrors: Record<string, string> | undefined, out: LiveResult): { live: LiveHost; line: string } {
  const where = `${environment}/${host}`;
  const reading = readCollector(answer, wantWg);
  if (reading.kind !== 'answer') return { live: { environment, host, unreachable: reading.message }, line: `${where}: unreachable: ${reading.message}` };
  if (reading.wg && 'dump' in reading.wg) out.dumps.push({ source: host, dump: reading.wg.dump });
  const live: LiveHost = { environment, host, sshd: reading.sshd, ...(userErrors ? { userErrors } : {}) };
  // A VPN server whose `wg show all dump` failed: its peers were not checked, and the report must say so.
  if (reading.wg && 'error' in reading.wg) out.live.push({ environment, host, unreachable: reading.wg.error });
  return { live, line: `${where}: ${describeAnswer(reading, parseAuthorizedKeys)}` };
}

/** The real collector: `ansible` from the PATH, the caller's environment. */
export const collectLive: LiveCollector = makeLiveCollector();
