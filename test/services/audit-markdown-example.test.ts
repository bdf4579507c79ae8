/**
 * `infra audit --format markdown` on the example registry (runAudit, then auditMarkdown): findings with the same
 * code and fix are one row listing their subjects, no backslash or entity escapes in the raw text, and the
 * two Mermaid blocks (what falls due, who reaches what) parse with mermaid's own parser.
 */
import { auditMarkdown } from '../../src/core/audit-format.js';
import { runAudit } from '../../src/services/audit.js';
import { testContext } from '../helpers/context.js';
import { copyExample } from '../helpers/example.js';
import { ACTIVE_MARKDOWN, outsideCodeSpans, tableCells } from '../helpers/markdown-inert.js';
import { parseMermaid, stopMermaid } from '../helpers/mermaid-parse.js';

afterAll(stopMermaid);
const TODAY = '2026-11-29';

describe('the example registry as meeting notes', () => {
  it('one row per code and fix, subjects listed; no escapes; the Mermaid blocks parse', async () => {
    const r = await runAudit(testContext({ root: await copyExample(), today: TODAY }), { format: 'markdown' });
    const md = auditMarkdown(r);
    const findingRows = md.split('## Findings')[1].split('\n## ')[0].split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Severity'));
    // every (severity, code, fix) once, and every finding's subject in its row
    const keys = r.findings.map((f) => JSON.stringify([f.severity, f.code, f.fix]));
    expect(findingRows).toHaveLength(new Set(keys).size);
    expect(findingRows.length).toBeLessThan(r.findings.length); // the example has several stale-render files with one fix
    const stale = r.findings.filter((f) => f.code === 'stale-render');
    expect(stale.length).toBeGreaterThan(1);
    const staleRows = findingRows.filter((l) => tableCells(l)[1].trim() === 'stale-render');
    expect(staleRows.length).toBeLessThan(stale.length);
    for (const f of stale) expect(staleRows.join('\n')).toContain(`\`${f.subject}\``);
    for (const row of findingRows) for (const cell of tableCells(row)) expect([cell, outsideCodeSpans(cell)]).not.toEqual([cell, expect.stringMatching(ACTIVE_MARKDOWN)]);
    // what HackMD showed raw before: no backslash escapes, no entities
    expect(md).not.toMatch(/\\_|&amp;|&gt;|&lt;/);

    const blocks = [...md.matchAll(/```mermaid\n([\s\S]*?)\n```/g)].map((m) => m[1]);
    expect(blocks).toHaveLength(2);
    const [gantt, graph] = await Promise.all(blocks.map((b) => parseMermaid(b)));
    expect(gantt.diagramType).toBe('gantt');
    expect(gantt.tasks!.map((t) => t.task.trim())).toEqual(expect.arrayContaining(['alice/workstation']));
    expect(graph.diagramType).toBe('flowchart-v2');
    expect(graph.edges!.length).toBeGreaterThan(0);
  });
});
