/**
 * The VPN end to end, with real programs only: two network namespaces joined by a veth pair, `wireguard-go`
 * in each (wgsrv0 on the server, wgdev0 on the device). The server's peers come from what `infra render`
 * wrote, applied by ansible/wireguard.yml (a real ansible-playbook, connection local, inside the server
 * namespace); the device from `infra vpn join`'s config, set up as wg-quick would (strip, setconf,
 * addresses, routes). Then the meeting scenario: sshd in the server namespace, a vpn_only grant rendered
 * and applied by ansible/apply-access.yml, logins over the tunnel and around it, and offboarding.
 * Needs root (namespaces). Run `npm run build` first: the CLI runs as a real process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { wgShowDump } from '../../src/adapters/wg.js';
import { wgGenkey, wgPubkey, wgQuickStrip, wgSetconf } from '../helpers/wg-tools.js';
import { parseWgDump } from '../../src/core/wg-dump.js';
import { spawnCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/example.js';
import { baseConfig, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { runSync } from '../helpers/program.js';
import { alive, requireTool } from '../helpers/real-tools.js';
import { createUser, removeUser, sshKeygen } from '../helpers/sshd.js';

const tools: Array<[string, string]> = [
  ['wg', 'wireguard-tools'],
  ['wg-quick', 'wireguard-tools'],
  ['wireguard-go', 'wireguard-go'],
  ['ip', 'iproute2'],
  ['ping', 'iputils-ping'],
  ['sshd', 'openssh-server'],
  ['ssh', 'openssh-client'],
  ['ansible-playbook', 'ansible'],
];
const haveTools = tools.every(([cmd, pkg]) => requireTool(cmd, pkg));
const d = haveTools ? describe : describe.skip;

const SLOW = 180_000;

// Unique per run: jest runs test files in parallel, and a crashed run may leave its namespaces behind.
const RUN = randomBytes(3).toString('hex');
const SERVER_NS = `ivs${RUN}`;
const DEVICE_NS = `ivd${RUN}`;
// wireguard-go's control sockets live in /var/run/wireguard, which namespaces do not separate:
// `wg` sees every userspace interface on the machine, so the names are unique per run.
const SERVER_IF = `wgs${RUN}`;
const DEVICE_IF = `wgd${RUN}`;
const SERVER_VETH = `ivs${RUN}v`;
const DEVICE_VETH = `ivd${RUN}v`;
const SERVER_UNDERLAY = '192.168.250.1';
const DEVICE_UNDERLAY = '192.168.250.2';
const LOGIN = `ivpn${RUN}`;

function sh(args: string[], opts: { env?: NodeJS.ProcessEnv; allowFail?: boolean; timeout?: number } = {}): { status: number; stdout: string; stderr: string } {
  // Daemons (wireguard-go) fork: stdin they could inherit is ignored so our pipes close.
  const r = runSync(args[0], args.slice(1), { env: opts.env ?? process.env, timeoutMs: opts.timeout ?? 60_000, stdio: ['ignore', 'pipe', 'pipe'], check: !opts.allowFail });
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}
const inNs = (ns: string, args: string[]) => ['ip', 'netns', 'exec', ns, ...args];

const pidsIn = (ns: string) => runSync('ip', ['netns', 'pids', ns]).stdout.split(/\s+/).filter(Boolean).map(Number);

/** Fields of a wg-quick config's [Interface] (Address may repeat or be a list). */
function interfaceAddresses(config: string): string[] {
  return config
    .split('\n')
    .filter((l) => /^\s*Address\s*=/.test(l))
    .flatMap((l) => l.split('=')[1].split(','))
    .map((a) => a.trim())
    .filter(Boolean);
}
function allowedIps(config: string): string[] {
  return config
    .split('\n')
    .filter((l) => /^\s*AllowedIPs\s*=/.test(l))
    .flatMap((l) => l.split('=')[1].split(','))
    .map((a) => a.trim())
    .filter(Boolean);
}

