/**
 * Running an outside program (wg, ssh, ansible, ...): no shell, input on stdin, and always a deadline.
 * A program that never returns (a `wg show` stuck on a dead control socket) is killed and reported by
 * name, instead of hanging the command or a test until something else gives up.
 * Arguments appear in error messages: callers never put secrets on a command line (process lists leak them).
 */
import { spawn } from 'node:child_process';
import { ExitCode, InfraError } from '../lib/errors.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  /** Written to stdin, which is then closed (empty when absent). */
  input?: string | Uint8Array;
  /** Killed (SIGKILL) after this long; default DEFAULT_TIMEOUT_MS. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How to install the program, the hint when it is missing. */
  installHint?: string;
  /**
   * Run in a new session, without the controlling terminal: nothing it starts (ssh asking about a host key)
   * can prompt on the user's terminal; a timeout kills the whole process group.
   */
  newSession?: boolean;
  /** Called with each piece of stdout as it arrives; then stdout is not kept (the result's is empty): a long stream costs no memory. */
  onStdout?: (chunk: Buffer) => void;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/** `wg show all dump`, shortened: what a timeout message names. */
export function commandLine(command: string, args: readonly string[]): string {
  const line = [command, ...args].join(' ');
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

export function timedOut(command: string, args: readonly string[], timeoutMs: number): InfraError {
  return new InfraError(ExitCode.remote, `${commandLine(command, args)} did not finish within ${timeoutMs / 1000}s and was stopped`, {
    hint: `check that \`${command}\` works on its own (a stuck daemon or socket), then run the command again`,
  });
}

/**
 * Runs a program to completion and resolves to its output and exit code (a non-zero exit is not an error:
 * callers word their own). Rejects when it cannot start (missing: InfraError exit 5 with the install hint)
 * or does not finish in time (InfraError exit 5 naming the program).
 */
export function runProgram(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env, cwd: options.cwd, detached: options.newSession ?? false });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      if (options.newSession && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL'); // the group: ansible and the ssh processes it started
        } catch {
          child.kill('SIGKILL');
        }
      } else child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      if (options.onStdout) options.onStdout(b);
      else out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT') reject(new InfraError(ExitCode.remote, `${command} is not installed`, { hint: options.installHint ?? `install ${command} and put it on the PATH`, cause: e }));
      else reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (expired) reject(timedOut(command, args, timeoutMs));
      else resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code: code ?? (signal ? 128 : 1) });
    });
    child.stdin.on('error', () => undefined); // the program may exit before reading stdin; its exit code says why
    child.stdin.end(options.input ?? '');
  });
}
