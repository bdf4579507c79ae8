/**
 * the hostile strings campaign (pure part): every member-controlled field gets each hostile
 * string, and each is either refused at input (a validation problem) or comes out inert in every output
 * computed here: the generated YAML (parsed back: only infra's variables, Unix user names, strict lines,
 * no Jinja2 mark) with its authorized_keys lines, the wg-quick config `vpn join` delivers, the audit's
 * table, markdown and JSON, `--json` (jsonText, which every command's --json goes through) and the
 * terminal error (terminalErrorText, what InfraCommand.catch prints). A refused value still reaches the
 * audit (as an invalid-registry finding quoting the problem), --json and the terminal as its problem
 * text, so those outputs are checked for every case.
 * The real programs' view (ansible-inventory --list, wg-quick strip) is in test/real/hostile-outputs.test.ts.
 * The matrix (field x output) is printed at the end.
 */
import { parse } from 'yaml';
import { auditJson, auditJsonText, auditMarkdown, auditTable, displayWidth, inert, markdownText, type AuditReport } from '../../src/core/audit-format.js';
import { REMOTE_USER_RE, TEMPLATE_MARK_RE } from '../../src/core/render.js';
import { renderDeviceConfig } from '../../src/core/wireguard.js';
import { terminalErrorText } from '../../src/commands/_shared/base-command.js';
import type { Problem } from '../../src/lib/errors.js';
import { jsonText } from '../../src/lib/style.js';
import { FIELDS, HOSTILE, runCase, TEST_WG_PRIVATE_KEY, type HostileCase } from './hostile-strings-cases.js';
import { ACTIVE_MARKDOWN, outsideCodeSpans, tableCells } from '../helpers/markdown-inert.js';

// Nothing from member data may reach a terminal raw: controls, format characters (bidi), separators, lone surrogates.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
/** Text whose only line breaks are the layout's: no other unsafe character anywhere. */
const expectNoUnsafeExceptNewline = (text: string) => expect(text.replace(/\n/g, '')).not.toMatch(UNSAFE);

