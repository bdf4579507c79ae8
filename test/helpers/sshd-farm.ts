/**
 * A farm of real sshd "hosts" on this machine for `audit --live` proofs and the bench: each host is
 * /usr/sbin/sshd on 127.0.0.1 and its own port, with its own host key, sshd_config, and its own /home
 * (a private mount namespace binds the host's folder over /home, so what Ansible writes in one host's
 * home is not in another's). Root logs in with one key (Match User root names a file of the farm) so
 * Ansible can run `sshd -T` as root without sudo. An inventory with host-key checking on is written too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { mustRun } from './program.js';
import { freePort } from './sshd.js';

export interface FarmHost {
  name: string;
  port: number;
  dir: string;
  /** sshd_config of this host */
  config: string;
  /** The user's home on this host, as seen from outside its namespace. */
  home(user: string): string;
  log(): string;
}

export interface Farm {
  hosts: FarmHost[];
  /** known_hosts holding every host's key, as [127.0.0.1]:port lines */
  knownHosts: string;
  /** inventory lines (YAML, under `hosts:`) for every host, 4-space indented */
  inventoryLines(extra?: Record<string, readonly string[]>): string[];
  stop(): Promise<void>;
}

export interface FarmOptions {
  /** folder for everything (one sub-folder per host) */
  dir: string;
  names: readonly string[];
  /** users with a home on every host (they must exist in /etc/passwd, with homes under /home) */
  users: readonly string[];
  /** the private key Ansible logs in as root with, and its public line */
  rootKey: { privateKey: string; publicLine: string };
  /** extra sshd_config lines per host, read before the farm's defaults (sshd keeps the first value) */
  extraConfig?: Readonly<Record<string, readonly string[]>>;
}

async function waitFor(child: ChildProcess, output: () => string, re: RegExp, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const check = () => {
      if (re.test(output())) finish(true);
      else if (child.exitCode !== null || child.signalCode !== null) finish(false);
    };
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('exit', check);
      resolve(ok);
    };
    const timer = setTimeout(() => finish(re.test(output())), timeoutMs);
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.on('exit', check);
    check();
  });
}

export async function startFarm(o: FarmOptions): Promise<Farm> {
  await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const children: ChildProcess[] = [];
  const hosts: FarmHost[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
        clearTimeout(timer);
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }),
    );
  };
  try {
    for (const name of o.names) {
      const dir = path.join(o.dir, name);
      await fs.mkdir(path.join(dir, 'home'), { recursive: true, mode: 0o755 });
      for (const user of o.users) {
        const home = path.join(dir, 'home', user);
        await fs.mkdir(home, { mode: 0o755 });
        mustRun('chown', [`${user}:`, home]);
      }
      const hostKey = path.join(dir, 'ssh_host_ed25519_key');
      mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
      const rootKeys = path.join(dir, 'root_authorized_keys');
      await fs.writeFile(rootKeys, `${o.rootKey.publicLine}\n`, { mode: 0o600 });
      const port = await freePort();
      const config = path.join(dir, 'sshd_config');
      await fs.writeFile(
        config,
        [
          `Port ${port}`,
          'ListenAddress 127.0.0.1',
          `HostKey ${hostKey}`,
          `PidFile ${path.join(dir, 'sshd.pid')}`,
          // sshd keeps the first value it reads: a host's own lines come before the farm's defaults
          ...(o.extraConfig?.[name] ?? []),
          'UsePAM no',
          'StrictModes no',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'PermitRootLogin prohibit-password',
          `AllowUsers root ${o.users.join(' ')}`,
          'MaxStartups 100',
          'Subsystem sftp internal-sftp', // Ansible copies its modules over sftp
          'LogLevel VERBOSE',
          // Only root's file is the farm's; every other user gets OpenSSH's default AuthorizedKeysFile.
          'Match User root',
          `  AuthorizedKeysFile ${rootKeys}`,
          '',
        ].join('\n'),
      );
      let output = '';
      const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" /home && exec /usr/sbin/sshd -D -e -f "$2"', 'sh', path.join(dir, 'home'), config], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      child.stdout!.on('data', (d) => (output += d));
      child.stderr!.on('data', (d) => (output += d));
      if (!(await waitFor(child, () => output, new RegExp(`Server listening on 127\\.0\\.0\\.1 port ${port}\\b`), 10_000)))
        throw new Error(`sshd for ${name} did not listen on 127.0.0.1:${port} within 10 s:\n${output}`);
      hosts.push({ name, port, dir, config, home: (user) => path.join(dir, 'home', user), log: () => output });
    }
    const knownHosts = path.join(o.dir, 'known_hosts');
    const lines: string[] = [];
    for (const h of hosts) lines.push(`[127.0.0.1]:${h.port} ${(await fs.readFile(path.join(h.dir, 'ssh_host_ed25519_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ')}`);
    await fs.writeFile(knownHosts, `${lines.join('\n')}\n`);
    const inventoryLines = (extra: Record<string, readonly string[]> = {}) =>
      hosts.flatMap((h) => [
        `    ${h.name}:`,
        '      ansible_host: 127.0.0.1',
        `      ansible_port: ${h.port}`,
        '      ansible_user: root',
        `      ansible_ssh_private_key_file: ${o.rootKey.privateKey}`,
        `      ansible_ssh_common_args: "-o UserKnownHostsFile=${knownHosts} -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes"`,
        `      ansible_remote_tmp: ${path.join(h.dir, 'ansible-tmp')}`,
        '      ansible_python_interpreter: /usr/bin/python3',
        '      infra_become: false',
        `      infra_sshd_config: ${h.config}`,
        ...(extra[h.name] ?? []).map((l) => `      ${l}`),
      ]);
    return { hosts, knownHosts, inventoryLines, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
