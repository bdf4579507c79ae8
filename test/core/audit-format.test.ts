import type { AccessMatrixRow, Finding } from '../../src/core/audit.js';
import { auditJson, auditJsonText, auditMarkdown, auditTable, displayWidth, inert, markdownText, truncate, wrapText, type AuditReport } from '../../src/core/audit-format.js';
import type { Change } from '../../src/core/changes.js';
import { codeSpan } from '../../src/core/audit-markdown.js';
import { ACTIVE_MARKDOWN, codeSpanContents, outsideCodeSpans, tableCells } from '../helpers/markdown-inert.js';

const finding = (over: Partial<Finding> = {}): Finding => ({ code: 'weak-key', severity: 'high', subject: 'alice/old-rsa', detail: 'RSA key of 2048 bits is below the policy minimum of 3072 bits', fix: 'infra keys remove alice old-rsa', ...over });
const row = (over: Partial<AccessMatrixRow> = {}): AccessMatrixRow => ({ environment: 'production', host: 'bbb1', user: 'sysadmin', members: ['alice', 'bob'], vpn_only: true, vpn_only_members: ['alice', 'bob'], grants: ['access[1]'], ...over });
const change = (over: Partial<Change> = {}): Change => ({ date: '2026-11-20', commit: 'abc1234', kind: 'member-offboarded', subject: 'carol', detail: 'departed on 2026-11-20', ...over });

const REPORT: AuditReport = {
  as_of: '2026-11-22',
  findings: [
    finding(),
    finding({ code: 'single-member-host', severity: 'medium', subject: 'production/web1', detail: 'only alice can reach it (policy: at least 2)', fix: 'add another active member to group infra' }),
    finding({ code: 'key-expiring', severity: 'low', subject: 'bob/laptop', detail: 'expires on 2026-12-10, in 18 days', fix: '`infra keys add bob NEW_KEY.pub`, then `infra keys remove bob laptop`' }),
  ],
  access: [row(), row({ host: 'web1', members: ['alice'], vpn_only: false, vpn_only_members: [], grants: ['access[0]'] }), row({ host: 'web1', user: 'prometheus', members: ['dana'], vpn_only: false, vpn_only_members: [], grants: ['access[2]'] })],
  changes: [change()],
  since: '2026-11-01',
};

// Every way a string could break out: a table cell, a line, a code span, HTML, a terminal escape, text direction.
const HOSTILE = 'x|y\nz `code` <img src=x onerror=alert(1)> \u001b[31mred\u001b[0m \u0007bell \u202eevil\u202c \u2066iso\u2069 \u200bzw [link](http://e.x) *b* @everyone #1 \\ end';
const HOSTILE_REPORT: AuditReport = {
  as_of: '2026-11-22',
  findings: [finding({ subject: HOSTILE, detail: HOSTILE, fix: HOSTILE, code: 'weak-key' })],
  access: [row({ host: HOSTILE, user: HOSTILE, members: [HOSTILE, 'bob'], vpn_only_members: [HOSTILE] })],
  changes: [change({ subject: HOSTILE, detail: HOSTILE, commit: HOSTILE })],
  since: HOSTILE,
};

const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;

