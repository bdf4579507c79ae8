/**
 * The audit's Markdown is pasted into HackMD, which acts on more than Markdown: an embed (`{%pdf URL %}`,
 * `{%youtube id %}`) loads a third party's content into the meeting notes, and a bare URL becomes a link.
 * Neither a backslash nor an entity stops them (they run on the decoded text), so what a member or a host
 * controls (field names, handles, wg interface names) reaches the notes only inside code spans.
 */
import fc from 'fast-check';
import { auditMarkdown, markdownText, type AuditReport } from '../../src/core/audit-format.js';

/**
 * The text outside code spans, read as CommonMark does: outside a span a backslash escapes the next
 * punctuation character (an escaped backtick opens nothing); a run of N backticks opens a span that closes at
 * the next run of exactly N, inside which backslashes are literal; an unclosed run is literal text.
 */
function outsideCodeSpans(md: string): string {
  let out = '';
  for (let i = 0; i < md.length; ) {
    if (md[i] === '\\' && i + 1 < md.length && /[!-/:-@[-`{-~]/.test(md[i + 1])) {
      out += ' ';
      i += 2;
      continue;
    }
    if (md[i] !== '`') {
      out += md[i++];
      continue;
    }
    let n = 0;
    while (md[i + n] === '`') n++;
    const close = new RegExp(`(?<!\`)\`{${n}}(?!\`)`, 'g');
    close.lastIndex = i + n;
    const m = close.exec(md);
    if (!m) {
      out += md.slice(i, i + n);
      i += n;
      continue;
    }
    out += ' ';
    i = m.index + n;
  }
  return out;
}
const ACTIVE = /\{%|[a-z][a-z0-9+.-]*:\/\/|www\.|mailto:/i;

describe('markdown for HackMD', () => {
  it.each([
    ['an embed in a field name', '{%pdf https://evil.example/x.pdf %}', '`{%`pdf `https://evil.example/x.pdf` %}'],
    ['a youtube embed', 'x{%youtube abc %}', 'x`{%`youtube abc %}'],
    ['a bare URL in a wg interface name', 'wg0https://evil.example/a', '`wg0https://evil.example/a`'],
    ['www and mailto', 'see www.evil.example or mailto:a@evil.example', 'see `www.evil.example` or `mailto:a@evil.example`'],
    ['a URL ends at a backtick, a pipe or <', 'https://e.example/`a|b<c', '`https://e.example/`\\`a\\|b&lt;c'],
    ['ordinary text is escaped as before, no code span', 'alice/laptop_1 [old] *x*', 'alice/laptop\\_1 \\[old\\] \\*x\\*'],
  ])('%s', (_what, text, expected) => {
    const out = markdownText(text);
    expect(out).toBe(expected);
    expect(outsideCodeSpans(out)).not.toMatch(ACTIVE);
  });

  it('a URL right after a word is still caught (x.https://…): the code span starts where the letters do', () => {
    expect(outsideCodeSpans(markdownText('x.https://evil.example'))).not.toMatch(/:\/\//);
  });

  it('whatever the text, nothing HackMD acts on is left outside a code span, and no table cell is split (2000 runs)', () => {
    const piece = fc.constantFrom('{%', '%}', 'pdf ', 'https://', 'HTTP://', 'www.', 'mailto:', 'evil.example', '`', '``', '|', ' ', 'a', '\\', '*', '<', '&', ':', '/');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }).map((a) => a.join('')), (text) => {
        const out = markdownText(text);
        expect(outsideCodeSpans(out)).not.toMatch(ACTIVE);
        // every | is escaped, in or out of code spans (GFM splits cells before reading code spans)
        expect(out.replace(/\\\\/g, '').replace(/\\\|/g, '')).not.toContain('|');
      }),
      { numRuns: 2000 },
    );
  });

  it('the whole report: a finding about a hostile interface name reaches the notes inert', () => {
    const report: AuditReport = {
      as_of: '2026-12-01',
      findings: [{ code: 'unknown-peer', severity: 'high', subject: 'vpn1:{%pdf https://evil.example/x.pdf %}', detail: 'peer on interface wg0https://evil.example', fix: 'see www.evil.example' }],
      access: [],
    } as unknown as AuditReport;
    const md = auditMarkdown(report);
    expect(outsideCodeSpans(md)).not.toMatch(ACTIVE);
    expect(md).toContain('| vpn1:`{%`pdf `https://evil.example/x.pdf` %} |');
  });
});
