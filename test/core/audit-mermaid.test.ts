/**
 * The audit's Mermaid pictures (core/audit-mermaid.ts), read by mermaid's own parser (under jsdom): the gantt of
 * what falls due and the flowchart of who reaches what parse, hold exactly the tasks, nodes and edges meant,
 * and hostile names (quotes, brackets, colons, `%%`, `#`, `;`, backticks, line breaks, a `click` or an
 * `%%{init}%%` after a line break, very long names) stay label text: no directive, no click, no extra line.
 */
import type { DueItem } from '../../src/core/audit-due.js';
import { dueGantt, mermaidText, reachFlowchart } from '../../src/core/audit-mermaid.js';
import type { ReachEdge } from '../../src/core/audit-reach.js';
import { parseMermaid, stopMermaid } from '../helpers/mermaid-parse.js';

afterAll(stopMermaid);

const HOSTILE_NAMES = [
  'say "hi"',
  'a[b](c){d}<e>',
  'x: y: z',
  '%% comment',
  '%%{init: {"theme": "forest"}}%%',
  'a#35;b #quot; #',
  'a;b;c',
  '`code` ``x``',
  'line\nbreak',
  'x\n  click g0 call alert()',
  'y\n%%{init: {"securityLevel": "loose"}}%%\n',
  'z\r\n  section Evil\n  evil :2026-12-01, 2026-12-02',
  'é日本\u202eevil\u0000',
  'w'.repeat(5000),
  'x --> y',
  '-->|"e"|',
  'end',
  'subgraph',
];

