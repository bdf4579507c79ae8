/**
 * Asking a running test sshd (./sshd.ts, LogLevel DEBUG1) what it made of one login attempt: which
 * authorized_keys lines it matched ("FILE:N: matching key found" / "matching CA found"), read from its log
 * between the attempt's start and a marker connection made after the attempt ended. The marker is a TCP
 * connection that only sends a version banner: sshd logs it, and since every line of the attempt was
 * written before the client exited, everything before the marker belongs to the attempt. No sleeps.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import type { Sshd } from './sshd.js';

let markers = 0;

/** Opens a connection that sends only a banner; resolves once sshd has logged it. */
async function mark(sshd: Sshd): Promise<string> {
  const marker = `infraMarker${process.pid}x${++markers}`;
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(sshd.port, '127.0.0.1', () => socket.end(`SSH-2.0-${marker}\r\n`));
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.resume();
    socket.setTimeout(10_000, () => socket.destroy(new Error('marker connection timed out')));
  });
  if (!(await sshd.waitForLog(new RegExp(`software version ${marker}\\b`), 10_000))) throw new Error(`sshd never logged the marker ${marker}:\n${sshd.log().slice(-2000)}`);
  return marker;
}

/** `ssh` with BatchMode and a deadline, run asynchronously so that sshd's log keeps being read meanwhile. */
export function sshLogin(user: string, port: number, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'ssh',
      [
        '-F', '/dev/null',
        '-p', String(port),
        '-o', 'StrictHostKeyChecking=no',
        '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'BatchMode=yes',
        '-o', 'PreferredAuthentications=publickey',
        '-o', 'ConnectTimeout=10',
        ...args,
        `${user}@127.0.0.1`,
        'true',
      ],
      { timeout: 30_000, killSignal: 'SIGKILL', env },
      (error, _stdout, stderr) => resolve({ ok: !error, stderr: String(stderr) }),
    );
  });
}

export interface Attempt {
  loggedIn: boolean;
  /** Lines of authorized_keys sshd matched a key (not a CA) against. */
  keyLines: number[];
  /** Lines sshd matched as a CA for a certificate. */
  caLines: number[];
  log: string;
}

/** Runs one login attempt and returns what sshd logged about it. */
export async function attempt(sshd: Sshd, login: () => Promise<{ ok: boolean }>): Promise<Attempt> {
  const before = sshd.log().length;
  const { ok } = await login();
  const marker = await mark(sshd);
  const log = sshd.log().slice(before, sshd.log().indexOf(marker, before));
  const lines = (kind: string) => [...log.matchAll(new RegExp(`authorized_keys:(\\d+): matching ${kind} found`, 'g'))].map((m) => Number(m[1]));
  return { loggedIn: ok, keyLines: [...new Set(lines('key'))], caLines: [...new Set(lines('CA'))], log };
}
