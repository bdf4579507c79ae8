/**
 * A real OpenSSH server for tests: /usr/sbin/sshd on 127.0.0.1 and a free high port, with its own host
 * key, config and pid file in a temporary folder; plus a throwaway Unix user and an `ssh` login probe.
 * Everything started here is stopped by `stop()` / `removeUser()`; call them in afterAll.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, promises as fs, readFileSync, watch } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mustRun, runSync } from './program.js';

export interface Sshd {
  port: number;
  dir: string;
  /** Everything sshd has logged so far (it runs with -e, logging to stderr). */
  log(): string;
  /** Waits (up to timeoutMs) until the log matches; resolves to whether it did. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<boolean>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts sshd for `allowUsers`, reading each user's default ~/.ssh/authorized_keys. `extraConfig` lines are
 * appended to sshd_config (e.g. `SetEnv PATH=...` to give sessions a stand-in program).
 */
export async function startSshd(allowUsers: string[], extraConfig: readonly string[] = []): Promise<Sshd> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-sshd-'));
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation folder
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  await fs.writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'UsePAM no',
      'StrictModes no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'AuthorizedKeysFile .ssh/authorized_keys',
      `AllowUsers ${allowUsers.join(' ')}`,
      'LogLevel DEBUG1', // key expiry is reported at debug level only
      'MaxStartups 50',
      ...extraConfig,
      '',
    ].join('\n'),
  );
  // sshd logs to a file, not a pipe: a test that blocks the event loop (spawnSync of ssh, ansible-playbook or
  // infra) would stop a pipe being drained, and sshd, blocked writing its debug log, would hang the login.
  const logFile = path.join(dir, 'sshd.log');
  const logFd = openSync(logFile, 'a');
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  // Waiters are woken by sshd writing its log (or its exit), not by polling.
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  const watcher = watch(logFile, wake);
  child.once('exit', () => {
    wake();
    watcher.close();
  });
  const log = () => readFileSync(logFile, 'utf8');
  /** Resolves once the log matches (true), or false when sshd exits or `timeoutMs` passes first. */
  const waitForLog = (re: RegExp, timeoutMs = 5000) =>
    new Promise<boolean>((resolve) => {
      const check = () => {
        const done = re.test(log()) ? true : child.exitCode !== null || child.signalCode !== null ? false : undefined;
        if (done === undefined) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(done);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        resolve(re.test(log()));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  if (!(await waitForLog(new RegExp(`Server listening on 127\\.0\\.0\\.1 port ${port}\\b`), 10_000))) {
    child.kill('SIGKILL');
    throw new Error(`sshd did not listen on 127.0.0.1:${port} within 10 s (exit ${child.exitCode ?? child.signalCode ?? 'none yet'}):\n${log()}`);
  }
  return {
    port,
    dir,
    log,
    waitForLog,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 3000)))]);
        clearTimeout(timer);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      watcher.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A throwaway login user with a home folder; its password field is `*` (no password, not "locked", so sshd
 * without PAM lets keys in). `onCreated` runs as soon as useradd succeeded, so the caller's cleanup removes
 * the user even when a later step here throws.
 */
export function createUser(name: string, onCreated: () => void = () => {}): string {
  mustRun('useradd', ['-m', '-s', '/bin/sh', name]);
  onCreated();
  mustRun('usermod', ['-p', '*', name]);
  return mustRun('getent', ['passwd', name]).split(':')[5];
}

export function removeUser(name: string): void {
  runSync('userdel', ['-r', '-f', name]);
}

/** A key pair made by the real ssh-keygen: [private key path, public key line]. */
export async function sshKeygen(dir: string, name: string): Promise<{ privateKey: string; publicLine: string }> {
  const file = path.join(dir, name);
  mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', file]);
  return { privateKey: file, publicLine: (await fs.readFile(`${file}.pub`, 'utf8')).trim() };
}

/** Tries a login with one private key only; true when sshd let it in and `true` ran. */
export function canLogin(user: string, port: number, privateKey: string): { ok: boolean; stderr: string } {
  const r = runSync(
    'ssh',
    [
      '-F', '/dev/null',
      '-i', privateKey,
      '-p', String(port),
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'BatchMode=yes',
      '-o', 'IdentitiesOnly=yes',
      '-o', 'PreferredAuthentications=publickey',
      '-o', 'ConnectTimeout=10',
      `${user}@127.0.0.1`,
      'true',
    ],
    { timeoutMs: 30_000 },
  );
  return { ok: r.code === 0, stderr: r.stderr };
}
