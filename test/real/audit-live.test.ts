/**
 * `infra audit --live` end to end with real programs: the real `ansible` (one ad-hoc `script` run of the
 * collector, the jsonl callback) reaches a real sshd on 127.0.0.1 as root (a Match block gives root its own
 * key file) through an inventory with ansible_host, ansible_port, ansible_user, ansible_ssh_private_key_file
 * and a known_hosts file holding sshd's host key. The test user's
 * authorized_keys holds the key Ansible connects with (alice's, granted), a departed member's key, a key
 * nobody registered and a line that is not a key; bob's granted key is absent. A second inventory host is a
 * closed port, a third the same sshd under a host key missing from its known_hosts (refused, never accepted,
 * even with ANSIBLE_HOST_KEY_CHECKING=False in the caller's environment), a fourth a port that accepts and
 * never speaks (Ansible's own connection timeout, ansible_timeout). A second grant names a user that
 * does not exist. The sshd session's PATH finds a stand-in `wg` that prints a saved `wg show all dump`.
 * What the collector returns goes to the pure audit, whose findings are checked code by code.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { makeLiveCollector, type LiveCollector, type LiveRequest, type LiveResult } from '../../src/adapters/ansible-live.js';
import { loadInventories } from '../../src/adapters/inventories.js';
import { loadRegistry } from '../../src/adapters/registry-load.js';
import { auditFindings, liveTargets, type Finding } from '../../src/core/audit.js';
import { hostsOf, planAccess } from '../../src/core/grants.js';
import { mustRun, runSync } from '../helpers/program.js';
import { isRoot, requireTool } from '../helpers/real-tools.js';
import { baseConfig, keyBody, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { createUser, freePort, removeUser, sshKeygen, startSshd, type Sshd } from '../helpers/sshd.js';

const ready =
  [
    requireTool('/usr/sbin/sshd', 'openssh-server'),
    requireTool('ssh', 'openssh-client'),
    requireTool('ssh-keygen', 'openssh-client'),
    requireTool('ansible', 'ansible'),
    requireTool('useradd', 'passwd'),
  ].every(Boolean) && isRoot();
const d = ready ? describe : describe.skip;

const AS_OF = '2026-06-01';
const LIVE_CODES = new Set(['unknown-key', 'missing-key', 'departed-access', 'unreachable-host', 'unknown-peer', 'unmanaged-auth', 'altered-key', 'host-sshd-policy']);
const wgKey = () => Buffer.from(generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString('base64');
/** OpenSSH's SHA256 fingerprint, computed here from the key line (independently of src/). */
const fingerprint = (line: string) => `SHA256:${createHash('sha256').update(Buffer.from(line.split(' ')[1], 'base64')).digest('base64').replace(/=+$/, '')}`;

