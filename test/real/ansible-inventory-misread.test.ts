/**
 * infra and Ansible read an inventory differently. A U+2028 inside an INI comment made infra
 * keep web-staging in bbb, where Ansible (Python's str.splitlines) starts a new line and puts it in web.
 *
 * Each case is a file and what an editor shows of it (`visible`). Either infra reads the file exactly as the
 * real `ansible-inventory --list` does, or infra refuses it naming file and line; a refusal is only right
 * where Ansible's reading differs from what the editor shows, which the test checks against Ansible too.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InfraError } from '../../src/lib/errors.js';
import { parseIniInventory, parseYamlInventory, type Inventory } from '../../src/core/inventory.js';
import { ansibleInventoryList, inventoryList } from '../helpers/ansible-inventory.js';
import { requireTool } from '../helpers/real-tools.js';

const d = requireTool('ansible-inventory', 'ansible') ? describe : describe.skip;

interface Case {
  name: string;
  format: 'ini' | 'yaml';
  text: string;
  /** infra refuses the file at this line; undefined: infra reads it as Ansible does. */
  refusedAt?: number;
  /** The file as an editor shows it (refused cases): Ansible must read the real file differently. */
  visible?: string;
}

const CASES: Case[] = [
  {
    name: 'INI: U+2028 inside a comment (the reported hole)',
    format: 'ini',
    text: '[web]\nweb1\n[bbb]\nbbb1\n# staging moved to\u2028[web]\nweb-staging\n',
    visible: '[web]\nweb1\n[bbb]\nbbb1\n# staging moved to [web]\nweb-staging\n',
    refusedAt: 5,
  },
  ...(
    [
      ['U+2029', '\u2029'],
      ['U+0085', '\u0085'],
      ['a vertical tab', '\v'],
      ['a form feed', '\f'],
      ['U+001C', '\x1c'],
      ['U+001D', '\x1d'],
      ['U+001E', '\x1e'],
    ] as const
  ).map(([what, c]): Case => ({
    name: `INI: ${what} inside a comment`,
    format: 'ini',
    text: `[bbb]\nbbb1\n# old:${c}web-staging\n`,
    visible: '[bbb]\nbbb1\n# old: web-staging\n',
    refusedAt: 3,
  })),
  {
    name: 'INI: a byte-order mark (Ansible keeps it in the first host name)',
    format: 'ini',
    text: '\ufeffweb1\n[bbb]\nbbb1\n',
    visible: 'web1\n[bbb]\nbbb1\n',
    refusedAt: 1,
  },
  {
    name: 'INI: a no-break space in a host line (shlex does not split there: one host named "web1\\u00a0ansible_host=...")',
    format: 'ini',
    text: '[web]\nweb1\u00a0ansible_host=192.0.2.1\n',
    visible: '[web]\nweb1 ansible_host=192.0.2.1\n',
    refusedAt: 2,
  },
  {
    name: 'INI: an ideographic space in a host line',
    format: 'ini',
    text: '[web]\nweb1\u3000ansible_port=2222\n',
    visible: '[web]\nweb1 ansible_port=2222\n',
    refusedAt: 2,
  },
  { name: 'INI: no-break and ideographic spaces around lines (Python strip removes them)', format: 'ini', text: '\u3000[web]\u00a0\n\u00a0web1 ansible_port=22\u3000\n[db]\u00a0# c\ndb1\n' },
  { name: 'INI: U+001F before a host and a section (Python strip removes it; JavaScript trim does not)', format: 'ini', text: '\x1f[web]\x1f\n\x1fweb1\x1f\n' },
  { name: 'INI: U+001F between a section and its comment (Python \\s matches it)', format: 'ini', text: '[web]\x1f# the web servers\nweb1\n' },
  { name: 'INI: a byte-order mark and a no-break space inside comments', format: 'ini', text: '[web]\n# caf\ufeffe\u00a0: x\nweb1 # a\u00a0b\n; \ufeff\n' },
  { name: 'INI: CRLF and a lone CR end lines in both readers', format: 'ini', text: '[web]\r\nweb1\r[db]\rdb1\r\n' },
  {
    name: 'YAML: U+0085 inside a comment (PyYAML ends the line there)',
    format: 'yaml',
    text: 'all:\n  children:\n    bbb:\n      hosts:\n        bbb1:   # staging\u0085        web-staging:\n',
    visible: 'all:\n  children:\n    bbb:\n      hosts:\n        bbb1:   # staging         web-staging:\n',
    refusedAt: 5,
  },
  {
    name: 'YAML: U+2028 inside a comment',
    format: 'yaml',
    text: 'all:\n  children:\n    bbb:\n      hosts:\n        bbb1:   # staging\u2028        web-staging:\n',
    visible: 'all:\n  children:\n    bbb:\n      hosts:\n        bbb1:   # staging         web-staging:\n',
    refusedAt: 5,
  },
  {
    name: 'YAML: U+2029 inside a comment',
    format: 'yaml',
    text: 'all:\n  children:\n    bbb:\n      hosts:\n        bbb1:   # staging\u2029        web-staging:\n',
    visible: 'all:\n  children:\n    bbb:\n      hosts:\n        bbb1:   # staging         web-staging:\n',
    refusedAt: 5,
  },
  { name: 'YAML: lone CR line ends (PyYAML reads them as LF; so does infra)', format: 'yaml', text: 'all:\n  hosts:\n    web1:\r    web2:\r      note: "a\r        b"\n' },
  {
    name: 'YAML: a byte-order mark inside a host name',
    format: 'yaml',
    text: 'all:\n  hosts:\n    \ufeffweb1:\n',
    visible: 'all:\n  hosts:\n    web1:\n',
    refusedAt: 3,
  },
  {
    name: 'YAML: a no-break space ending a host name',
    format: 'yaml',
    text: 'all:\n  hosts:\n    web1\u00a0:\n',
    visible: 'all:\n  hosts:\n    web1 :\n',
    refusedAt: 3,
  },
  { name: 'YAML: a vertical tab in a value (PyYAML refuses the file)', format: 'yaml', text: 'all:\n  hosts:\n    web1:\n      note: "a\vb"\n', refusedAt: 4 },
  { name: 'YAML: U+001C in a comment (PyYAML refuses the file)', format: 'yaml', text: 'all:\n  hosts:\n    web1: # a\x1cb\n', refusedAt: 3 },
  { name: 'YAML: a byte-order mark at the start (both readers skip it)', format: 'yaml', text: '\ufeffall:\n  hosts:\n    web1:\n' },
  { name: 'YAML: no-break spaces in comments and values', format: 'yaml', text: 'all:\n  hosts:\n    web1:   # caf\u00a0e\n      note: "a\u00a0b"\n' },
];