d('WireGuard tunnel between two namespaces, from render and vpn join (real)', () => {
  let work = '';
  let registry = ''; // each test makes its own (freshRegistry), so neither depends on what the other left
  const registries: string[] = [];
  let alicePub = '';
  let bobPub = '';
  let serverPublicKey = '';
  let sshd: ChildProcess | undefined;
  let sshdLog = '';
  let userCreated = false;
  let loginHome = '';
  const namespaces: string[] = [];
  let aliceKey = '';

  const cli = async (args: string[]) => {
    const r = await spawnCli([...args, '--dir', registry]);
    if (r.code !== 0) throw new Error(`infra ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };

  const ansible = (playbook: string, extra: string[]) =>
    sh(
      inNs(SERVER_NS, [
        'ansible-playbook',
        '-i',
        path.join(registry, 'inventories/production'),
        path.join(REPO_ROOT, 'ansible', playbook),
        '-e',
        'infra_become=false',
        ...extra,
      ]),
      { env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: '0', ANSIBLE_LOCAL_TEMP: path.join(work, 'ansible-tmp'), ANSIBLE_HOME: path.join(work, 'ansible-home') }, timeout: 120_000 },
    );

  const applyWireguard = () =>
    ansible('wireguard.yml', ['-e', `infra_wireguard_dir=${path.join(work, 'wireguard')}`, '-e', JSON.stringify({ infra_wireguard_interfaces: { meet: SERVER_IF } })]);
  const applyAccess = () => ansible('apply-access.yml', ['--tags', 'ssh']);

  /** The device, configured as wg-quick up would: stripped config, addresses, routes for AllowedIPs, link up. */
  const configureDevice = async (config: string) => {
    await wgSetconf(DEVICE_IF, await wgQuickStrip(config, DEVICE_IF), DEVICE_NS);
    sh(inNs(DEVICE_NS, ['ip', 'address', 'flush', 'dev', DEVICE_IF]));
    for (const a of interfaceAddresses(config)) sh(inNs(DEVICE_NS, ['ip', ...(a.includes(':') ? ['-6'] : ['-4']), 'address', 'add', a, 'dev', DEVICE_IF, ...(a.includes(':') ? ['nodad'] : [])]));
    sh(inNs(DEVICE_NS, ['ip', 'link', 'set', DEVICE_IF, 'up']));
    for (const r of allowedIps(config)) sh(inNs(DEVICE_NS, ['ip', ...(r.includes(':') ? ['-6'] : ['-4']), 'route', 'replace', r, 'dev', DEVICE_IF]));
  };

  /** ping from the device to the server's tunnel address; a few tries while the handshake happens. */
  const ping = (target: string, tries = 5) => {
    for (let i = 0; i < tries; i++) {
      const r = sh(inNs(DEVICE_NS, ['ping', ...(target.includes(':') ? ['-6'] : ['-4']), '-c', '1', '-W', '1', target]), { allowFail: true });
      if (r.status === 0) return true;
    }
    return false;
  };

  const sshLogin = (target: string) =>
    sh(
      inNs(DEVICE_NS, [
        'ssh', '-F', '/dev/null', '-i', aliceKey,
        '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes',
        '-o', 'PreferredAuthentications=publickey', '-o', 'ConnectTimeout=5',
        `${LOGIN}@${target}`, 'echo', 'in-as-$(whoami)',
      ]),
      { allowFail: true, timeout: 30_000 },
    );

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-vpn-tunnel-'));
    await fs.mkdir(path.join(work, 'wireguard'), { mode: 0o700 });

    // Namespaces and the veth "internet" between them.
    for (const ns of [SERVER_NS, DEVICE_NS]) {
      sh(['ip', 'netns', 'add', ns]);
      namespaces.push(ns);
      sh(inNs(ns, ['ip', 'link', 'set', 'lo', 'up']));
    }
    sh(['ip', 'link', 'add', SERVER_VETH, 'netns', SERVER_NS, 'type', 'veth', 'peer', 'name', DEVICE_VETH, 'netns', DEVICE_NS]);
    sh(inNs(SERVER_NS, ['ip', 'address', 'add', `${SERVER_UNDERLAY}/30`, 'dev', SERVER_VETH]));
    sh(inNs(DEVICE_NS, ['ip', 'address', 'add', `${DEVICE_UNDERLAY}/30`, 'dev', DEVICE_VETH]));
    sh(inNs(SERVER_NS, ['ip', 'link', 'set', SERVER_VETH, 'up']));
    sh(inNs(DEVICE_NS, ['ip', 'link', 'set', DEVICE_VETH, 'up']));

    // WireGuard: the server's key lives only in its own config, as the co-op set it up.
    const env = { ...process.env };
    delete env.WG_PROCESS_FOREGROUND;
    sh(inNs(SERVER_NS, ['wireguard-go', SERVER_IF]), { env });
    sh(inNs(DEVICE_NS, ['wireguard-go', DEVICE_IF]), { env });
    const serverPrivate = await wgGenkey();
    serverPublicKey = await wgPubkey(serverPrivate);
    await fs.writeFile(path.join(work, 'wireguard', `${SERVER_IF}.conf`), `[Interface]\nPrivateKey = ${serverPrivate}\nListenPort = 51820\n`, { mode: 0o600 });
    await wgSetconf(SERVER_IF, await wgQuickStrip(await fs.readFile(path.join(work, 'wireguard', `${SERVER_IF}.conf`), 'utf8'), SERVER_IF), SERVER_NS);
    sh(inNs(SERVER_NS, ['ip', '-4', 'address', 'add', '10.77.0.1/24', 'dev', SERVER_IF]));
    sh(inNs(SERVER_NS, ['ip', '-6', 'address', 'add', 'fd77:77::1/64', 'dev', SERVER_IF, 'nodad']));
    sh(inNs(SERVER_NS, ['ip', 'link', 'set', SERVER_IF, 'up']));

    // The login user, alice's SSH key, and sshd listening on every address of the server namespace.
    loginHome = createUser(LOGIN, () => (userCreated = true));
    aliceKey = (await sshKeygen(work, 'alice')).privateKey;
    alicePub = (await fs.readFile(`${aliceKey}.pub`, 'utf8')).trim();
    bobPub = (await sshKeygen(work, 'bob')).publicLine;
    await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    const hostKey = path.join(work, 'ssh_host_ed25519_key');
    sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    const sshdConfig = path.join(work, 'sshd_config');
    await fs.writeFile(
      sshdConfig,
      ['Port 22', 'ListenAddress 0.0.0.0', 'ListenAddress ::', `HostKey ${hostKey}`, `PidFile ${path.join(work, 'sshd.pid')}`, 'UsePAM no', 'StrictModes no', 'PubkeyAuthentication yes', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'AuthorizedKeysFile .ssh/authorized_keys', `AllowUsers ${LOGIN}`, 'LogLevel VERBOSE', ''].join('\n'),
    );
    sshd = spawn('ip', inNs(SERVER_NS, ['/usr/sbin/sshd', '-D', '-e', '-f', sshdConfig]).slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    sshd.stdout!.on('data', (b) => (sshdLog += b));
    sshd.stderr!.on('data', (b) => (sshdLog += b));
    await untilSshdLogs(/Server listening on 0\.0\.0\.0 port 22\b/);
  }, SLOW);

  /** Waits for sshd's log to match, woken by its output; fails naming sshd when it exits or 10 s pass first. */
  const untilSshdLogs = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (re.test(sshdLog)) {
          done();
          resolve();
        }
        else if (sshd!.exitCode !== null) {
          done();
          reject(new Error(`sshd exited ${sshd!.exitCode} before logging ${re}:\n${sshdLog}`));
        }
      };
      const timer = setTimeout(() => (done(), reject(new Error(`sshd did not log ${re} within 10 s:\n${sshdLog}`))), 10_000);
      const done = () => {
        clearTimeout(timer);
        sshd!.stdout!.off('data', check);
        sshd!.stderr!.off('data', check);
        sshd!.off('exit', check);
      };
      sshd!.stdout!.on('data', check);
      sshd!.stderr!.on('data', check);
      sshd!.on('exit', check);
      check();
    });

  const freshRegistry = async () => {
    // The registry: one network served by vpn1 (this namespace, reached by Ansible's local connection),
    // and a vpn_only grant of meet-tech on the vpn group.
    registry = await makeRegistry({
      config: baseConfig({
        access: [{ groups: ['meet-tech'], hosts: 'vpn', user: LOGIN, vpn_only: true }],
        vpn: {
          meet: {
            ipv4: '10.77.0.0/24',
            ipv6: 'fd77:77::/64',
            endpoint: `${SERVER_UNDERLAY}:51820`,
            server_public_key: serverPublicKey,
            reserved: ['10.77.0.1', 'fd77:77::1'],
            allowed_ips: ['10.77.0.0/24', 'fd77:77::/64'],
            keepalive: 1,
            servers: 'vpn',
          },
        },
      }),
      members: {
        alice: memberData('alice', { groups: ['meet-tech'], ssh_keys: [{ name: 'laptop', key: alicePub, added: '2026-01-01' }] }),
        bob: memberData('bob', { groups: ['meet-tech'], ssh_keys: [{ name: 'laptop', key: bobPub, added: '2026-01-01' }] }),
      },
      files: {
        'inventories/production/hosts.yml': 'all:\n  children:\n    vpn:\n      hosts:\n        vpn1:\n          ansible_connection: local\n          ansible_python_interpreter: /usr/bin/python3\n',
      },
    });
    registries.push(registry);
  };

  afterAll(async () => {
    if (sshd && sshd.exitCode === null) {
      const exited = new Promise((r) => sshd!.once('exit', r));
      sshd.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer);
      if (sshd.exitCode === null) sshd.kill('SIGKILL');
    }
    // Only what runs inside our own namespaces: the wireguard-go daemons (and sshd's children).
    for (const ns of namespaces) {
      const pids = pidsIn(ns);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // gone already
        }
      }
      for (let i = 0; i < 30 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
      for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
      runSync('ip', ['netns', 'del', ns]);
    }
    if (userCreated) removeUser(LOGIN);
    if (work) await fs.rm(work, { recursive: true, force: true });
    for (const dir of registries) await fs.rm(dir, { recursive: true, force: true });
  }, SLOW);

  // Our interface only: `wg show all` would also ask other runs' wireguard-go daemons (their sockets share /var/run/wireguard).
  const serverDump = () => wgShowDump(SERVER_NS, SERVER_IF);
  const serverPeerKeys = async () => parseWgDump(await serverDump()).peers.map((p) => p.publicKey).sort();

  it('join + render + ansible/wireguard.yml: ping over IPv4 and IPv6; leave + render + apply: ping stops', async () => {
    await freshRegistry();
    const confFile = path.join(work, 'alice-laptop.conf');
    const joined = JSON.parse((await cli(['vpn', 'join', 'alice', '--device', 'laptop', '--out', confFile, '--json'])).stdout);
    expect(joined.addresses).toEqual(['10.77.0.2/32', 'fd77:77::2/128']);
    await cli(['render']);
    const generated = parse(await fs.readFile(path.join(registry, 'inventories/production/host_vars/vpn1/infra.generated.yml'), 'utf8'));
    expect(generated.infra_wireguard_peers.meet).toEqual([{ name: 'alice/laptop', public_key: joined.public_key, allowed_ips: joined.addresses }]);

    const applied = applyWireguard();
    expect(applied.stdout).toMatch(/changed=[1-9]/);
    expect(await serverPeerKeys()).toEqual([joined.public_key]);
    // The server kept its own key: syncconf never replaced the [Interface].
    expect(parseWgDump(await serverDump()).interfaces).toEqual([expect.objectContaining({ name: SERVER_IF, publicKey: serverPublicKey })]);
    // A second run changes nothing.
    expect(applyWireguard().stdout).toMatch(/changed=0/);

    await configureDevice(await fs.readFile(confFile, 'utf8'));
    expect(ping('10.77.0.1')).toBe(true);
    expect(ping('fd77:77::1')).toBe(true);

    // vpn status reads the server's real dump: alice's laptop has shaken hands.
    const dumpFile = path.join(work, 'dump.txt');
    await fs.writeFile(dumpFile, await serverDump());
    const status = JSON.parse((await cli(['vpn', 'status', dumpFile, '--json'])).stdout);
    expect(status.peers).toEqual([expect.objectContaining({ member: 'alice', device: 'laptop', interface: SERVER_IF })]);
    expect(status.peers[0].handshake).toMatch(/just now|seconds? ago/);
    expect(status.peers[0].rx_bytes).toBeGreaterThan(0);
    expect(status.unknown).toEqual([]);

    await cli(['vpn', 'leave', 'alice', '--device', 'laptop']);
    await cli(['render']);
    expect(applyWireguard().stdout).toMatch(/changed=[1-9]/);
    expect(await serverPeerKeys()).toEqual([]);
    expect(ping('10.77.0.1', 2)).toBe(false);
    expect(ping('fd77:77::1', 2)).toBe(false);
  }, SLOW);

  it('meeting scenario: vpn_only SSH works through the tunnel only, and not at all after offboarding', async () => {
    await freshRegistry();
    const confFile = path.join(work, 'alice-laptop-2.conf');
    await cli(['vpn', 'join', 'alice', '--device', 'laptop', '--out', confFile]);
    await cli(['render']);
    applyWireguard();
    applyAccess();
    const authorized = await fs.readFile(path.join(loginHome, '.ssh', 'authorized_keys'), 'utf8');
    expect(authorized).toMatch(/^from="10\.77\.0\.0\/24,fd77:77::\/64" ssh-ed25519 \S+ alice\/laptop$/m);
    await configureDevice(await fs.readFile(confFile, 'utf8'));
    expect(ping('10.77.0.1')).toBe(true);

    const throughTunnel = sshLogin('10.77.0.1');
    expect({ status: throughTunnel.status, out: throughTunnel.stdout.trim(), ...(throughTunnel.status ? { sshdLog } : {}) }).toEqual({ status: 0, out: `in-as-${LOGIN}` });
    const throughTunnel6 = sshLogin('fd77:77::1');
    expect(throughTunnel6.status).toBe(0);
    // The same key from outside the tunnel (the veth address): from= does not match, sshd refuses it.
    const around = sshLogin(SERVER_UNDERLAY);
    expect(around.status).not.toBe(0);
    expect(around.stderr).toMatch(/Permission denied \(publickey\)/);
    // (sshd reached and the key offered: the one difference from the login above is the source address.)

    await cli(['members', 'offboard', 'alice', '--date', '2026-10-01']);
    await cli(['render']);
    expect(applyWireguard().stdout).toMatch(/changed=[1-9]/);
    applyAccess();
    expect(await serverPeerKeys()).toEqual([]);
    const after = await fs.readFile(path.join(loginHome, '.ssh', 'authorized_keys'), 'utf8');
    expect(after).not.toContain('alice/laptop');
    expect(after).toContain('bob/laptop');

    const tunnelAfter = sshLogin('10.77.0.1');
    expect(tunnelAfter.status).not.toBe(0); // no tunnel any more: the server dropped the peer
    const aroundAfter = sshLogin(SERVER_UNDERLAY);
    expect(aroundAfter.status).not.toBe(0);
    expect(aroundAfter.stderr).toMatch(/Permission denied \(publickey\)/);
  }, SLOW);
});
