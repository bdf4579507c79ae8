/**
 * An authorized_keys file read line by line, as sshd reads it: each line is a key (with its options) or a
 * skipped line with the reason. A thin wrapper over parseAuthorizedKeyLine (ssh-key.ts) until the parser
 * with sshd's exact semantics replaces this file with the same API.
 */
import { parseAuthorizedKeyLine } from './ssh-key.js';

export interface KeyOption {
  name: string /* lower-case */;
  value?: string /* unquoted, unescaped */;
}
export interface AuthorizedKey {
  line: number;
  options: KeyOption[];
  type: string;
  blob: string /* canonical base64 */;
  comment: string;
}
export interface SkippedLine {
  line: number;
  reason: string;
}

/** `name` or `name="value"` as written (parseAuthorizedKeyLine checked the quoting). */
function option(written: string): KeyOption {
  const eq = written.indexOf('=');
  if (eq < 0) return { name: written.toLowerCase() };
  return { name: written.slice(0, eq).toLowerCase(), value: written.slice(eq + 2, -1).replace(/\\"/g, '"') };
}

export function parseAuthorizedKeys(text: string): { keys: AuthorizedKey[]; skipped: SkippedLine[] } {
  const keys: AuthorizedKey[] = [];
  const skipped: SkippedLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.replace(/\r$/, '').trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    try {
      const k = parseAuthorizedKeyLine(raw);
      keys.push({ line: i + 1, options: k.options.map(option), type: k.type, blob: k.base64, comment: k.comment });
    } catch (e) {
      skipped.push({ line: i + 1, reason: (e as Error).message });
    }
  });
  return { keys, skipped };
}
