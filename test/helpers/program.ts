/**
 * Running a program from a test, synchronously, always with a deadline: the counterpart of runProgram
 * (src/adapters/run-program.ts) for setup steps and probes. A program that hangs is killed and the test fails
 * with an error naming it, instead of the run stalling until jest's own timeout.
 */
import { spawnSync, type StdioOptions } from 'node:child_process';
import { commandLine, timedOut } from '../../src/adapters/run-program.js';

export interface ProgramResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ProgramOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default 30 s; ansible-playbook runs get more. */
  timeoutMs?: number;
  /** Throw, with the output, when the exit code is not 0. */
  check?: boolean;
  /** Daemons that fork (wireguard-go) must not inherit our pipes: pass ['ignore', 'ignore', 'pipe']. */
  stdio?: StdioOptions;
}

export function runSync(command: string, args: readonly string[], options: ProgramOptions = {}): ProgramResult {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const r = spawnSync(command, args, {
    input: options.input,
    env: options.env,
    cwd: options.cwd,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: options.stdio ?? 'pipe',
  });
  const error = r.error as NodeJS.ErrnoException | undefined;
  if (error?.code === 'ETIMEDOUT') throw timedOut(command, args, timeoutMs);
  if (error) throw new Error(`${commandLine(command, args)} could not run: ${error.message}`);
  const result = { code: r.status ?? 128, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (options.check && result.code !== 0) throw new Error(`${commandLine(command, args)} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** runSync with check: the output of a step that must succeed. */
export const mustRun = (command: string, args: readonly string[], options: Omit<ProgramOptions, 'check'> = {}): string => runSync(command, args, { ...options, check: true }).stdout;
