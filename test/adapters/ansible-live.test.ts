/**
 * How the --live collector drives Ansible, with a stand-in `ansible` executable (a small node script) that
 * records each run's argv and environment and answers in the json callback's shape from a script of answers.
 * The real thing, against a real sshd, is test/real/audit-live.test.ts; this covers the orchestration:
 * arguments as arrays, which runs happen on which hosts, getent only where no file was found, unreachable
 * hosts skipped afterwards, progress once per host, a run that hangs, output Ansible could not produce.
 */
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeLiveCollector, type LiveRequest } from '../../src/adapters/ansible-live.js';
import { rejection } from '../helpers/thrown.js';

const KEY_LINE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPDotxlhgDzow47GG7eO2B0tAYRG3cVUd6XhJ4uWjmNB a@b';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const WG_PUB = 'NmI0uj56rI26j8eA1Ht8knityzmdkV6djjsf51jIdBw=';

/** The stand-in: answers[`${module}:${host}:${args}`] ?? answers[`${module}:${host}`] is the host's result; special keys change the whole run. */
const FAKE_ANSIBLE = `#!${process.execPath}
const fs = require('node:fs');
const argv = process.argv.slice(2);
const log = process.env.FAKE_ANSIBLE_LOG;
const answers = JSON.parse(fs.readFileSync(process.env.FAKE_ANSIBLE_ANSWERS, 'utf8'));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('ANSIBLE_')));
fs.appendFileSync(log, JSON.stringify({ argv, env }) + '\\n');
const opt = (name) => { const i = argv.indexOf(name); return i < 0 ? undefined : argv[i + 1]; };
const moduleName = opt('-m'), args = opt('-a'), limit = opt('--limit');
if (answers.hang) setInterval(() => {}, 1000);
else if (answers.broken) { process.stderr.write(answers.broken.stderr); process.exit(answers.broken.code); }
else {
  let hosts = argv[0].split(',');
  if (limit !== undefined) hosts = hosts.filter((h) => h === limit);
  hosts = hosts.filter((h) => !(answers.unknownHosts ?? []).includes(h));
  if (hosts.length === 0) { process.stderr.write('[WARNING]: Could not match supplied host pattern, ignoring: ' + limit + '\\nERROR! Specified inventory, host pattern and/or --limit leaves us with no hosts to target.\\n'); process.exit(1); }
  const results = {};
  for (const h of hosts) results[h] = answers[moduleName + ':' + h + ':' + args] ?? answers[moduleName + ':' + h] ?? { failed: true, msg: 'no answer scripted for ' + moduleName + ' ' + h };
  process.stdout.write(JSON.stringify({ custom_stats: {}, plays: [{ play: { name: 'Ansible Ad-Hoc' }, tasks: [{ hosts: results, task: { name: moduleName } }] }], stats: {} }, null, 4));
  process.exit(Object.values(results).some((r) => r.unreachable) ? 4 : Object.values(results).some((r) => r.failed) ? 2 : 0);
}
`;

let dir: string;
let fake: string;
let log: string;
let answersFile: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-live-fake-'));
  fake = path.join(dir, 'ansible.cjs'); // CommonJS whatever package.json sits above the temporary folder
  await fs.writeFile(fake, FAKE_ANSIBLE, { mode: 0o755 });
  log = path.join(dir, 'runs.jsonl');
  answersFile = path.join(dir, 'answers.json');
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await fs.rm(log, { force: true });
});

