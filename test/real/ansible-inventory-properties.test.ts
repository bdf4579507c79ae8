/**
 * Property tests (fast-check) of the INI and YAML inventory readers against the real `ansible-inventory --list`
 * on generated inventories: groups, children, hosts and variables, written with the noise people and editors
 * add (comments, blank lines, CRLF or CR line ends, tabs and Unicode spaces around lines, invisible and
 * line-breaking characters inside comments). For every file: infra reads what Ansible reads, or infra refuses
 * it with file and line, which is allowed only when Ansible cannot read it either or when it holds a character
 * that makes Ansible see other lines or names than an editor shows.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { InfraError } from '../../src/lib/errors.js';
import { parseIniInventory, parseYamlInventory, type Inventory } from '../../src/core/inventory.js';
import { ansibleInventoryList, effectiveInventoryList } from '../helpers/ansible-inventory.js';
import { requireTool } from '../helpers/real-tools.js';

const d = requireTool('ansible-inventory', 'ansible') ? describe : describe.skip;
const RUNS = 25; // per format; each run starts ansible-inventory once (about 0.3 s)

const GROUPS = ['web', 'db', 'bbb', 'prod', 'toString', 'hasOwnProperty', 'meet_tech'];
const HOSTS = ['web1', 'db-2', 'bbb1.meet.coop', 'valueOf', 'constructor', '192.0.2.7', 'h_1'];
const VAR_NAMES = ['ansible_host', 'ansible_port', 'note', 'constructor', 'weight'];

/** What infra refuses by design: characters that split lines only for Ansible, or hide (a BOM where Ansible keeps it). */
const REFUSED_CHARACTERS = {
  ini: /[\v\f\x1c-\x1e\x85\u2028\u2029]|^\ufeff/,
  yaml: /[\x85\u2028\u2029]|(?<!^)\ufeff/,
};

interface Model {
  ungrouped: Array<{ host: string; vars: Array<[string, string | number]> }>;
  groups: Array<{ name: string; hosts: Array<{ host: string; vars: Array<[string, string | number]> }>; children: string[]; vars: Array<[string, string | number]> }>;
}

const varsArb = fc.uniqueArray(
  fc.tuple(fc.constantFrom(...VAR_NAMES), fc.oneof(fc.nat(65535), fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/).map((s) => `s${s}`))),
  { selector: ([k]) => k, maxLength: 2 },
);
const hostEntries = fc.uniqueArray(fc.record({ host: fc.constantFrom(...HOSTS), vars: varsArb }), { selector: (h) => h.host, maxLength: 3 });

const modelArb: fc.Arbitrary<Model> = fc
  .record({
    ungrouped: hostEntries,
    groups: fc.uniqueArray(fc.record({ name: fc.constantFrom(...GROUPS), hosts: hostEntries, vars: varsArb, children: fc.subarray(GROUPS) }), {
      selector: (g) => g.name,
      minLength: 1,
      maxLength: 5,
    }),
  })
  .map((m) => ({
    ...m,
    // children only among the groups defined, and only later ones (no loops)
    groups: m.groups.map((g, i) => ({ ...g, children: g.children.filter((c) => m.groups.findIndex((x) => x.name === c) > i) })),
  }));

/** Noise an editor keeps: around lines (INI only; YAML indentation is significant) and inside comments. */
const edgeSpace = fc.constantFrom('', '', '', ' ', '\t', '\u00a0', '\u3000', '\x1f');
// characters that break lines only for Ansible come rarely, so that most files are read rather than refused
const commentText = fc
  .array(
    fc.oneof(
      { weight: 30, arbitrary: fc.constantFrom('a', 'b', ' ', '#', ';', '[x]', 'web9', '\u00a0', '\u3000', 'é', '\t') },
      { weight: 1, arbitrary: fc.constantFrom('\u2028', '\u0085', '\v', '\x1c', '\u2029', '\f', '\ufeff', '\ufeff') },
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.join(''));
const lineEnd = (format: 'ini' | 'yaml') => fc.constantFrom('\n', '\n', '\n', '\r\n', ...(format === 'ini' ? ['\r'] : []));

interface Noise {
  ends: string[];
  edges: string[];
  comments: string[];
  commentEvery: number;
}
const noiseArb = (format: 'ini' | 'yaml') =>
  fc.record({
    ends: fc.array(lineEnd(format), { minLength: 1, maxLength: 8 }),
    edges: fc.array(edgeSpace, { minLength: 1, maxLength: 8 }),
    comments: fc.array(commentText, { minLength: 1, maxLength: 4 }),
    commentEvery: fc.integer({ min: 2, max: 9 }),
  });

function assemble(lines: string[], noise: Noise, format: 'ini' | 'yaml'): string {
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (i % noise.commentEvery === 1) out.push(`${format === 'ini' && i % 2 ? ';' : '#'}${noise.comments[i % noise.comments.length]}`);
    const edge = format === 'ini' ? noise.edges[i % noise.edges.length] : '';
    out.push(`${edge}${line}${edge}`);
  });
  return out.map((l, i) => l + noise.ends[i % noise.ends.length]).join('');
}