d('audit --live through Ansible against a real sshd', () => {
  const suffix = randomBytes(3).toString('hex');
  const user = `infra-live-${suffix}`;
  const ghost = `infra-ghost-${suffix}`; // granted, but no such user on the host
  const createdUsers: string[] = [];
  const serverWg = wgKey();
  const unknownPeer = wgKey();
  const carolPeer = wgKey();
  let tmp: string;
  let home: string;
  let root: string;
  let sshd: Sshd | undefined;
  let closedPort: number;
  let silent: net.Server | undefined;
  const silentSockets = new Set<net.Socket>();
  let planted: string;
  let emptyKnownHosts: string;
  const keys: Record<string, { privateKey: string; publicLine: string }> = {};
  let requests: LiveRequest[];
  let collect: LiveCollector;
  let first: { result: LiveResult; progress: string[] };

  const run = async (reqs: LiveRequest[]) => {
    const progress: string[] = [];
    // A generous per-host deadline: a shared, loaded machine may take long to run the collector (silent has its own ansible_timeout).
    const result = await collect(reqs, (line) => progress.push(line), { timeoutSeconds: 90 });
    return { result, progress };
  };
  const audit = async (result: LiveResult): Promise<Finding[]> => {
    const loaded = await loadRegistry(root);
    const { config, members } = loaded.registry;
    const inventories = await loadInventories(loaded);
    return auditFindings({ asOf: AS_OF, config, members, inventories, live: result.live, wgDumps: result.dumps }).findings;
  };
  const liveFindings = (findings: Finding[]) => findings.filter((f) => LIVE_CODES.has(f.code)).map((f) => [f.code, f.subject]);

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-live-'));
    await fs.chmod(tmp, 0o755); // the test user's session runs the stand-in wg from here
    home = createUser(user, () => createdUsers.push(user));
    for (const name of ['alice', 'bob', 'carol', 'stranger']) keys[name] = await sshKeygen(tmp, name);

    // What is really on the host: alice's key (Ansible logs in with it), carol's (departed), one nobody registered, garbage.
    planted = [keys.alice.publicLine, keys.carol.publicLine, keys.stranger.publicLine, 'this line is not a key', ''].join('\n');
    await fs.mkdir(path.join(home, '.ssh'), { mode: 0o700 });
    await fs.writeFile(path.join(home, '.ssh', 'authorized_keys'), planted, { mode: 0o600 });
    mustRun('chown', ['-R', `${user}:`, path.join(home, '.ssh')]);

    // A stand-in `wg` for the sshd session (SetEnv PATH below): a saved dump with a stranger's peer and carol's.
    const bin = path.join(tmp, 'bin');
    await fs.mkdir(bin, { mode: 0o755 });
    const dump = [`wg0\t(none)\t${serverWg}\t51820\toff`, `wg0\t${unknownPeer}\t(none)\t192.0.2.7:40000\t10.77.0.50/32\t0\t0\t0\toff`, `wg0\t${carolPeer}\t(none)\t(none)\t10.77.0.9/32\t0\t0\t0\toff`, ''].join('\n');
    await fs.writeFile(path.join(tmp, 'wg-dump.txt'), dump, { mode: 0o644 });
    await fs.writeFile(path.join(bin, 'wg'), `#!/bin/sh\n[ "$*" = "show all dump" ] || exit 64\nexec cat ${path.join(tmp, 'wg-dump.txt')}\n`, { mode: 0o755 });

    const rootKeys = path.join(tmp, 'root_authorized_keys');
    await fs.writeFile(rootKeys, `${keys.alice.publicLine}\n`, { mode: 0o600 });
    sshd = await startSshd(
      ['root', user],
      [`SetEnv PATH=${bin}:/usr/bin:/bin:/usr/sbin`, 'PermitRootLogin prohibit-password', 'Subsystem sftp internal-sftp', 'Match User root', `  AuthorizedKeysFile ${rootKeys}`],
    );
    closedPort = await freePort(); // nothing listens there
    // Accepts connections and says nothing: ssh waits for a banner until Ansible's timeout.
    silent = net.createServer((socket) => {
      silentSockets.add(socket);
      socket.on('close', () => silentSockets.delete(socket));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as net.AddressInfo).port;
    const hostKey = (await fs.readFile(path.join(sshd.dir, 'ssh_host_ed25519_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
    const knownHosts = path.join(tmp, 'known_hosts');
    await fs.writeFile(knownHosts, `[127.0.0.1]:${sshd.port} ${hostKey}\n`);
    emptyKnownHosts = path.join(tmp, 'known_hosts.empty');
    await fs.writeFile(emptyKnownHosts, '');

    const sshArgs = (known: string) => `-o UserKnownHostsFile=${known} -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes`;
    const host = (port: number, login: string, known: string) =>
      [`      ansible_host: 127.0.0.1`, `      ansible_port: ${port}`, `      ansible_user: ${login}`, `      ansible_ssh_private_key_file: ${keys.alice.privateKey}`, `      ansible_ssh_common_args: "${sshArgs(known)}"`, `      infra_sshd_config: ${path.join(sshd!.dir, 'sshd_config')}`];
    const inventory = [
      'all:',
      '  vars:',
      '    ansible_python_interpreter: /usr/bin/python3',
      '    infra_become: false', // Ansible logs in as root
      '  hosts:',
      '    web:',
      ...host(sshd.port, 'root', knownHosts),
      '    closed:',
      ...host(closedPort, 'root', knownHosts),
      // The same sshd under another login name (so it shares no ssh control connection with web), host key unknown.
      '    stranger:',
      ...host(sshd.port, `stranger-${suffix}`, emptyKnownHosts),
      '    silent:',
      ...host(silentPort, 'root', knownHosts),
      '      ansible_timeout: 3',
      '  children:',
      '    vpn:',
      '      hosts:',
      '        web:',
      '',
    ].join('\n');

    root = await makeRegistry(
      {
        config: baseConfig({
          environments: { test: 'inventories/test' },
          access: [
            { groups: ['infra'], hosts: 'all', user },
            { groups: ['infra'], hosts: 'web', user: ghost },
          ],
          vpn: {
            meet: {
              ipv4: '10.77.0.0/24',
              endpoint: 'vpn.example.org:51820',
              server_public_key: serverWg,
              reserved: ['10.77.0.1'],
              allowed_ips: ['10.77.0.0/24'],
              servers: 'vpn',
            },
          },
        }),
        members: {
          alice: memberData('alice', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: keys.alice.publicLine, added: '2026-01-01' }] }),
          bob: memberData('bob', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: keys.bob.publicLine, added: '2026-01-01' }] }),
          carol: memberData('carol', {
            status: 'departed',
            departed: '2026-03-01',
            ssh_keys: [{ name: 'laptop', key: keys.carol.publicLine, added: '2026-01-01' }],
            vpn_peers: [{ device: 'phone', network: 'meet', public_key: carolPeer, addresses: ['10.77.0.9/32'], added: '2026-01-01' }],
          }),
        },
        files: { 'inventories/test/hosts.yml': inventory },
      },
      path.join(tmp, 'registry'),
    );

    // What the audit service computes: every target of the plan, the VPN servers the network's pattern selects.
    const loaded = await loadRegistry(root);
    const { config, members } = loaded.registry;
    const inventories = await loadInventories(loaded);
    const plan = planAccess(config, members, inventories);
    requests = [
      {
        environment: 'test',
        inventoryPath: path.join(root, 'inventories', 'test'),
        targets: liveTargets(plan)
          .filter((t) => t.environment === 'test')
          .map(({ host, users }) => ({ host, users })),
        vpnServers: hostsOf(config.vpn.meet.servers, inventories.test),
      },
    ];
    collect = makeLiveCollector({
      timeoutMs: 120_000,
      env: {
        ANSIBLE_HOME: path.join(tmp, 'ansible-home'),
        ANSIBLE_LOCAL_TEMP: path.join(tmp, 'ansible-tmp'),
        ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(tmp, 'cp'),
        ANSIBLE_SSH_ARGS: '-o ControlMaster=no', // web and stranger are one sshd: no shared connection
        ANSIBLE_HOST_KEY_CHECKING: 'False', // the caller's setting; --live must not honour it
      },
    });
    first = await run(requests);
  }, 240_000);

  afterAll(async () => {
    // Ansible's ssh keeps control connections for 60 s: close them, so sshd's sessions end with the test.
    const sockets = await fs.readdir(path.join(tmp ?? '/nonexistent', 'cp')).catch(() => [] as string[]);
    for (const s of sockets) runSync('ssh', ['-O', 'exit', '-o', `ControlPath=${path.join(tmp, 'cp', s)}`, 'placeholder'], { timeoutMs: 10_000 });
    await sshd?.stop();
    for (const socket of silentSockets) socket.destroy();
    await new Promise((resolve) => (silent ? silent.close(resolve) : resolve(undefined)));
    for (const name of createdUsers) removeUser(name);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  }, 60_000);

  it('the plan asks for the right users and hosts (the setup is what the test says)', () => {
    expect(requests[0].targets).toEqual(
      expect.arrayContaining([
        { host: 'web', users: expect.arrayContaining([user, ghost]) },
        { host: 'closed', users: [user] },
        { host: 'stranger', users: [user] },
        { host: 'silent', users: [user] },
      ]),
    );
    expect(requests[0].vpnServers).toEqual(['web']);
  });

  it('reads the file exactly as it is on the host, and reports the user that does not exist', () => {
    const web = first.result.live.filter((h) => h.host === 'web');
    expect(web).toHaveLength(1);
    expect(web[0].sshd?.users[user].files).toEqual([{ kind: 'keys', path: path.join(home, '.ssh', 'authorized_keys'), state: 'ok', text: planted }]);
    expect(web[0].sshd?.users[user].view).toEqual({ ok: true, settings: expect.objectContaining({ authorizedkeysfile: '.ssh/authorized_keys', passwordauthentication: 'no' }) });
    expect(web[0].sshd?.users[ghost]).toEqual(expect.objectContaining({ exists: false, files: [] }));
  });

  it('a closed port, an unknown host key and a silent port are unreachable with Ansible\'s reason, and the key is not accepted', async () => {
    const byHost = new Map(first.result.live.map((h) => [h.host, h]));
    expect(byHost.get('closed')).toEqual({ environment: 'test', host: 'closed', unreachable: expect.stringMatching(/Connection refused/) });
    expect(byHost.get('stranger')).toEqual({ environment: 'test', host: 'stranger', unreachable: expect.stringMatching(/Host key verification failed/) });
    expect(byHost.get('silent')).toEqual({ environment: 'test', host: 'silent', unreachable: expect.stringMatching(/timed out/i) });
    expect(first.result.live).toHaveLength(4);
    expect(await fs.readFile(emptyKnownHosts, 'utf8')).toBe(''); // nothing was added behind anyone's back
  });

  it('the VPN server\'s `wg show all dump` comes back as a dump from that host', () => {
    expect(first.result.dumps).toHaveLength(1);
    expect(first.result.dumps[0].source).toBe('web');
    expect(first.result.dumps[0].dump.interfaces.map((i) => [i.name, i.publicKey])).toEqual([['wg0', serverWg]]);
    expect(first.result.dumps[0].dump.peers.map((p) => p.publicKey)).toEqual([unknownPeer, carolPeer]);
  });

  it('prints one progress line per host', () => {
    expect([...first.progress].sort()).toEqual([
      expect.stringMatching(/^test\/closed: unreachable: .*Connection refused/),
      expect.stringMatching(/^test\/silent: unreachable: .*timed out/i),
      expect.stringMatching(/^test\/stranger: unreachable: .*Host key verification failed/),
      expect.stringMatching(new RegExp(`^test/web: ${ghost}: no such user; ${user}: 3 keys in 1 file, 1 line sshd skips; wg: 1 interface, 2 peers$`)),
    ]);
  });

  it('the audit turns it into unknown-key, missing-key, departed-access, unknown-peer and unreachable-host', async () => {
    const findings = await audit(first.result);
    expect(liveFindings(findings)).toEqual([
      ['departed-access', 'carol/laptop'],
      ['departed-access', 'carol/phone'],
      ['unknown-key', `test/web ${user} ${fingerprint(keys.stranger.publicLine)}`], // the line that is no key grants nothing: no finding
      ['unknown-peer', `web:wg0/${unknownPeer}`],
      ['missing-key', `bob/laptop test/web ${user}`],
      ['unreachable-host', 'test/closed'],
      ['unreachable-host', 'test/silent'],
      ['unreachable-host', 'test/stranger'],
      ['unreachable-host', `test/web ${ghost}`],
    ]);
    const detail = (code: string, subject: string) => findings.find((f) => f.code === code && f.subject === subject)?.detail;
    expect(detail('departed-access', 'carol/laptop')).toContain(`test/web as ${user}`);
    expect(detail('departed-access', 'carol/phone')).toContain('on web');
    expect(detail('unreachable-host', 'test/stranger')).toMatch(/Host key verification failed/);
    expect(keyBody(keys.alice.publicLine)).not.toBe(keyBody(keys.bob.publicLine)); // alice's key, present and granted, is no finding
    expect(findings.some((f) => f.subject.includes('alice'))).toBe(false);
  });

  it('--limit passes through to Ansible: only the limited host is read', async () => {
    const { result, progress } = await run(requests.map((r) => ({ ...r, limit: 'closed' })));
    expect(result.live).toEqual([{ environment: 'test', host: 'closed', unreachable: expect.stringMatching(/Connection refused/) }]);
    expect(result.dumps).toEqual([]); // web, the VPN server, is outside the limit
    expect(progress).toEqual([expect.stringMatching(/^test\/closed: unreachable/)]);
  }, 120_000);

  it('a limit that matches no host reads nothing and is not an error', async () => {
    const { result, progress } = await run(requests.map((r) => ({ ...r, limit: `nothing-${suffix}` })));
    expect(result).toEqual({ live: [], dumps: [] });
    expect(progress).toEqual([]);
  }, 120_000);
});