describe('inert text', () => {
  it('writes controls, line breaks and bidi or zero-width characters as \\u escapes', () => {
    expect(inert('a\nb\u001b[1m\u202ec\u200bd\u{e0001}')).toBe('a\\u000ab\\u001b[1m\\u202ec\\u200bd\\u{e0001}');
    expect(inert('Zoë 日本')).toBe('Zoë 日本');
  });

  it('measures wide characters as two columns and truncates to the width', () => {
    expect(displayWidth('日本a')).toBe(5);
    expect(truncate('abcdefgh', 5)).toBe('abcd…');
    expect(displayWidth(truncate('日本語のテキスト', 7))).toBeLessThanOrEqual(7);
    expect(truncate('ab\\u202e', 6)).toBe('ab…'); // never half an escape
  });

  it('wraps words, cutting only words longer than a line', () => {
    expect(wrapText('one two three', 7)).toEqual(['one two', 'three']);
    expect(wrapText('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
  });
});

describe('auditJson', () => {
  it('has the docs/reference.md, "infra audit" shape, with the summary counted from the findings', () => {
    const json = auditJson(REPORT);
    expect(Object.keys(json)).toEqual(['as_of', 'findings', 'access', 'changes', 'summary']);
    expect(json.summary).toEqual({ high: 1, medium: 1, low: 1 });
    expect(json.findings[0]).toEqual({ code: 'weak-key', severity: 'high', subject: 'alice/old-rsa', detail: REPORT.findings[0].detail, fix: 'infra keys remove alice old-rsa' });
    expect(json.access[0]).toEqual({ environment: 'production', host: 'bbb1', user: 'sysadmin', members: ['alice', 'bob'], vpn_only: true, vpn_only_members: ['alice', 'bob'], grants: ['access[1]'] });
    expect(json.changes).toEqual([{ date: '2026-11-20', commit: 'abc1234', kind: 'member-offboarded', subject: 'carol', detail: 'departed on 2026-11-20' }]);
  });

  it('as text: plain ASCII that parses back to exactly the same data', () => {
    const text = auditJsonText(HOSTILE_REPORT);
    expect(text).toMatch(/^[\x20-\x7e\n]*$/);
    expect(JSON.parse(text)).toEqual(auditJson(HOSTILE_REPORT));
    expect(JSON.parse(text).findings[0].subject).toBe(HOSTILE);
  });
});

describe('auditTable', () => {
  it.each([40, 80, 132])('fits %i columns', (width) => {
    const text = auditTable(REPORT, width);
    for (const line of text.split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(width);
  });

  it('shows the summary, each finding with its whole fix, changes and the access matrix', () => {
    const text = auditTable(REPORT, 100);
    expect(text.split('\n')[0]).toBe('infra audit, 2026-11-22: 1 high, 1 medium, 1 low');
    expect(text).toContain('fix: infra keys remove alice old-rsa');
    expect(text).toMatch(/HIGH +weak-key +alice\/old-rsa/);
    expect(text).toContain('Changes since 2026-11-01');
    expect(text).toMatch(/2026-11-20 +abc1234 +member-offboarded +carol: departed on 2026-11-20/);
    expect(text).toMatch(/production\/bbb1 +sysadmin +alice\*, bob\*/);
    expect(text).toMatch(/production\/web1 +prometheus +dana\n/);
  });

  it('keeps every word of a long fix when it wraps, and cuts a long subject with …', () => {
    const fix = 'infra render, then `ansible-playbook -i inventories/production ansible/apply-access.yml --tags ssh --limit web1`';
    const text = auditTable({ ...REPORT, findings: [finding({ subject: `production/${'very-long-host-name-'.repeat(6)}`, fix })] }, 50);
    const fixText = text.slice(text.indexOf('fix:')).split('\n').map((l) => l.trim()).join(' ');
    for (const word of fix.split(' ')) expect(fixText).toContain(word);
    expect(text).toMatch(/very-long-host-name-.*…/);
  });

  it('lists a long member list as the first names and how many more', () => {
    const many = Array.from({ length: 30 }, (_, i) => `member-${i}`);
    const text = auditTable({ ...REPORT, access: [row({ members: many, vpn_only_members: [] })] }, 60);
    expect(text).toMatch(/member-0, member-1, .*\+\d+ more/);
  });

  it('lets no hostile string reach the terminal', () => {
    for (const width of [30, 80, 200]) {
      const text = auditTable(HOSTILE_REPORT, width);
      expect(text).not.toMatch(UNSAFE);
      for (const line of text.split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(width);
    }
    expect(auditTable(HOSTILE_REPORT, 400)).toContain('\\u001b[31mred');
  });
});

describe('auditMarkdown', () => {
  it('is a heading with the date, a summary, the findings, the changes and the access matrix', () => {
    const lines = auditMarkdown(REPORT).split('\n');
    expect(lines[0]).toBe('# Infrastructure audit, 2026-11-22');
    expect(lines[2]).toBe('**1 high, 1 medium, 1 low** · 2 hosts · 3 members with access');
    expect(lines).toContain('| Severity | Code | Subject | Detail | Fix |');
    // paths, handles and commands in code spans, prose as it is: what infra wrote in backticks reads the same raw
    expect(lines).toContain('| high | weak-key | `alice/old-rsa` | RSA key of 2048 bits is below the policy minimum of 3072 bits | `infra keys remove alice old-rsa` |');
    expect(lines).toContain('| low | key-expiring | `bob/laptop` | expires on 2026-12-10, in 18 days | `infra keys add bob NEW_KEY.pub`, then `infra keys remove bob laptop` |');
    expect(lines).toContain('## Changes since 2026-11-01');
    expect(lines).toContain('| 2026-11-20 | `abc1234` | member-offboarded | `carol` | departed on 2026-11-20 |');
    expect(lines).toContain('| Host | alice | bob | dana |');
    expect(lines).toContain('| `production/bbb1` | sysadmin (VPN only) | sysadmin (VPN only) |  |');
    expect(lines).toContain('| `production/web1` | sysadmin |  | prometheus |');
  });

  it('says so when there is nothing to list', () => {
    const text = auditMarkdown({ as_of: '2026-11-22', findings: [], access: [row({ members: [], vpn_only_members: [] })] });
    expect(text).toContain('No findings.');
    expect(text).not.toContain('## Changes');
    expect(text).toContain('| `production/bbb1` | nobody |');
  });

  it('keeps every hostile string inside its cell: same lines, same cells, and outside code spans nothing markdown acts on (no HTML, link, emphasis, escape)', () => {
    const text = auditMarkdown(HOSTILE_REPORT);
    const clean = auditMarkdown({
      ...HOSTILE_REPORT,
      findings: [finding({ subject: 's', detail: 'd', fix: 'f' })],
      access: [row({ host: 'h', user: 'u', members: ['m', 'bob'], vpn_only_members: ['m'] })],
      changes: [change({ subject: 's', detail: 'd', commit: 'c' })],
      since: 's',
    });
    expect(text.split('\n')).toHaveLength(clean.split('\n').length);
    const cellsPerLine = (t: string) => t.split('\n').map((l) => (l.startsWith('|') ? tableCells(l).length : 0));
    expect(cellsPerLine(text)).toEqual(cellsPerLine(clean));
    expect(text).not.toMatch(UNSAFE);
    for (const line of text.split('\n').filter((l) => l.startsWith('|'))) for (const cell of tableCells(line)) expect([cell, outsideCodeSpans(cell)]).not.toEqual([cell, expect.stringMatching(ACTIVE_MARKDOWN)]);
    // the HTML is there only as the text of a code span
    expect(codeSpanContents(tableCells(text.split('\n').find((l) => l.startsWith('| high'))!)[2]).join(' ')).toContain('<img src=x onerror=alert(1)>');
  });

  it('puts what markdown would read as syntax in code spans, and leaves prose as it is', () => {
    expect(markdownText('a|b `c` <d> [e](f) *g* _h_ ~i~ @j #k !l \\m &n')).toBe('`a\\|b` `c` `<d>` `[e](f)` `*g*` `_h_` `~i~` `@j` `#k` !l `\\m` `&n`');
    expect(markdownText('groups infra -> infra, ops (now)')).toBe('groups infra -> infra, ops (now)');
    expect(markdownText('see host_vars/web1/infra.generated.yml, then run it.')).toBe('see `host_vars/web1/infra.generated.yml`, then run it.');
    expect(markdownText('infra render, then apply it: `ansible-playbook -i inventories/production ansible/apply-access.yml`')).toBe('`infra render`, then apply it: `ansible-playbook -i inventories/production ansible/apply-access.yml`');
  });

  it('a code span is longer than any backtick run in it, keeps a leading or trailing backtick, and escapes a pipe for the table', () => {
    expect(codeSpan('a`b')).toBe('``a`b``');
    expect(codeSpan('``x')).toBe('``` ``x ```');
    expect(codeSpan('a|b')).toBe('`a\\|b`');
    for (const text of ['a`b', '``x', 'x`', '`', 'a|b', 'a\\|b', ' x ']) {
      const cells = tableCells(`| ${codeSpan(text)} |`);
      expect([text, cells.length]).toEqual([text, 1]);
      expect([text, codeSpanContents(cells[0])]).toEqual([text, [text]]);
    }
  });
});