function iniText(m: Model, noise: Noise): string {
  const hostLine = (h: Model['ungrouped'][number]) => [h.host, ...h.vars.map(([k, v]) => `${k}=${v}`)].join(' ');
  const lines = m.ungrouped.map(hostLine);
  for (const g of m.groups) {
    lines.push(`[${g.name}]`, ...g.hosts.map(hostLine));
    if (g.children.length) lines.push(`[${g.name}:children]`, ...g.children);
    if (g.vars.length) lines.push(`[${g.name}:vars]`, ...g.vars.map(([k, v]) => `${k} = ${v}`));
  }
  return assemble(lines, noise, 'ini');
}

function yamlText(m: Model, noise: Noise): string {
  const scalar = (v: string | number) => (typeof v === 'number' ? String(v) : `'${v}'`);
  const hostLines = (hosts: Model['ungrouped'], indent: string) =>
    hosts.flatMap((h) => (h.vars.length ? [`${indent}${h.host}:`, ...h.vars.map(([k, v]) => `${indent}  ${k}: ${scalar(v)}`)] : [`${indent}${h.host}:`]));
  const lines = ['all:'];
  if (m.ungrouped.length) lines.push('  hosts:', ...hostLines(m.ungrouped, '    '));
  lines.push('  children:');
  for (const g of m.groups) {
    lines.push(`    ${g.name}:`);
    if (g.hosts.length) lines.push('      hosts:', ...hostLines(g.hosts, '        '));
    if (g.children.length) lines.push('      children:', ...g.children.map((c) => `        ${c}:`));
    if (g.vars.length) lines.push('      vars:', ...g.vars.map(([k, v]) => `        ${k}: ${scalar(v)}`));
    if (!g.hosts.length && !g.children.length && !g.vars.length) lines[lines.length - 1] += ' {}';
  }
  // a comment after a value, where PyYAML's extra line breaks would do harm
  return assemble(lines, noise, 'yaml').replace(/(\n|\r\n)/, ` #${noise.comments[0]}$1`);
}

d(`INI and YAML inventory readers against ansible-inventory --list (${RUNS} generated inventories each)`, () => {
  let dir: string;
  let counter = 0;
  const outcomes = { same: 0, refusedWithReason: 0 };
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'infra-invprop-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    console.log(`inventory properties: ${outcomes.same} read as Ansible reads them, ${outcomes.refusedWithReason} refused with file and line`);
  });

  const check = async (format: 'ini' | 'yaml', text: string) => {
    const file = path.join(dir, `${counter++}-${format === 'ini' ? 'hosts' : 'hosts.yml'}`);
    writeFileSync(file, text);
    const ansible = await ansibleInventoryList(file, format);
    let infra: Inventory | InfraError;
    try {
      infra = format === 'ini' ? parseIniInventory(text, file) : parseYamlInventory(text, file);
    } catch (e) {
      if (!(e instanceof InfraError)) throw e;
      infra = e;
    }
    if (infra instanceof InfraError) {
      expect(infra.exitCode).toBe(3);
      expect(infra.problems[0]).toMatchObject({ file, line: expect.any(Number) });
      const reason = !ansible.parsed || REFUSED_CHARACTERS[format].test(text);
      if (!reason) throw new Error(`infra refused a file Ansible reads, with no reason to: ${infra.message}\n${JSON.stringify(text)}`);
      outcomes.refusedWithReason++;
      return;
    }
    if (!ansible.parsed) throw new Error(`Ansible refuses a file infra reads: ${ansible.stderr}\n${JSON.stringify(text)}`);
    expect([JSON.stringify(text), effectiveInventoryList(infra)]).toEqual([JSON.stringify(text), ansible.list]);
    outcomes.same++;
  };

  it(`INI (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(modelArb, noiseArb('ini'), (m, noise) => check('ini', iniText(m, noise))),
      { numRuns: RUNS },
    );
  }, 300_000);

  it(`YAML (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(modelArb, noiseArb('yaml'), (m, noise) => check('yaml', yamlText(m, noise))),
      { numRuns: RUNS },
    );
  }, 300_000);
});
