/**
 * Arguments given in the wrong order (docs/reference.md "Arguments in the wrong order"). When a call names
 * no member but another of its arguments is one (`keys remove laptop gina`, `keys add gina.pub gina`), or
 * `BOT NAME` names a token written `BOT/NAME`, the user swapped or split them: say the call back corrected
 * instead of suggesting `infra members add laptop` or calling a file name an invalid handle.
 */
import { ExitCode, InfraError } from '../lib/errors.js';
import { printable } from '../core/validate.js';
import type { Context } from './context.js';

/** One way the call could have been meant: `member` is the argument that would be the handle. */
export interface Reordering {
  member: string;
  /** The whole corrected command; undefined when a word of it cannot be said back. */
  corrected: string | undefined;
}

/** A word as a shell would need it; undefined for anything unprintable, which is never said back. */
export function shellWord(word: string): string | undefined {
  if (!word.length || word.length > 200 || /[^\x20-\x7e]/.test(word)) return undefined;
  return /^[A-Za-z0-9_@%+=:,./~-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `infra WORDS...` with each word quoted as needed; undefined when a word cannot be said back. */
export function command(words: Array<string | undefined | false>): string | undefined {
  const quoted = words.filter((w): w is string => typeof w === 'string').map(shellWord);
  return quoted.every((w) => w !== undefined) ? ['infra', ...quoted].join(' ') : undefined;
}

async function memberHandles(ctx: Context): Promise<Set<string> | undefined> {
  try {
    return new Set((await ctx.store.load()).registry.members.map((m) => m.handle));
  } catch {
    return undefined; // a registry that does not load: its own error says more than a guess would
  }
}

/**
 * Runs `attempt`; when it fails and `given` (the argument taken as the handle) is no member while one of
 * `alternatives` names a member, the failure was the order of the arguments: that error replaces it, same
 * exit code, with the corrected command as the hint. Only the error path loads the registry again.
 */
export async function inArgumentOrder<T>(ctx: Context, given: string, alternatives: Reordering[], attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (e) {
    if (!(e instanceof InfraError) || e.exitCode !== ExitCode.invalid) throw e;
    const members = await memberHandles(ctx);
    if (!members || members.has(given)) throw e;
    const fix = alternatives.find((a) => a.member !== given && members.has(a.member) && a.corrected !== undefined);
    if (!fix) throw e;
    throw new InfraError(e.exitCode, `"${printable(given)}" is not a member but "${fix.member}" is: the arguments are in the wrong order`, { hint: fix.corrected });
  }
}

/**
 * `BOT NAME` (or `NAME BOT`) where `BOT/NAME` was meant: the joined reference when the two words are a
 * member and one of its token names, else undefined. Only a name the registry lists is ever said back, so a
 * token value typed by mistake never is.
 */
export async function splitTokenRef(ctx: Context, words: readonly string[]): Promise<string | undefined> {
  if (words.length !== 2) return undefined;
  let members;
  try {
    members = (await ctx.store.load()).registry.members;
  } catch {
    return undefined;
  }
  for (const [handle, name] of [words, [...words].reverse()]) {
    const member = members.find((m) => m.handle === handle);
    if (member?.tokens.some((t) => t.name === name)) return `${handle}/${name}`;
  }
  return undefined;
}