/** A generated file that is inert: only infra's variables, Unix user names, lines of the strict shape, no Jinja2 mark. */
function assertInertYaml(text: string): void {
  expect(text).not.toMatch(TEMPLATE_MARK_RE);
  expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  const data = parse(text);
  expect(Object.keys(data).every((k) => ['infra_authorized_keys', 'infra_revoked_keys', 'infra_wireguard_peers'].includes(k))).toBe(true);
  for (const field of ['infra_authorized_keys', 'infra_revoked_keys'])
    for (const [user, lines] of Object.entries(data[field] ?? {})) {
      expect(user).toMatch(REMOTE_USER_RE);
      for (const line of lines as string[]) expect(line).toMatch(/^(?:(?:from="[0-9a-f.:/,]+"|expiry-time="[0-9]{8}")(?:,|\s))*[a-z0-9@.-]+ [A-Za-z0-9+/]+={0,2} [a-z][a-z0-9-]{0,31}\/[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
    }
  for (const [net, peers] of Object.entries(data.infra_wireguard_peers ?? {})) {
    expect(net).toMatch(/^[a-z][a-z0-9_-]{0,14}$/);
    for (const p of peers as Array<Record<string, unknown>>) {
      expect(Object.keys(p).sort()).toEqual(['allowed_ips', 'name', 'public_key']);
      expect(p.name).toMatch(/^[a-z][a-z0-9-]{0,31}\/[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
    }
  }
}

/** Terminal and markdown text: one line, nothing that moves the cursor or reorders, no markdown syntax loose. */
function assertInertText(value: string): void {
  expect(inert(value)).not.toMatch(UNSAFE);
  // code spans are literal text: only what lies outside them is markdown, and none of it acts; one table cell stays one
  const cell = markdownText(value);
  expect(tableCells(`| ${cell} |`)).toHaveLength(1);
  expect(outsideCodeSpans(tableCells(`| ${cell} |`)[0])).not.toMatch(ACTIVE_MARKDOWN);
}

/**
 * A wg-quick config that says only what infra meant: comment lines, the two sections and the known keys,
 * one per line, with the values of the peer and network (a value that broke a line would add a key or a section).
 */
function assertInertWgConfig(text: string, c: HostileCase): void {
  expectNoUnsafeExceptNewline(text);
  const peer = c.member!.vpn_peers[0];
  const net = c.config!.vpn[peer.network];
  const keys: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# ') || line === '[Interface]' || line === '[Peer]') {
      keys.push(line.startsWith('#') ? '#' : line);
      continue;
    }
    const m = /^([A-Za-z]+) = (\S(?:.*\S)?)$/.exec(line);
    expect([line, m !== null]).toEqual([line, true]);
    keys.push(m![1]);
    const expected: Record<string, string> = {
      PrivateKey: TEST_WG_PRIVATE_KEY,
      Address: peer.addresses.join(', '),
      PublicKey: net.server_public_key,
      Endpoint: net.endpoint,
      AllowedIPs: net.allowed_ips.join(', '),
    };
    expect([m![1], m![2]]).toEqual([m![1], expected[m![1]]]);
  }
  expect(keys.filter((k) => k !== '#' && k !== '')).toEqual(['[Interface]', 'PrivateKey', 'Address', '[Peer]', 'PublicKey', 'Endpoint', 'AllowedIPs']);
  expect(keys.filter((k) => k === '#')).toHaveLength(1);
}

/** An audit report carrying `text` in every string field of a finding, an access row and a change, beside a plain one of each. */
function auditReportCarrying(text: string): AuditReport {
  return {
    as_of: text,
    since: text,
    findings: [
      { code: text, severity: 'high', subject: text, detail: `${text} ${text}`, fix: text },
      { code: 'weak-key', severity: 'medium', subject: 'bob/laptop', detail: 'plain', fix: 'infra keys remove bob laptop' },
    ],
    access: [
      { environment: text, host: text, user: text, members: [text, 'bob'], vpn_only: false, vpn_only_members: [text], grants: [text] },
      { environment: 'production', host: 'bbb1', user: 'sysadmin', members: ['bob'], vpn_only: false, vpn_only_members: [], grants: ['access[0]'] },
    ],
    changes: [{ date: text, commit: text, kind: 'member-changed', subject: text, detail: text }],
  };
}

/** Cells of one markdown table row, as GFM and markdown-it split it (test/helpers/markdown-inert.ts). */
const markdownCells = (row: string): number => tableCells(row).length;

function assertInertAudit(text: string): void {
  const report = auditReportCarrying(text);
  for (const width of [40, 80, 200]) {
    const table = auditTable(report, width);
    expectNoUnsafeExceptNewline(table);
    for (const line of table.split('\n')) expect([line, displayWidth(line) <= width]).toEqual([line, true]);
  }
  // markdown: each table keeps one row per item and the header's cell count in every row
  const md = auditMarkdown(report);
  expectNoUnsafeExceptNewline(md);
  const tables = md.split(/\n(?=## )/).map((section) => section.split('\n').filter((l) => l.startsWith('|')));
  const [findings, changes, access] = tables.slice(1);
  expect(findings).toHaveLength(2 + report.findings.length);
  expect(changes).toHaveLength(2 + report.changes!.length);
  expect(access).toHaveLength(2 + new Set(report.access.map((r) => `${r.environment}/${r.host}`)).size);
  for (const rows of [findings, changes, access]) for (const row of rows) expect([row, markdownCells(row)]).toEqual([row, markdownCells(rows[0])]);
  expect(markdownCells(access[0])).toBe(1 + new Set(report.access.flatMap((r) => r.members)).size);
  // JSON: ASCII only, and it reads back as the data
  const json = auditJsonText(report);
  expect(json).toMatch(/^[\x20-\x7e\n]*$/);
  expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(auditJson(report))));
}

/** --json as every command writes it (InfraCommand.logJson is jsonText): no raw unsafe character, same data back. */
function assertInertJson(value: unknown): void {
  const text = jsonText(value);
  expectNoUnsafeExceptNewline(text);
  expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
}

/** What InfraCommand.catch prints: the layout's lines only (head, a line per problem when several, hint). */
function assertInertError(message: string, hint: string, problems: Problem[]): void {
  const text = terminalErrorText(message, hint, problems);
  expectNoUnsafeExceptNewline(text);
  expect(text.split('\n')).toHaveLength(1 + (problems.length > 1 ? problems.length : 0) + 1 + 1);
}

type Output = 'keys+yaml' | 'wg-quick' | 'audit table/md/json' | '--json' | 'terminal error';
const OUTPUTS: Output[] = ['keys+yaml', 'wg-quick', 'audit table/md/json', '--json', 'terminal error'];
/** field -> label -> outcome at input, and the outputs the value (or its problem) reached and was checked inert in. */
const matrix = new Map<string, Map<string, { refused: boolean; reached: Set<Output> }>>();

beforeAll(() => {
  process.env.NO_COLOR = '1'; // the error text compared line by line carries no colour codes
});

afterAll(() => {
  const labels = Object.keys(HOSTILE);
  const head = `${'field'.padEnd(14)} ${'refused'.padEnd(8)}${OUTPUTS.map((o) => o.padEnd(21)).join('')}`;
  const rows = [...matrix].map(([field, byLabel]) => {
    const cases = [...byLabel.values()];
    const refused = cases.filter((c) => c.refused).length;
    return `${field.padEnd(14)} ${`${refused}/${cases.length}`.padEnd(8)}${OUTPUTS.map((o) => String(cases.filter((c) => c.reached.has(o)).length).padEnd(21)).join('')}`;
  });
  const detail = [...matrix].map(([field, byLabel]) => `${field.padEnd(14)} ${labels.map((l) => (byLabel.get(l)?.refused ? 'R' : 'i').padEnd(3)).join('')}`);
  console.log(
    [
      'hostile strings x fields x outputs: per field, how many of the strings were refused at input, and in how many cases the value',
      '(accepted) or its problem text (refused) reached each output and was checked inert there; keys+yaml and wg-quick count a',
      'case only when the output differs from the one of a plain value in that field (so the value reached it).',
      head,
      ...rows,
      '',
      `per string (R refused at input, i accepted and inert in every output):\n${''.padEnd(15)}${labels.map((_, i) => String(i).padEnd(3)).join('')}`,
      ...detail,
      labels.map((l, i) => `${i}=${l}`).join(' '),
    ].join('\n'),
  );
});

describe.each(FIELDS.map((f) => [f.name, f] as const))('%s', (_, field) => {
  const plain = runCase(field, 'benign', field.benign);

  it('a plain value is accepted (so each refusal below is the hostile string\'s doing)', () => {
    expect([plain.outcome, plain.problems]).toEqual(['inert', []]);
  });

  it.each(Object.entries(HOSTILE))('%s: refused at input with a clear problem, or inert in every output', (label, value) => {
    const r = runCase(field, label, value);
    const reached = new Set<Output>();
    (matrix.get(field.name) ?? matrix.set(field.name, new Map()).get(field.name)!).set(label, { refused: r.outcome === 'refused', reached });
    if (r.outcome === 'refused') {
      expect(r.problems.length).toBeGreaterThan(0);
      // the problem is one readable line per problem in the terminal: nothing raw of the value reaches it
      for (const p of r.problems) assertInertText(p);
      // Short, too. Left: a handle or network name is echoed whole as the file or field it names
      // (a handle cannot be 10 kB on disk: folder names stop at 255 bytes; a 10 kB network name in
      // infra.yml is printed in full by validate.ts, which is another helper's file).
      if (field.name !== 'handle' && field.name !== 'network name') for (const p of r.problems) expect(inert(p).length).toBeLessThan(2_000);
      // The problem travels on: the audit's invalid-registry finding, --json's error object, the terminal error.
      const problems = r.problems.map((message) => ({ file: 'keys/alice/member.yml', field: 'name', message }));
      assertInertAudit(r.problems.join('; '));
      assertInertJson({ error: { code: 3, message: r.problems[0], problems } });
      assertInertError(r.problems[0], 'fix the lines above, then run `infra check`', problems);
      for (const o of ['audit table/md/json', '--json', 'terminal error'] as const) reached.add(o);
      return;
    }
    expect(r.rendered!.size).toBeGreaterThan(0);
    for (const text of r.rendered!.values()) assertInertYaml(text);
    if ([...r.rendered!].some(([file, text]) => plain.rendered!.get(file) !== text) || r.rendered!.size !== plain.rendered!.size) reached.add('keys+yaml');
    assertInertWgConfig(r.wgConfig!, r);
    if (r.wgConfig !== plain.wgConfig) reached.add('wg-quick');
    assertInertText(value); // as the audit's table and markdown show a value
    assertInertAudit(value);
    assertInertJson({ member: r.member, config: r.config, value });
    assertInertError(`no key named ${value} in ${value}`, `infra keys list ${value}`, [
      { file: `keys/${value}/member.yml`, field: value, message: value },
      { file: 'infra.yml', line: 3, field: 'access', message: `${value} again` },
    ]);
    for (const o of ['audit table/md/json', '--json', 'terminal error'] as const) reached.add(o);
  });
});

describe('a wg-quick config comment carrying each hostile string', () => {
  const input = {
    privateKey: TEST_WG_PRIVATE_KEY,
    addresses: ['10.77.0.5/32'],
    serverPublicKey: Buffer.alloc(32, 9).toString('base64'),
    endpoint: 'vpn.example.org:51820',
    allowedIps: ['10.77.0.0/24'],
  };
  const without = renderDeviceConfig(input);

  it.each(Object.entries(HOSTILE))('%s: one comment line, the rest exactly the config without it', (_, value) => {
    const text = renderDeviceConfig({ ...input, comment: value });
    expectNoUnsafeExceptNewline(text);
    const [first, ...rest] = text.split('\n');
    expect(first.startsWith('# ')).toBe(true);
    expect(rest.join('\n')).toBe(without);
  });
});
