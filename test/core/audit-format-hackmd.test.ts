/**
 * The audit's Markdown is pasted into HackMD, which acts on more than Markdown: an embed (`{%pdf URL %}`,
 * `{%youtube id %}`) loads a third party's content into the meeting notes, and a bare URL becomes a link.
 * Neither a backslash nor an entity stops them (they run on the decoded text), so what a member or a host
 * controls (field names, handles, wg interface names) reaches the notes only inside code spans.
 */
import fc from 'fast-check';
import { auditMarkdown, markdownText, type AuditReport } from '../../src/core/audit-format.js';
import { ACTIVE_MARKDOWN, outsideCodeSpans, tableCells } from '../helpers/markdown-inert.js';

/** The text outside code spans of one table cell (test/helpers/markdown-inert.ts). */
const outside = (cell: string) => outsideCodeSpans(tableCells(`| ${cell} |`)[0]);
const ACTIVE = /\{%|[a-z][a-z0-9+.-]*:\/\/|www\.|mailto:/i;

describe('markdown for HackMD', () => {
  it.each([
    // each word HackMD would act on is a code span whole (before: only `{%` and the URL were, the rest escaped)
    ['an embed in a field name', '{%pdf https://evil.example/x.pdf %}', '`{%pdf` `https://evil.example/x.pdf` `%}`'],
    ['a youtube embed', 'x{%youtube abc %}', '`x{%youtube` abc `%}`'],
    ['a bare URL in a wg interface name', 'wg0https://evil.example/a', '`wg0https://evil.example/a`'],
    ['www and mailto', 'see www.evil.example or mailto:a@evil.example', 'see `www.evil.example` or `mailto:a@evil.example`'],
    ['a URL with a backtick, a pipe and <: one span, a longer fence', 'https://e.example/`a|b<c', '``https://e.example/`a\\|b<c``'],
    ['paths and markdown punctuation in code spans, not escaped', 'alice/laptop_1 [old] *x*', '`alice/laptop_1` `[old]` `*x*`'],
    ['math, marks and emoji', '$x$ ==m== ++i++ :smile: 2^10', '`$x$` `==m==` `++i++` `:smile:` `2^10`'],
  ])('%s', (_what, text, expected) => {
    const out = markdownText(text);
    expect(out).toBe(expected);
    expect(outside(out)).not.toMatch(ACTIVE);
    expect(outside(out)).not.toMatch(ACTIVE_MARKDOWN);
  });

  it('a URL right after a word is still caught (x.https://…): the code span starts where the letters do', () => {
    expect(outside(markdownText('x.https://evil.example'))).not.toMatch(/:\/\//);
  });

  it('whatever the text, nothing HackMD acts on is left outside a code span, and no table cell is split (2000 runs)', () => {
    const piece = fc.constantFrom('{%', '%}', 'pdf ', 'https://', 'HTTP://', 'www.', 'mailto:', 'evil.example', '`', '``', '|', ' ', 'a', '\\', '*', '<', '&', ':', '/');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }).map((a) => a.join('')), (text) => {
        const out = markdownText(text);
        // one cell stays one (GFM and markdown-it split cells before reading code spans), and nothing in it acts
        expect(tableCells(`| ${out} |`)).toHaveLength(1);
        expect(outside(out)).not.toMatch(ACTIVE);
        expect(outside(out)).not.toMatch(ACTIVE_MARKDOWN);
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
    for (const line of md.split('\n').filter((l) => l.startsWith('|'))) for (const cell of tableCells(line)) expect(outsideCodeSpans(cell)).not.toMatch(ACTIVE);
    expect(md).toContain('| `vpn1:{%pdf https://evil.example/x.pdf %}` |');
  });
});