const parse = (c: { format: 'ini' | 'yaml'; text: string }, file: string): Inventory => (c.format === 'ini' ? parseIniInventory(c.text, file) : parseYamlInventory(c.text, file));

d('hole 4: infra reads an inventory as Ansible does, or refuses it with file and line', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'infra-misread-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const file = write(`${CASES.indexOf(c)}-${c.format === 'ini' ? 'hosts' : 'hosts.yml'}`, c.text);
    const ansible = await ansibleInventoryList(file, c.format);
    let infra: Inventory | InfraError;
    try {
      infra = parse(c, file);
    } catch (e) {
      if (!(e instanceof InfraError)) throw e;
      infra = e;
    }

    if (c.refusedAt === undefined) {
      if (infra instanceof InfraError) throw new Error(`infra refused a file Ansible reads: ${infra.message}`);
      expect(ansible.parsed).toBe(true);
      expect(inventoryList(infra)).toEqual(ansible.parsed && ansible.list);
      return;
    }

    expect(infra).toBeInstanceOf(InfraError);
    const error = infra as InfraError;
    expect(error.exitCode).toBe(3);
    expect(error.message.startsWith(`${file}:${c.refusedAt}: `)).toBe(true);
    expect(error.problems[0]).toMatchObject({ file, line: c.refusedAt });
    if (c.visible === undefined) {
      // a character Ansible's reader refuses outright
      expect(ansible.parsed).toBe(false);
      return;
    }
    // the refusal is warranted: what Ansible reads is not what the editor shows
    const shown = await ansibleInventoryList(write(`${CASES.indexOf(c)}-visible-${c.format === 'ini' ? 'hosts' : 'hosts.yml'}`, c.visible), c.format);
    expect(shown.parsed).toBe(true);
    expect(ansible.parsed && ansible.list).not.toEqual(shown.parsed && shown.list);
    // and infra reads the visible file as Ansible does
    expect(inventoryList(parse({ format: c.format, text: c.visible }, file))).toEqual(shown.parsed && shown.list);
  }, 60_000);

  it('the reported hole: Ansible puts web-staging in web, and infra no longer keeps it in bbb', async () => {
    const c = CASES[0];
    const ansible = await ansibleInventoryList(write('hole-hosts', c.text), 'ini');
    expect(ansible.parsed && ansible.list.groups.web).toEqual({ hosts: ['web1', 'web-staging'] });
    expect(ansible.parsed && ansible.list.groups.bbb).toEqual({ hosts: ['bbb1'] });
    expect(() => parseIniInventory(c.text, 'inventories/staging/hosts')).toThrow(/^inventories\/staging\/hosts:5: U\+2028 starts a new line for Ansible/);
  }, 60_000);
});
