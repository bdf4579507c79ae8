/**
 * Text Ansible (Python) reads differently from what an editor shows: Python's whitespace, its line breaks,
 * and what PyYAML refuses. A file with such a character is refused, naming every place.
 */
import { shellQuote } from '../lib/shell-quote.js';
import { InfraError, ExitCode } from '../lib/errors.js';
import { codePoint } from './inventory-model.js';

/** Python's str.isspace(): what Ansible's `line.strip()` removes and what `\s` matches in its regexes (JavaScript's `\s` differs: it has U+FEFF but not U+001C-U+001F or U+0085). */
export const PY_SPACE = String.raw`\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000`;
const PY_STRIP_RE = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');

/** Python's str.strip() with no argument. */
export function pythonStrip(text: string): string {
  return text.replace(PY_STRIP_RE, '');
}

/**
 * Characters Python's str.splitlines() (how Ansible's INI plugin cuts a file into lines) breaks a line at,
 * beyond the \n, \r\n and \r that editors, `git diff` and reviewers see as line ends.
 */
export const HIDDEN_INI_BREAK_RE = /[\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

/**
 * What PyYAML (Ansible's YAML reader) reads differently from the `yaml` package: its line breaks that editors
 * do not show (U+0085, U+2028, U+2029), characters it refuses outright, and a byte-order mark after the start.
 */
export const YAML_MISREAD_RE = /[\x85\u2028\u2029]|[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]|(?<!^)\ufeff/gu;

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) line++;
  }
  return line;
}

/**
 * Refuses a file in which Ansible would see other lines than an editor shows; every place is listed
 * with its line (as an editor counts lines: at \n, \r\n and \r).
 */
export function refuseMisreadCharacters(text: string, file: string, re: RegExp, why: (c: string) => string): void {
  const problems: Array<{ file: string; line: number; field: string; message: string }> = [];
  for (const m of text.matchAll(re)) {
    problems.push({ file, line: lineAt(text, m.index!), field: 'inventory', message: `${codePoint(m[0])} ${why(m[0])}` });
    if (problems.length >= 20) break;
  }
  if (problems.length === 0) return;
  const first = problems[0];
  throw new InfraError(ExitCode.invalid, `${first.file}:${first.line}: ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`, {
    hint: `remove the character${problems.length > 1 ? 's' : ''} from ${file} (\`grep -nP '[^\\x09\\x20-\\x7e]' ${shellQuote(file)}\` shows the lines), then check it with \`ansible-inventory -i ${shellQuote(file)} --list\``,
    problems,
  });
}
