/**
 * `infra audit --live`: what is really on the hosts, read THROUGH ANSIBLE (SPEC §7), never by a home-made
 * SSH fan-out. Each read is an ad-hoc `ansible` run against the environment's own inventory, so connection
 * settings, jump hosts, `become`, vault, forks and host-key checking are all Ansible's:
 *
 *   ansible <hosts> -i <inventory> -m ansible.builtin.slurp  -a src=~USER/.ssh/authorized_keys   (per user)
 *   ansible <hosts> -i <inventory> -m ansible.builtin.getent -a "database=passwd key=USER"      (only where no file was found)
 *   ansible <vpn servers> -i <inventory> -m ansible.builtin.command -a "wg show all dump"
 *
 * Why `~USER` in slurp's src, and getent only as a follow-up: slurp's `src` is a path argument, which the module
 * expands ON THE HOST with Python's expanduser (the host's own passwd/NSS, so LDAP users and homes outside /home
 * are right, per host, in one run, with no shell and no quoting). What `~USER` cannot say is why a file is
 * absent: when the user does not exist the path stays unexpanded and slurp reports the same "file not found".
 * So the hosts that answered "not found" are asked `getent passwd USER` (a structured yes/no), and only then is
 * the file called missing (null) or the user reported (userErrors). A healthy run costs one run per user.
 *
 * Output is read with the JSON stdout callback (ANSIBLE_STDOUT_CALLBACK=json, ANSIBLE_LOAD_CALLBACK_PLUGINS=1:
 * ad-hoc runs ignore stdout callbacks without it); src/core/ansible-json.ts turns it into LiveHost/DumpSource.
 */
import { ExitCode, InfraError } from '../lib/errors.js';
import type { DumpSource, LiveHost } from '../core/audit.js';
import { LiveTally, oneLine, parseAdHocOutput, type HostAnswer } from '../core/ansible-json.js';
import { UNIX_USER_RE } from '../core/validate.js';
import { runProgram } from './run-program.js';

export interface LiveRequest {
  environment: string;
  /** absolute path given to `ansible -i` (the environment's inventory file or folder) */
  inventoryPath: string;
  /** from liveTargets(plan) in src/core/audit.ts, this environment only: whose authorized_keys to read where */
  targets: Array<{ host: string; users: string[] }>;
  /** hosts a VPN network's `servers` pattern selects here: run `wg show all dump` there */
  vpnServers: string[];
  /** --limit PATTERN, passed to ansible as --limit */
  limit?: string;
}

export interface LiveResult {
  live: LiveHost[];
  dumps: DumpSource[];
}

/** Progress lines (one per host as it answers) go to `progress`; the service prints them on a terminal only. */
export type LiveCollector = (requests: LiveRequest[], progress: (line: string) => void) => Promise<LiveResult>;

export interface LiveCollectorOptions {
  /** The deadline of one `ansible` run (all its hosts, in parallel up to Ansible's forks); default 10 minutes. */
  timeoutMs?: number;
  /** Added to the environment `ansible` runs in (tests: ANSIBLE_HOME, a control-socket folder). */
  env?: NodeJS.ProcessEnv;
  /** The ansible executable; default `ansible` on the PATH. */
  ansible?: string;
}

export const DEFAULT_LIVE_TIMEOUT_MS = 10 * 60_000;
const INSTALL_HINT = 'install Ansible (`apt-get install ansible` or `pipx install ansible-core`), then run `infra audit --live` again';

/**
 * A host name Ansible's pattern syntax would read as more than that name (a comma splits, `*?[` glob,
 * a leading `!&~` negates, intersects or starts a regex): such a host cannot be asked for exactly.
 */
const PATTERN_SPECIAL_RE = /[,*?[\]]|^[!&~]|^\s|\s$/;

/** Ansible's answer when the pattern and --limit leave no host: not an error, just nothing to read. */
const NO_HOSTS_RE = /leaves us with no hosts to target|No hosts matched/i;

