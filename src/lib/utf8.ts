/**
 * Registry files are UTF-8. A file that is not (a Latin-1 comment, a stray byte) is refused naming its line,
 * never decoded with replacement characters: an edit would otherwise write U+FFFD over bytes it never meant
 * to touch.
 */
import { ExitCode, InfraError } from './errors.js';
import { shellCommand, shellQuote } from './shell-quote.js';

const STRICT = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The offset of the first byte that does not belong to a well-formed UTF-8 sequence, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    if (need === 0) {
      i++;
      continue;
    }
    // the second byte's range rules out overlong forms, surrogates and code points past U+10FFFF
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    if (i + need >= bytes.length) return i; // cut short at the end
    if (bytes[i + 1] < lo || bytes[i + 1] > hi) return i;
    for (let k = 2; k <= need; k++) if (bytes[i + k] < 0x80 || bytes[i + k] > 0xbf) return i;
    i += need + 1;
  }
  return -1;
}

/** `bytes` as text, or an InfraError (exit 3) naming `rel`, the line and the byte that is not UTF-8. */
export function decodeUtf8(bytes: Uint8Array, rel: string): string {
  try {
    return STRICT.decode(bytes);
  } catch {
    const at = Math.max(0, firstInvalidUtf8(bytes));
    let line = 1;
    for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line++;
    const byte = `0x${bytes[at]?.toString(16).padStart(2, '0') ?? '??'}`;
    throw new InfraError(ExitCode.invalid, `${rel}:${line}: is not valid UTF-8 (byte ${byte}); infra reads and writes registry files as UTF-8 and does not rewrite this one`, {
      hint: `convert it, e.g. \`${shellCommand(['iconv', '-f', 'latin1', '-t', 'utf-8', rel])} > ${shellQuote(`${rel}.utf8`)} && ${shellCommand(['mv', `${rel}.utf8`, rel])}\`, check the line, then run the command again`,
      problems: [{ file: rel, line, field: '(file)', message: `is not valid UTF-8 (byte ${byte} on this line): convert the file to UTF-8` }],
    });
  }
}
