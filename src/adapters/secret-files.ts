/**
 * Files that hold secrets (a vault password, a private key): like ssh, infra says so when one of them can be
 * read by the file's group or by everyone, with the command that fixes it. A warning, not a refusal: the
 * secret may already have leaked, and the user must know, but the task at hand can still be done.
 */
import { promises as fs } from 'node:fs';
import { shellQuote } from '../lib/shell-quote.js';

/** The warning for a file with `mode`, or undefined when only its owner can read it. */
export function readableByOthersWarning(file: string, mode: number, what = 'file'): string | undefined {
  if ((mode & 0o044) === 0) return undefined;
  const who = mode & 0o004 ? 'everyone' : 'its group';
  return `${what} ${file} is readable by ${who} (mode ${(mode & 0o777).toString(8)}): chmod 600 ${shellQuote(file)}`;
}

/**
 * Call `say` with a warning when the secret file at `file` is readable by its group or others (the link's
 * target counts, as for a read). Returns whether it warned; a file that cannot be examined is left to the read.
 */
export async function warnIfReadableByOthers(file: string, say: (warning: string) => void, what = 'file'): Promise<boolean> {
  const info = await fs.stat(file).catch(() => undefined);
  const warning = info?.isFile() ? readableByOthersWarning(file, info.mode, what) : undefined;
  if (warning) say(warning);
  return warning !== undefined;
}