export function makeLiveCollector(options: LiveCollectorOptions = {}): LiveCollector {
  const timeoutMs = options.timeoutMs ?? DEFAULT_LIVE_TIMEOUT_MS;
  // Read when a run starts, not when this module is imported: the caller's environment as it is then.
  const environment = (): NodeJS.ProcessEnv => ({
    ...process.env,
    ...options.env,
    ANSIBLE_STDOUT_CALLBACK: 'json',
    ANSIBLE_LOAD_CALLBACK_PLUGINS: '1',
    // SPEC §7: an unknown host key is a finding, never accepted silently, whatever ansible.cfg or the caller's
    // environment says (an env setting beats ansible.cfg). Without a terminal (newSession) ssh cannot ask either.
    ANSIBLE_HOST_KEY_CHECKING: 'True',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
  });
  const ansible = options.ansible ?? 'ansible';

  /** One ad-hoc run; its hosts' answers, or every host unreachable when the run itself ran out of time. */
  async function adHoc(request: LiveRequest, hosts: string[], module: string, moduleArgs: string): Promise<Map<string, HostAnswer>> {
    // Host names joined with commas are a pattern of exactly those hosts; the user's --limit narrows it further.
    const args = [hosts.join(','), '-i', request.inventoryPath, '-m', module, '-a', moduleArgs, ...(request.limit !== undefined ? ['--limit', request.limit] : [])];
    let run;
    try {
      run = await runProgram(ansible, args, { env: environment(), timeoutMs, newSession: true, installHint: INSTALL_HINT });
    } catch (e) {
      if (!(e instanceof InfraError) || !/did not finish within/.test(e.message)) throw e;
      const reason = `Ansible did not finish within ${Math.round(timeoutMs / 1000)}s (${module}) and was stopped`;
      return new Map(hosts.map((h) => [h, { status: 'unreachable', message: reason }]));
    }
    const output = parseAdHocOutput(run.stdout);
    const answers = output.readable ? output.hosts : NO_HOSTS_RE.test(run.stderr) ? new Map<string, HostAnswer>() : undefined;
    if (!answers) {
      const error = run.stderr.split('\n').find((l) => /^ERROR!/.test(l));
      throw new InfraError(ExitCode.remote, `ansible could not read the ${request.environment} hosts (exit ${run.code}): ${oneLine(error ?? (output.readable ? '' : output.reason))}`, {
        hint: `check that \`ansible -i ${request.inventoryPath} ${hosts[0] ?? 'all'} -m ansible.builtin.ping\` works, then run \`infra audit --live\` again`,
      });
    }
    // Without --limit every host asked for must answer: one that does not is a host Ansible's inventory lacks
    // (infra and Ansible read the inventory differently), which must show, not pass as healthy.
    if (request.limit === undefined)
      for (const h of hosts)
        if (!answers.has(h)) answers.set(h, { status: 'unreachable', message: `Ansible's inventory ${request.inventoryPath} has no host ${h}, so nothing was read there` });
    return answers;
  }

  async function collectEnvironment(request: LiveRequest, progress: (line: string) => void): Promise<LiveTally> {
    const tally = new LiveTally(request.environment);
    // One step per user (slurp, then getent where needed), then the WireGuard dump: a host's progress line is
    // printed after the last step that involves it, or as soon as it is found unreachable.
    const hostsByUser = new Map<string, string[]>();
    for (const t of request.targets) for (const user of t.users) hostsByUser.set(user, [...(hostsByUser.get(user) ?? []), t.host]);
    const steps: Array<{ user?: string; hosts: string[] }> = [...hostsByUser.keys()].sort().map((user) => ({ user, hosts: [...new Set(hostsByUser.get(user))].sort() }));
    const vpnServers = [...new Set(request.vpnServers)].sort();
    if (vpnServers.length) steps.push({ hosts: vpnServers });
    const lastStep = new Map<string, number>();
    steps.forEach((s, i) => s.hosts.forEach((h) => lastStep.set(h, i)));
    const reported = new Set<string>();
    const report = (host: string) => {
      if (reported.has(host) || !tally.answered(host)) return;
      reported.add(host);
      progress(tally.describe(host));
    };

    for (const host of lastStep.keys())
      if (PATTERN_SPECIAL_RE.test(host)) tally.markUnreachable(host, `infra cannot name host ${JSON.stringify(host)} exactly in an Ansible host pattern; check it by hand`);

    for (const [i, step] of steps.entries()) {
      const hosts = step.hosts.filter((h) => !tally.isUnreachable(h));
      if (hosts.length) {
        if (step.user === undefined) tally.recordWg(await adHoc(request, hosts, 'ansible.builtin.command', 'wg show all dump'));
        else if (!UNIX_USER_RE.test(step.user)) {
          // Module arguments are templated and split by Ansible: only a plain Unix name goes into one.
          for (const h of hosts) tally.recordUserError(h, step.user, 'not a plain Unix user name, so infra does not ask Ansible to read its files');
        } else {
          const user = step.user;
          const notFound = tally.recordSlurp(user, await adHoc(request, hosts, 'ansible.builtin.slurp', `src=~${user}/.ssh/authorized_keys`));
          if (notFound.length) tally.recordGetent(user, await adHoc(request, notFound, 'ansible.builtin.getent', `database=passwd key=${user}`));
        }
      }
      for (const h of step.hosts) if (tally.isUnreachable(h) || lastStep.get(h) === i) report(h);
    }
    return tally;
  }

  return async (requests, progress) => {
    const live: LiveHost[] = [];
    const dumps: DumpSource[] = [];
    for (const request of requests) {
      const tally = await collectEnvironment(request, progress);
      live.push(...tally.hosts());
      dumps.push(...tally.dumps);
    }
    return { live, dumps };
  };
}

/** The real collector: `ansible` from the PATH, the caller's environment, a 10-minute deadline per run. */
export const collectLive: LiveCollector = makeLiveCollector();
