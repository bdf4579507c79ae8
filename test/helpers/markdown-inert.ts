/**
 * How GFM and HackMD (markdown-it) read one line of the audit's Markdown, for the inertness tests: a table row
 * is split into cells at every `|` not preceded by a backslash (both drop that backslash before reading the
 * cell), then each cell is read inline, where a run of N backticks opens a code span that closes at the next
 * run of exactly N (inside which nothing is markdown), and outside a span a backslash escapes punctuation.
 */

/** The cells of a table row `| a | b |` (the outer pipes removed), as the table parsers split them. */
export function tableCells(row: string): string[] {
  const cells: string[] = [];
  let current = '';
  for (let i = 0; i < row.length; i++) {
    if (row[i] === '|' && row[i - 1] !== '\\') {
      cells.push(current);
      current = '';
    } else current += row[i];
  }
  cells.push(current);
  return cells.slice(1, -1).map((c) => c.replace(/\\\|/g, '|'));
}

/** The text of `inline` outside its code spans (each span replaced by one space), escapes removed. */
export function outsideCodeSpans(inline: string): string {
  let out = '';
  for (let i = 0; i < inline.length; ) {
    if (inline[i] === '\\' && i + 1 < inline.length && /[!-/:-@[-`{-~]/.test(inline[i + 1])) {
      out += ' ';
      i += 2;
      continue;
    }
    if (inline[i] !== '`') {
      out += inline[i++];
      continue;
    }
    let n = 0;
    while (inline[i + n] === '`') n++;
    const close = new RegExp(`(?<!\`)\`{${n}}(?!\`)`, 'g');
    close.lastIndex = i + n;
    const m = close.exec(inline);
    if (!m) {
      out += inline.slice(i, i + n);
      i += n;
      continue;
    }
    out += ' ';
    i = m.index + n;
  }
  return out;
}

/** The contents of `inline`'s code spans, as a reader shows them (one space stripped from each end when both have one). */
export function codeSpanContents(inline: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < inline.length; ) {
    if (inline[i] === '\\' && i + 1 < inline.length && /[!-/:-@[-`{-~]/.test(inline[i + 1])) {
      i += 2;
      continue;
    }
    if (inline[i] !== '`') {
      i++;
      continue;
    }
    let n = 0;
    while (inline[i + n] === '`') n++;
    const close = new RegExp(`(?<!\`)\`{${n}}(?!\`)`, 'g');
    close.lastIndex = i + n;
    const m = close.exec(inline);
    if (!m) {
      i += n;
      continue;
    }
    const body = inline.slice(i + n, m.index);
    out.push(/^ .*[^ ].* $/.test(body) ? body.slice(1, -1) : body);
    i = m.index + n;
  }
  return out;
}

/**
 * What markdown, GFM or HackMD would act on, outside code spans: emphasis, code, links and images, HTML and
 * entities, strikethrough, math, marks, embeds, mentions and issue links, emoji, bare URLs.
 */
export const ACTIVE_MARKDOWN = /[`\\*_[\]|~<${}@#^]|&[#A-Za-z0-9]|==|\+\+|:[A-Za-z0-9_+-]+:|:\/\/|www\.|mailto:/i;
