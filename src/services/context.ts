/**
 * What every service works over. Commands build the real one (`cliContext`); tests build one with a
 * fixed clock, seeded randomness, a scripted prompter, captured streams and local HTTP servers.
 *
 * The rule for output (as in age's README): services return data, and the command prints it to stdout;
 * an artifact a service delivers (a device config, a QR code) goes to `stdout`; talk (progress, notes,
 * warnings) goes to `stderr` through `say`, and not at all under --json.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { RegistryStore } from '../adapters/registry-store.js';
import { localDate } from '../core/dates.js';
import type { IsoDate, Member, Registry } from '../core/types.js';
import { ExitCode, InfraError, noMember } from '../lib/errors.js';
import { cleanTalk } from '../lib/style.js';
import type { Prompter } from '../lib/prompter.js';

export interface OutStream {
  write(text: string): void;
  /** A terminal: progress lines, colour, QR codes. */
  isTTY: boolean;
  /** Width to fit tables to: the terminal's, else $COLUMNS, else 80; unlimited on a pipe without $COLUMNS. */
  columns: number;
}

export interface Context {
  store: RegistryStore;
  /** The clock: services never call `new Date()` themselves. */
  now(): Date;
  /** Randomness: key pairs, generic tokens. */
  random(bytes: number): Uint8Array;
  /** Present only when prompting is allowed: both streams are terminals, and neither --json nor --no-input. */
  prompter?: Prompter;
  stdout: OutStream;
  stderr: OutStream;
  /** --json: stdout carries one JSON document, printed by the command. */
  json: boolean;
  env: Readonly<Record<string, string | undefined>>;
  /** Where relative paths given by the user are resolved. */
  cwd: string;
  /** What a `-` argument reads; absent: the process's stdin. Tests pass text here. */
  stdin?: () => Promise<string>;
}

/** A file the user named (relative to ctx.cwd), or stdin for `-`. */
export async function readArg(ctx: Context, file: string): Promise<string> {
  const { readInput, readStdin } = await import('../adapters/input.js');
  if (file === '-') return ctx.stdin ? ctx.stdin() : readStdin();
  return readInput(path.resolve(ctx.cwd, file));
}

export const today = (ctx: Pick<Context, 'now'>): IsoDate => localDate(ctx.now());

/** Talk on stderr; silent under --json. */
export function say(ctx: Context, message: string): void {
  if (!ctx.json) ctx.stderr.write(`${cleanTalk(message.replace(/\n$/, ''))}\n`);
}

/**
 * A value from a flag, else from a prompt on a terminal, else a usage error naming the flag.
 * `check` returns a problem text or undefined; a bad flag value is invalid input (exit 3).
 */
export async function need(ctx: Context, value: string | undefined, flag: string, message: string, check?: (v: string) => string | undefined): Promise<string> {
  if (value !== undefined) {
    const problem = check?.(value);
    if (problem) throw new InfraError(ExitCode.invalid, `--${flag}: ${problem}`);
    return value;
  }
  if (!ctx.prompter)
    throw new InfraError(ExitCode.usage, `missing --${flag}`, { hint: `pass --${flag} ${flag.toUpperCase()} (infra prompts for it only on a terminal)` });
  return ctx.prompter.input({ message, validate: check ? (v) => check(v) ?? true : undefined });
}

/** Every missing flag at once, for commands that need several (`members add --no-input`). */
export function requireFlags(ctx: Context, values: Record<string, string | undefined>, example: string): void {
  if (ctx.prompter) return;
  const missing = Object.entries(values).filter(([, v]) => v === undefined).map(([k]) => `--${k}`);
  if (missing.length)
    throw new InfraError(ExitCode.usage, `missing ${missing.join(', ')}`, { hint: `${example} (infra prompts for these only on a terminal)` });
}

/**
 * Tables fit a terminal: its width, else $COLUMNS, else 80. Piped output keeps every character (a `grep`
 * must find the whole address) unless $COLUMNS asks for a width.
 */
export function streamOf(stream: NodeJS.WriteStream, env: Readonly<Record<string, string | undefined>>): OutStream {
  const fromEnv = Number(env.COLUMNS);
  const asked = Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : undefined;
  return {
    write: (text) => void stream.write(text),
    isTTY: Boolean(stream.isTTY),
    columns: stream.isTTY ? stream.columns || asked || 80 : (asked ?? Number.POSITIVE_INFINITY),
  };
}

export interface CliOptions {
  store: RegistryStore;
  json: boolean;
  noInput: boolean;
  prompter?: Prompter;
  onTerminal: boolean;
}

export function cliContext(opts: CliOptions): Context {
  return {
    store: opts.store,
    now: () => new Date(),
    random: (n) => randomBytes(n),
    prompter: opts.onTerminal && !opts.json && !opts.noInput ? opts.prompter : undefined,
    stdout: streamOf(process.stdout, process.env),
    stderr: streamOf(process.stderr, process.env),
    json: opts.json,
    env: process.env,
    cwd: process.cwd(),
  };
}

/** The member with `handle`, or the one "no member" error (naming the closest handles). */
export function requireMember(registry: Registry, handle: string): Member {
  const member = registry.members.find((m) => m.handle === handle);
  if (!member) throw noMember(handle, registry.members.map((m) => m.handle));
  return member;
}
