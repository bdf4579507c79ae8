/**
 * A Context for testing services directly, without a build: the registry at `root`, a fixed clock,
 * deterministic randomness, and stdout/stderr captured as strings (`ctx.output`).
 */
import { createHash } from 'node:crypto';
import { RegistryStore } from '../../src/adapters/registry-store.js';
import type { Context, OutStream } from '../../src/services/context.js';
import type { Prompter } from '../../src/lib/prompter.js';

export interface TestContextOptions {
  root: string;
  /** The local date the clock shows (at noon), YYYY-MM-DD. */
  today?: string;
  /** Given: prompting is allowed (as on a terminal); absent: a missing value is an error naming the flag. */
  prompter?: Prompter;
  /** What a `-` argument reads. */
  stdin?: string;
  columns?: number;
  json?: boolean;
  /** Whether stdout and stderr are terminals (default: as given by `prompter`). */
  terminal?: boolean;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Seed of the randomness: the same seed gives the same bytes. */
  seed?: string;
}

export type TestContext = Context & { output: { stdout: string; stderr: string } };

/** sha256(seed:0) || sha256(seed:1) || ...: a byte stream that is the same on every run. */
export function seededRandom(seed: string): (n: number) => Buffer {
  let counter = 0;
  return (n) => {
    const out = Buffer.alloc(n);
    for (let filled = 0; filled < n; ) filled += createHash('sha256').update(`${seed}:${counter++}`).digest().copy(out, filled);
    return out;
  };
}

export function testContext(opts: TestContextOptions): TestContext {
  const output = { stdout: '', stderr: '' };
  const terminal = opts.terminal ?? opts.prompter !== undefined;
  const stream = (name: 'stdout' | 'stderr'): OutStream => ({
    write: (text) => void (output[name] += text),
    isTTY: terminal,
    columns: opts.columns ?? 80,
  });
  const now = new Date(`${opts.today ?? '2026-06-15'}T12:00:00`);
  const stdin = opts.stdin;
  return {
    store: new RegistryStore({ dir: opts.root }),
    now: () => new Date(now),
    random: seededRandom(opts.seed ?? 'infra-test'),
    prompter: opts.prompter,
    stdout: stream('stdout'),
    stderr: stream('stderr'),
    json: opts.json ?? false,
    env: opts.env ?? {},
    cwd: opts.cwd ?? opts.root,
    ...(stdin !== undefined ? { stdin: async () => stdin } : {}),
    output,
  };
}
