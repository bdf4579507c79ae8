/** Wrapping at word and path boundaries: the audit's wrapText and the tables' wrapping columns. */
import { wrapText } from '../../src/core/audit-format.js';
import { table } from '../../src/lib/style.js';

it.each([
  ['inventories/production/host_vars/vpn1/infra.generated.yml', 40, ['inventories/production/host_vars/vpn1/', 'infra.generated.yml']],
  ['see a/b/c, d', 4, ['see', 'a/b/', 'c, d']],
  ['abcdefghij', 4, ['abcd', 'efgh', 'ij']],
  ['/x', 1, ['/', 'x']],
])('wrapText(%j, %d) breaks after / or , before cutting', (text, width, lines) => {
  expect(wrapText(text, width)).toEqual(lines);
});

it('a wrapping column puts its words on continuation lines and keeps the other columns aligned', () => {
  const out = table(['KEY', 'NOTE'], [['a/b', 'expires in 7 days'], ['c/d', '']], { width: 15, shrink: [1], wrap: [1] });
  expect(out).toBe(['KEY  NOTE', 'a/b  expires in', '     7 days', 'c/d'].join('\n') + '\n');
});

it('a wrapping column never gets narrower than its longest piece, and splits long words after / , :', () => {
  const out = table(['C'], [['github_secret:example-coop/organizing:API, x']], { width: 10, shrink: [0], wrap: [0] });
  expect(out.split('\n').filter(Boolean)).toEqual(['C', 'github_secret:', 'example-coop/', 'organizing:', 'API, x']);
});

it('without fit (a pipe) nothing wraps or is cut', () => {
  const long = 'x'.repeat(300);
  expect(table(['A', 'B'], [['1', long]])).toBe(`A  B\n1  ${long}\n`);
});

it('a word with no break point in a wrapping column is cut with …, never split across lines', () => {
  const out = table(['N', 'NOTE'], [['1', 'aaaaaaaaaaaaaaaaaaaa bb']], { width: 12, shrink: [1], wrap: [1] });
  expect(out.split('\n').every((l) => l.length <= 23)).toBe(true);
  expect(out).toContain('aaaaaaaaaaaaaaaaaaaa'); // the column kept room for the longest piece
});

it('a `whole` wrapping column breaks only at spaces: an IPv6 address stays on one line, whole', () => {
  const out = table(['N', 'ADDRESSES', 'KEY'], [['1', '10.77.0.2/32, fd77:77::2/128', 'S1240y2EcAbCdEfGhIj']], { width: 30, shrink: [2, 1], wrap: [1], whole: [1] });
  const lines = out.split('\n').filter(Boolean);
  expect(lines.slice(1).map((l) => l.slice(3, 17).trim())).toEqual(['10.77.0.2/32,', 'fd77:77::2/128']);
  expect(lines.every((l) => l.length <= 30)).toBe(true);
});
