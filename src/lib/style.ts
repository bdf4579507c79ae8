/**
 * What goes to the terminal (the rule, as in age's README):
 *  - stdout carries only data and artifacts: tables, JSON, configs, reports. Nothing else.
 *  - stderr carries talk: progress, notes, warnings, errors, and each error's `hint:` line.
 *  - colour only on a stream that is a terminal, when NO_COLOR is unset and TERM is not "dumb".
 *  - nothing a member wrote is printed raw: control characters are replaced first (see `clean`).
 */
const colourOn = (stream: NodeJS.WriteStream) => Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
const wrap = (open: number, close: number, stream: () => NodeJS.WriteStream) => (s: string) =>
  colourOn(stream()) ? `\u001b[${open}m${s}\u001b[${close}m` : s;

// Talk (stderr) and data (stdout) are coloured each by whether its own stream is a terminal.
export const red = wrap(31, 39, () => process.stderr);
export const yellow = wrap(33, 39, () => process.stderr);
export const green = wrap(32, 39, () => process.stderr);
/** Headings in data written to stdout (`members show`, checklists). */
export const bold = wrap(1, 22, () => process.stdout);
export const boldErr = wrap(1, 22, () => process.stderr);

/**
 * What must not reach a terminal raw from text a member or a file wrote: C0 and C1 controls and DEL
 * (terminal escapes, newlines, NEL), line and paragraph separators, format characters (bidi overrides
 * and isolates such as U+202E, zero-width characters, soft hyphen, tags) and lone surrogates.
 */
const UNSAFE_TEXT_RE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** Replace every unsafe character (see UNSAFE_TEXT_RE) in text that came from a file or a member with U+FFFD. */
export const clean = (s: string) => s.replace(UNSAFE_TEXT_RE, '\uFFFD');

/**
 * Talk for stderr, which may quote a remote error or a file: line breaks and our own colours (SGR `ESC[..m`)
 * stay, every other unsafe character is replaced, so nothing quoted can move the cursor or reorder text.
 */
export function cleanTalk(s: string): string {
  return s
    .split('\n')
    .map((line) => line.split(/(\u001b\[[0-9;]*m)/).map((part, i) => (i % 2 ? part : clean(part))).join(''))
    .join('\n');
}

/**
 * JSON for stdout with every unsafe character written as a \u escape: the same JSON to a parser, but
 * nothing in it moves the cursor or reorders what a terminal shows (JSON.stringify escapes only C0).
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(UNSAFE_TEXT_RE, (c) => {
    if (c === '\n') return c; // the layout's own newlines: inside strings JSON.stringify has escaped every C0 character
    let out = '';
    for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}

export interface TableFit {
  /** the width to fit, e.g. the terminal's */
  width: number;
  /** columns that may be cut (with …) to fit, in the order they give way */
  shrink: number[];
  /** of those, the ones whose text wraps onto continuation lines at spaces (and after `/` or `,`) instead of being cut */
  wrap?: number[];
  /** of the wrapping ones, those that break only at spaces: an address split after `:` would no longer be found by grep */
  whole?: number[];
}

/**
 * A plain text table: columns padded, no borders, stable for diffs and screen readers. With `fit`, the
 * columns named in `shrink` are cut (ending in …) until the table fits the width; --json keeps everything.
 */
export function table(headers: string[], rows: string[][], fit?: TableFit): string {
  const all = [headers, ...rows].map((r) => r.map((c) => clean(c)));
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  if (fit) {
    const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
    const MIN = 8;
    const wrapping = new Set(fit.wrap ?? []);
    // a wrapping column keeps room for its longest unbreakable piece, so no word is cut in two
    const whole = new Set(fit.whole ?? []);
    const floor = (col: number) => (wrapping.has(col) ? Math.max(...all.map((r) => longestPiece(r[col] ?? '', whole.has(col)))) : 0);
    for (const col of fit.shrink) {
      const excess = total() - fit.width;
      if (excess <= 0) break;
      widths[col] = Math.min(widths[col], Math.max(MIN, headers[col].length, floor(col), widths[col] - excess));
    }
  }
  const cut = (c: string, w: number) => (c.length > w ? `${c.slice(0, Math.max(0, w - 1))}…` : c);
  const wraps = new Set(fit?.wrap ?? []);
  const lines: string[] = [];
  for (const r of all) {
    const cells = r.map((c, i) => (wraps.has(i) && c.length > widths[i] ? wrapCell(c, widths[i], fit?.whole?.includes(i)) : [cut(c, widths[i])]));
    const height = Math.max(1, ...cells.map((c) => c.length));
    for (let k = 0; k < height; k++) lines.push(cells.map((c, i) => (i === cells.length - 1 ? (c[k] ?? '') : (c[k] ?? '').padEnd(widths[i]))).join('  ').trimEnd());
  }
  return lines.join('\n') + '\n';
}

const pieces = (text: string, whole = false) => text.split(' ').filter(Boolean).flatMap((word) => (whole ? [word] : word.split(/(?<=[/,:])/)));
const longestPiece = (text: string, whole = false) => Math.max(0, ...pieces(text, whole).map((p) => p.length));

/** A cell's words on lines of at most `width`: breaks at spaces, then after `/`, `,` or `:`; a word with none is cut with …. */
function wrapCell(text: string, width: number, whole = false): string[] {
  const out: string[] = [];
  let line = '';
  // each piece, and whether it continues the previous one without a space (a long word split after `/`, `,` or `:`)
  const pieces = text.split(' ').filter(Boolean).flatMap((word) => (word.length <= width || whole ? [word] : word.split(/(?<=[/,:])/)).map((p, k) => ({ p, joined: k > 0 })));
  for (const { p, joined } of pieces) {
    const piece = p.length > width ? `${p.slice(0, width - 1)}…` : p;
    const glue = line && !joined ? ' ' : '';
    if (line && line.length + glue.length + piece.length > width) {
      out.push(line);
      line = piece;
    } else line += glue + piece;
  }
  if (line) out.push(line);
  return out;
}
