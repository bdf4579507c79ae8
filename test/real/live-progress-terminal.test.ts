/**
 * `audit --live` on a terminal shows one progress line per host AS IT ANSWERS, before the report: the built
 * `infra` on a pseudo-terminal (script(1), test/helpers/pty.ts), real Ansible, one real sshd host (its own
 * mount namespace, test/helpers/sshd-farm.ts) and one host that accepts TCP and says nothing.
 *
 * No timing: the silent host is held silent until the terminal has shown the sshd host's progress line,
 * and only then are its connections closed (so it becomes unreachable at once). The --timeout is longer
 * than the test's own deadline, so if progress were printed only when the run ends (buffered, or only
 * with the report), the sshd host's line could never show while the silent host is held, and the test
 * fails at its deadline with what the screen showed.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runOnTerminal } from '../helpers/pty.js';
import { isRoot, requireTool } from '../helpers/real-tools.js';
import { baseConfig, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { createUser, removeUser, sshKeygen } from '../helpers/sshd.js';
import { startFarm, type Farm } from '../helpers/sshd-farm.js';

const ready =
  [
    requireTool('/usr/sbin/sshd', 'openssh-server'),
    requireTool('ssh', 'openssh-client'),
    requireTool('ssh-keygen', 'openssh-client'),
    requireTool('ansible', 'ansible'),
    requireTool('unshare', 'util-linux'),
    requireTool('useradd', 'passwd'),
    requireTool('script', 'bsdutils'),
  ].every(Boolean) && isRoot();
const d = ready ? describe : describe.skip;

d('audit --live progress on a terminal', () => {
  const suffix = randomBytes(3).toString('hex');
  const user = `infra-lp-${suffix}`;
  let tmp: string;
  let farm: Farm | undefined;
  let silent: net.Server | undefined;
  const sockets = new Set<net.Socket>();
  let userCreated = false;

  afterAll(async () => {
    await farm?.stop();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => (silent ? silent.close(resolve) : resolve(undefined)));
    if (userCreated) removeUser(user);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  }, 60_000);

  it('prints each host\'s line as that host answers, before the report; the silent host\'s line comes when it gives up', async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-lp-'));
    await fs.chmod(tmp, 0o755);
    createUser(user, () => (userCreated = true));
    const ansibleKey = await sshKeygen(tmp, 'ansible');
    const bob = await sshKeygen(tmp, 'bob');
    farm = await startFarm({ dir: path.join(tmp, 'farm'), names: ['one'], users: [user], rootKey: ansibleKey });
    let released = false;
    silent = net.createServer((socket) => {
      if (released) socket.destroy();
      else sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as net.AddressInfo).port;
    const root = await makeRegistry(
      {
        config: baseConfig({ environments: { test: 'inventories/test' }, access: [{ groups: ['ops'], hosts: 'all', user }] }),
        members: { bob: memberData('bob', { groups: ['ops'], ssh_keys: [{ name: 'laptop', key: bob.publicLine, added: '2026-01-01' }] }) },
        files: {
          'inventories/test/hosts.yml': [
            'all:',
            '  hosts:',
            ...farm.inventoryLines(),
            '    silent:',
            '      ansible_host: 127.0.0.1',
            `      ansible_port: ${silentPort}`,
            '      ansible_user: root',
            `      ansible_ssh_common_args: "-o UserKnownHostsFile=${farm.knownHosts} -o GlobalKnownHostsFile=/dev/null"`,
            '',
          ].join('\n'),
        },
      },
      path.join(tmp, 'registry'),
    );
    // The sshd host's line has shown: let the silent host go (close what it holds, refuse what comes).
    const release = () => {
      released = true;
      for (const s of sockets) s.destroy();
    };
    const r = await runOnTerminal(['audit', '--live', '--timeout', '900', '--as-of', '2026-06-01', '--dir', root], [[new RegExp(`test/one: ${user}: \\d+ keys? in \\d+ files?`), release]], {
      timeoutMs: 300_000,
      env: { ANSIBLE_HOME: path.join(tmp, 'ansible-home'), ANSIBLE_LOCAL_TEMP: path.join(tmp, 'ansible-tmp'), ANSIBLE_SSH_ARGS: '-o ControlMaster=no', NO_COLOR: '1' },
    });
    const screen = r.screen.replace(/\r/g, '');
    const one = screen.search(new RegExp(`^test/one: ${user}: `, 'm'));
    const gone = screen.search(/^test\/silent: unreachable: /m);
    const report = screen.search(/^infra audit, 2026-06-01: /m);
    expect([r.code, one >= 0, gone >= 0, report >= 0]).toEqual([0, true, true, true]);
    expect(one).toBeLessThan(gone); // by construction: the silent host answered nothing until line one showed
    expect(gone).toBeLessThan(report); // every progress line before the report
    expect(screen.slice(report)).toMatch(/unreachable-host\s+test\/silent/);
  }, 600_000);
});
