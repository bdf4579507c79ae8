/** Running the built CLI: in-process through @oclif/test (fast, per mode), or as a real process (exit codes, stdin). */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { run as oclifRun } from '@oclif/core';
import { captureOutput } from '@oclif/test';
import { REPO_ROOT } from './example.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * In-process, like @oclif/test's runCommand, whose array form joins and re-splits the argv on spaces
 * (so `--name "Gina Rossi"` would break); this passes the argv through untouched.
 * `code` is the exit code oclif would give: 0, or the error's oclif.exit.
 */
export async function run(args: string[]): Promise<CliResult & { result: unknown }> {
  const r = await captureOutput(async () => oclifRun(args, { root: REPO_ROOT }));
  const err = r.error as (Error & { oclif?: { exit?: number } }) | undefined;
  return { code: err ? (err.oclif?.exit ?? 1) : 0, stdout: r.stdout, stderr: r.stderr, result: r.result };
}

/** The CLI as a process; killed and failed by name when it does not finish within `timeoutMs` (default 60 s). */
export function spawnCli(args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/run.js'), ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (expired) reject(new Error(`infra ${args.join(' ')} did not finish within ${timeoutMs / 1000}s and was stopped; it printed:\n${stdout}\n${stderr}`));
      else resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.on('error', () => undefined); // the CLI may exit before reading everything (refused input)
    child.stdin.end(opts.input ?? '');
  });
}
