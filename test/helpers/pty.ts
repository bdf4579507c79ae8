/**
 * The real CLI on a real terminal: script(1) gives it a pseudo-terminal, so prompts appear as a user sees
 * them. Each answer is typed when its prompt has been printed (no sleeps), and the run has a deadline.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './example.js';

export interface PtyResult {
  code: number;
  /** everything the terminal showed (stdout and stderr together, with escape codes) */
  screen: string;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Each answer is typed when its pattern shows; an answer that is a function is called instead (to act on what the screen showed). */
export function runOnTerminal(args: string[], answers: Array<[RegExp, string | (() => void)]>, opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<PtyResult> {
  return runCommandOnTerminal([process.execPath, path.join(REPO_ROOT, 'bin/run.js'), ...args], answers, opts);
}

/** Any program on a pseudo-terminal (e.g. ansible-playbook running infra's vault client), answering prompts as they appear. */
export function runCommandOnTerminal(argv: string[], answers: Array<[RegExp, string | (() => void)]>, opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<PtyResult> {
  const args = argv.slice(1);
  const command = argv.map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: opts.cwd ?? REPO_ROOT, env: { ...process.env, TERM: 'xterm', COLUMNS: '100', ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let seenUpTo = 0;
    const pending = [...answers];
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`infra ${args.join(' ')} on a terminal did not finish within ${(opts.timeoutMs ?? 30000) / 1000} s; the screen showed:\n${screen}`));
    }, opts.timeoutMs ?? 30000);
    child.stdout.on('data', (d: Buffer) => {
      screen += d.toString('utf8');
      const next = pending[0];
      if (next && next[0].test(screen.slice(seenUpTo))) {
        pending.shift();
        seenUpTo = screen.length;
        if (typeof next[1] === 'function') next[1]();
        else child.stdin.write(`${next[1]}\r`);
      }
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (pending.length) reject(new Error(`the prompt ${pending[0][0]} never appeared; the screen showed:\n${screen}`));
      else resolve({ code: code ?? -1, screen });
    });
  });
}