/** Every character of a mermaidText: the safe ones, or an entity code. */
const LABEL_TEXT = /^(?:[A-Za-z0-9 ./_,:()-]|#\d+;)+$/;

describe('mermaidText', () => {
  it.each(HOSTILE_NAMES.map((n) => [JSON.stringify(n.slice(0, 40)), n]))('%s: one line of safe characters and entity codes', (_name, text) => {
    const out = mermaidText(text);
    expect(out).toMatch(LABEL_TEXT);
    expect(out).not.toContain('%%');
    expect(out).not.toContain('"');
    expect(out.replace(/#\d+;/g, '').length).toBeLessThanOrEqual(60);
    expect(mermaidText(text, 60, true)).not.toMatch(/:/);
  });

  it('keeps ordinary names readable', () => {
    expect(mermaidText('production/bbb1')).toBe('production/bbb1');
    expect(mermaidText('alice/laptop-2')).toBe('alice/laptop-2');
    expect(mermaidText('a"b')).toBe('a#34;b');
  });
});

const item = (over: Partial<DueItem>): DueItem => ({ section: 'SSH key expiry', subject: 'alice/laptop', date: '2026-12-10', overdue: false, ...over });
const TASK_LINE = /^ {4}(?:[A-Za-z0-9 ./_,()-]|#\d+;)+ :(?:crit, )?\d{4}-\d{2}-\d{2}, (?:\d{4}-\d{2}-\d{2}|1d)$/;

describe('dueGantt', () => {
  it('a bar per item from the audit day to its date, overdue ones critical on the audit day, a section per kind', async () => {
    const items = [
      item({}),
      item({ section: 'Token rotation', subject: 'roobot/github', date: '2026-11-01', overdue: true }),
      item({ section: 'GitHub token expiry', subject: 'roobot/github', date: '2026-12-20' }),
      item({ section: 'Idle VPN peer', subject: 'bob/phone', date: '2026-12-05' }),
    ];
    const text = dueGantt(items, '2026-11-29', 30)!;
    expect(text.split('\n')).toEqual([
      'gantt',
      '  title Due by 2026-12-29 (from 2026-11-29)',
      '  dateFormat YYYY-MM-DD',
      '  axisFormat %m-%d',
      '  todayMarker off',
      '  section SSH key expiry',
      '    alice/laptop :2026-11-29, 2026-12-10',
      '  section Token rotation',
      '    roobot/github due 2026-11-01 :crit, 2026-11-29, 1d',
      '  section GitHub token expiry',
      '    roobot/github :2026-11-29, 2026-12-20',
      '  section Idle VPN peer',
      '    bob/phone :2026-11-29, 2026-12-05',
      '',
    ]);
    const parsed = await parseMermaid(text);
    expect(parsed.diagramType).toBe('gantt');
    expect(parsed.config).toEqual({});
    expect(parsed.tasks!.map((t) => [t.section, t.task.trim(), t.start, t.end])).toEqual([
      ['SSH key expiry', 'alice/laptop', '2026-11-29', '2026-12-10'],
      ['Token rotation', 'roobot/github due 2026-11-01', '2026-11-29', '2026-11-30'],
      ['GitHub token expiry', 'roobot/github', '2026-11-29', '2026-12-20'],
      ['Idle VPN peer', 'bob/phone', '2026-11-29', '2026-12-05'],
    ]);
  });

  it('nothing due: no chart', () => {
    expect(dueGantt([], '2026-11-29', 30)).toBeUndefined();
  });

  it('hostile subjects: it parses, one task line each with the expected fields, no directive, no click, no link', async () => {
    const items = HOSTILE_NAMES.map((subject, i) => item({ subject, section: (['SSH key expiry', 'Token rotation', 'GitHub token expiry', 'Idle VPN peer'] as const)[i % 4], overdue: i % 3 === 0 }));
    const text = dueGantt(items, '2026-11-29', 30)!;
    const lines = text.trimEnd().split('\n');
    const taskLines = lines.filter((l) => l.startsWith('    '));
    expect(taskLines).toHaveLength(items.length);
    for (const l of taskLines) expect(l).toMatch(TASK_LINE);
    expect(lines.filter((l) => !l.startsWith('    ')).every((l) => /^(gantt| {2}title Due by [\d-]+ \(from [\d-]+\)| {2}dateFormat YYYY-MM-DD| {2}axisFormat %m-%d| {2}todayMarker off| {2}section [A-Za-z ]+)$/.test(l))).toBe(true);
    expect(text).not.toContain('%%');
    const parsed = await parseMermaid(text);
    expect(parsed.config).toEqual({});
    expect(parsed.tasks).toHaveLength(items.length);
    expect(parsed.links).toEqual([]);
    expect(parsed.sections).toEqual(['SSH key expiry', 'Token rotation', 'GitHub token expiry', 'Idle VPN peer']);
  });
});

const edge = (over: Partial<ReachEdge>): ReachEdge => ({ environment: 'production', grant: 'access[0]', groups: ['infra'], hosts: 'all', matched: ['bbb1', 'web1'], user: 'sysadmin', vpn_only: false, ...over });

describe('reachFlowchart', () => {
  it('groups to the host sets of each environment, an edge per group and grant labelled with the user', async () => {
    const edges = [
      edge({}),
      edge({ grant: 'access[1]', groups: ['meet-tech', 'infra'], hosts: 'bbb', matched: ['bbb1'], user: 'bbb', vpn_only: true }),
      edge({ environment: 'staging', matched: [] }),
    ];
    const text = reachFlowchart(edges)!;
    expect(text.split('\n')).toEqual([
      'flowchart LR',
      '  g0["infra"]',
      '  g1["meet-tech"]',
      '  subgraph e0["production"]',
      '    e0h0["all: 2 hosts (bbb1, web1)"]',
      '    e0h1["bbb: 1 host (bbb1)"]',
      '  end',
      '  subgraph e1["staging"]',
      '    e1h2["all: no host"]',
      '  end',
      '  g0 -->|"sysadmin"| e0h0',
      '  g1 -->|"bbb (VPN only)"| e0h1',
      '  g0 -->|"bbb (VPN only)"| e0h1',
      '  g0 -->|"sysadmin"| e1h2',
      '',
    ]);
    const parsed = await parseMermaid(text);
    expect(parsed.diagramType).toBe('flowchart-v2');
    expect(parsed.vertices!.map((v) => v.id).sort()).toEqual(['e0h0', 'e0h1', 'e1h2', 'g0', 'g1']);
    expect(parsed.edges!.map((e) => [e.start, e.end])).toEqual([['g0', 'e0h0'], ['g1', 'e0h1'], ['g0', 'e0h1'], ['g0', 'e1h2']]);
    expect(parsed.subgraphs!.map((s) => [s.id, s.title, s.nodes])).toEqual([['e0', 'production', ['e0h0', 'e0h1']], ['e1', 'staging', ['e1h2']]]);
  });

  it('no grant: no chart', () => {
    expect(reachFlowchart([])).toBeUndefined();
  });

  it('hostile group, environment, pattern, host and user names: it parses, with exactly the nodes and edges meant, no directive, no click', async () => {
    const edges = HOSTILE_NAMES.map((name, i) => edge({ environment: i % 2 ? name : 'production', groups: [name], hosts: name, matched: [name, `${name}2`], user: name, grant: `access[${i}]` }));
    const text = reachFlowchart(edges)!;
    expect(text).not.toContain('%%');
    for (const l of text.trimEnd().split('\n'))
      expect(l).toMatch(/^(flowchart LR| {2}g\d+\["[^"\n]*"\]| {2}subgraph e\d+\["[^"\n]*"\]| {4}e\d+h\d+\["[^"\n]*"\]| {2}end| {2}g\d+ -->\|"[^"\n]*"\| e\d+h\d+)$/);
    const parsed = await parseMermaid(text);
    expect(parsed.config).toEqual({});
    const groups = new Set(HOSTILE_NAMES).size;
    const hostSets = new Set(edges.map((e) => `${e.environment}\0${e.hosts}`)).size;
    expect(parsed.vertices).toHaveLength(groups + hostSets);
    expect(parsed.vertices!.every((v) => v.link === null && !v.haveCallback)).toBe(true);
    expect(parsed.edges).toHaveLength(edges.length);
    expect(parsed.subgraphs).toHaveLength(new Set(edges.map((e) => e.environment)).size);
    expect(parsed.classes).toEqual([]);
  });
});