async function collectWith(answers: Record<string, unknown>, requests: LiveRequest[], options: { timeoutMs?: number } = {}) {
  await fs.writeFile(answersFile, JSON.stringify(answers));
  const collector = makeLiveCollector({ ansible: fake, env: { FAKE_ANSIBLE_LOG: log, FAKE_ANSIBLE_ANSWERS: answersFile, ANSIBLE_HOST_KEY_CHECKING: 'False' }, ...options });
  const events: string[] = []; // progress lines, each with how many runs had happened when it came
  const runsSoFar = () => {
    try {
      return readFileSync(log, 'utf8').split('\n').filter(Boolean).length;
    } catch {
      return 0;
    }
  };
  const progress = (line: string) => events.push(`after run ${runsSoFar()}: ${line}`);
  const result = await collector(requests, progress);
  const recorded = (await fs.readFile(log, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { argv: string[]; env: Record<string, string> });
  return { result, runs: recorded, events };
}

const slurpOk = (text: string) => ({ action: 'ansible.builtin.slurp', content: b64(text), encoding: 'base64', source: '/home/x/.ssh/authorized_keys' });
const NOT_FOUND = { failed: true, msg: 'file not found: ~ghost/.ssh/authorized_keys' };
const REFUSED = { unreachable: true, msg: 'Failed to connect to the host via ssh: ssh: connect to host 10.0.0.2 port 22: Connection refused' };

const request = (over: Partial<LiveRequest> = {}): LiveRequest => ({
  environment: 'production',
  inventoryPath: '/registry/inventories/production',
  targets: [
    { host: 'web1', users: ['sysadmin', 'deploy'] },
    { host: 'web2', users: ['sysadmin'] },
    { host: 'db1', users: ['sysadmin'] },
  ],
  vpnServers: ['vpn1'],
  ...over,
});

describe('collectLive with a stand-in ansible', () => {
  it('runs ad-hoc modules per user, getent only where no file was found, wg on the VPN servers; argv are arrays, settings are env', async () => {
    const { result, runs } = await collectWith(
      {
        'ansible.builtin.slurp:web1:src=~deploy/.ssh/authorized_keys': NOT_FOUND,
        'ansible.builtin.slurp:web1:src=~sysadmin/.ssh/authorized_keys': slurpOk(`${KEY_LINE}\n`),
        'ansible.builtin.slurp:web2': NOT_FOUND,
        'ansible.builtin.slurp:db1': REFUSED,
        'ansible.builtin.getent:web1': { failed: true, msg: 'One or more supplied key could not be found in the database.' },
        'ansible.builtin.getent:web2': { ansible_facts: { getent_passwd: { sysadmin: ['x', '1000', '1000', '', '/home/sysadmin', '/bin/sh'] } } },
        'ansible.builtin.command:vpn1': { rc: 0, stdout: `wg0\t(none)\t${WG_PUB}\t51820\toff`, stderr: '' },
      },
      [request()],
    );
    const inv = ['-i', '/registry/inventories/production'];
    expect(runs.map((r) => r.argv)).toEqual([
      ['web1', ...inv, '-m', 'ansible.builtin.slurp', '-a', 'src=~deploy/.ssh/authorized_keys'],
      ['web1', ...inv, '-m', 'ansible.builtin.getent', '-a', 'database=passwd key=deploy'],
      ['db1,web1,web2', ...inv, '-m', 'ansible.builtin.slurp', '-a', 'src=~sysadmin/.ssh/authorized_keys'],
      ['web2', ...inv, '-m', 'ansible.builtin.getent', '-a', 'database=passwd key=sysadmin'],
      ['vpn1', ...inv, '-m', 'ansible.builtin.command', '-a', 'wg show all dump'],
    ]);
    for (const r of runs)
      expect(r.env).toMatchObject({ ANSIBLE_STDOUT_CALLBACK: 'json', ANSIBLE_LOAD_CALLBACK_PLUGINS: '1', ANSIBLE_HOST_KEY_CHECKING: 'True' }); // the caller's False is overridden
    expect(result.live).toEqual([
      { environment: 'production', host: 'db1', unreachable: REFUSED.msg },
      { environment: 'production', host: 'vpn1', authorizedKeys: {} },
      { environment: 'production', host: 'web1', authorizedKeys: { sysadmin: `${KEY_LINE}\n` }, userErrors: { deploy: 'there is no user deploy on this host' } },
      { environment: 'production', host: 'web2', authorizedKeys: { sysadmin: null } },
    ]);
    expect(result.dumps).toEqual([{ source: 'vpn1', dump: { interfaces: [{ name: 'wg0', publicKey: WG_PUB, listenPort: 51820, fwmark: null }], peers: [] } }]);
  });

  it('a host found unreachable is not asked again, and its progress line comes as soon as that is known', async () => {
    const { runs, events } = await collectWith(
      {
        'ansible.builtin.slurp:web1': slurpOk(''),
        'ansible.builtin.slurp:web2': slurpOk(''),
        'ansible.builtin.slurp:db1': REFUSED,
        'ansible.builtin.command:vpn1': { rc: 0, stdout: '', stderr: '' },
      },
      [request({ targets: [{ host: 'db1', users: ['a', 'b'] }, { host: 'web1', users: ['a', 'b'] }, { host: 'web2', users: ['a'] }] })],
    );
    expect(runs.map((r) => [r.argv[0], r.argv[6]])).toEqual([
      ['db1,web1,web2', 'src=~a/.ssh/authorized_keys'],
      ['web1', 'src=~b/.ssh/authorized_keys'], // db1 is not tried again
      ['vpn1', 'wg show all dump'],
    ]);
    expect(events).toEqual([
      `after run 1: production/db1: unreachable: ${REFUSED.msg}`,
      'after run 1: production/web2: a: 0 lines',
      'after run 2: production/web1: a: 0 lines; b: 0 lines',
      'after run 3: production/vpn1: wg: 0 interfaces, 0 peers',
    ]);
  });

  it('--limit is passed to ansible as --limit; a limit leaving no host reads nothing', async () => {
    const some = await collectWith({ 'ansible.builtin.slurp:web2': slurpOk(`${KEY_LINE}\n`) }, [request({ limit: 'web2', vpnServers: [] })]);
    // deploy's run (web1 only) matches nothing under the limit; sysadmin's reads web2
    expect(some.runs.map((r) => [r.argv[0], ...r.argv.slice(-2)])).toEqual([
      ['web1', '--limit', 'web2'],
      ['db1,web1,web2', '--limit', 'web2'],
    ]);
    expect(some.result.live).toEqual([{ environment: 'production', host: 'web2', authorizedKeys: { sysadmin: `${KEY_LINE}\n` } }]);
    const none = await collectWith({}, [request({ limit: 'nowhere' })]);
    expect(none.result).toEqual({ live: [], dumps: [] });
    expect(none.events).toEqual([]);
  });

  it('without --limit, a host Ansible does not know is unreachable with that reason, not silently healthy', async () => {
    const { result } = await collectWith({ unknownHosts: ['web2', 'vpn1'], 'ansible.builtin.slurp:web1': slurpOk(''), 'ansible.builtin.slurp:db1': slurpOk('') }, [request({ targets: [{ host: 'web1', users: ['a'] }, { host: 'web2', users: ['a'] }, { host: 'db1', users: ['a'] }] })]);
    expect(result.live.filter((h) => h.unreachable !== undefined)).toEqual([
      { environment: 'production', host: 'vpn1', unreachable: "Ansible's inventory /registry/inventories/production has no host vpn1, so nothing was read there" },
      { environment: 'production', host: 'web2', unreachable: "Ansible's inventory /registry/inventories/production has no host web2, so nothing was read there" },
    ]);
  });

  it('a host whose name Ansible would read as a pattern is not put into one', async () => {
    const { runs, result, events } = await collectWith({ 'ansible.builtin.slurp:web1': slurpOk('') }, [
      request({ targets: [{ host: 'web1', users: ['a'] }, { host: 'web*', users: ['a'] }, { host: '!db', users: ['a'] }], vpnServers: [] }),
    ]);
    expect(runs.map((r) => r.argv[0])).toEqual(['web1']);
    expect(result.live.map((h) => [h.host, h.unreachable])).toEqual([
      ['!db', 'infra cannot name host "!db" exactly in an Ansible host pattern; check it by hand'],
      ['web*', 'infra cannot name host "web*" exactly in an Ansible host pattern; check it by hand'],
      ['web1', undefined],
    ]);
    expect(events).toHaveLength(3);
  });

  it('each environment is read with its own inventory', async () => {
    const { runs, result } = await collectWith({ 'ansible.builtin.slurp:a1': slurpOk(''), 'ansible.builtin.slurp:b1': slurpOk('') }, [
      { environment: 'alpha', inventoryPath: '/r/inventories/alpha', targets: [{ host: 'a1', users: ['u'] }], vpnServers: [] },
      { environment: 'beta', inventoryPath: '/r/inventories/beta/hosts.yml', targets: [{ host: 'b1', users: ['u'] }], vpnServers: [] },
    ]);
    expect(runs.map((r) => [r.argv[0], r.argv[2]])).toEqual([
      ['a1', '/r/inventories/alpha'],
      ['b1', '/r/inventories/beta/hosts.yml'],
    ]);
    expect(result.live.map((h) => `${h.environment}/${h.host}`)).toEqual(['alpha/a1', 'beta/b1']);
  });

  it('a user name Ansible could read as something else is reported, never put into module arguments', async () => {
    const { runs, result } = await collectWith({}, [request({ targets: [{ host: 'web1', users: ['{{ lookup("pipe", "id") }}'] }], vpnServers: [] })]);
    expect(runs).toEqual([]);
    expect(result.live[0].userErrors).toEqual({ '{{ lookup("pipe", "id") }}': expect.stringMatching(/not a plain Unix user name/) });
  });

  it('a run that does not finish in time makes its hosts unreachable instead of failing the audit', async () => {
    const { result } = await collectWith({ hang: true }, [request({ vpnServers: [] })], { timeoutMs: 2000 });
    expect(result.live.map((h) => [h.host, h.unreachable])).toEqual([
      ['db1', 'Ansible did not finish within 2s (ansible.builtin.slurp) and was stopped'],
      ['web1', 'Ansible did not finish within 2s (ansible.builtin.slurp) and was stopped'],
      ['web2', 'Ansible did not finish within 2s (ansible.builtin.slurp) and was stopped'],
    ]);
  }, 30_000);

  it('when Ansible itself fails (an inventory it cannot read), the error says so with its words and exit 5', async () => {
    const err = await rejection(collectWith({ broken: { code: 1, stderr: '[WARNING]: Unable to parse /registry/inventories/production as an inventory source\nERROR! Completely broken inventory\n' } }, [request()]));
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe('ansible could not read the production hosts (exit 1): ERROR! Completely broken inventory');
    expect(err.hint).toBe('check that `ansible -i /registry/inventories/production web1 -m ansible.builtin.ping` works, then run `infra audit --live` again');
  });

  it('output that is not the json callback\'s, without an ERROR line, says what is wrong', async () => {
    const err = await rejection(collectWith({ broken: { code: 0, stderr: '[WARNING]: Invalid callback for stdout specified: json\n' } }, [request()]));
    expect(err.message).toBe('ansible could not read the production hosts (exit 0): Ansible printed nothing on stdout');
  });

  it('a missing ansible is an error with the install hint', async () => {
    const collector = makeLiveCollector({ ansible: path.join(dir, 'no-such-ansible') });
    const err = await rejection(collector([request()], () => undefined));
    expect(err.exitCode).toBe(5);
    expect(err.hint).toMatch(/install Ansible/);
  });
});
