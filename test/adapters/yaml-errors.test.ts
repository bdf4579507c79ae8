import { readFileSync } from 'node:fs';
import { parseYamlFile } from '../../src/adapters/yaml-load.js';

const config = readFileSync(new URL('../../infra.yml', import.meta.url), 'utf8');

describe('YAML syntax errors point at the line to fix', () => {
  it('an unclosed flow list is reported on its own line, not where the parser gave up', () => {
    const lines = config.split('\n');
    const at = lines.findIndex((l) => l.startsWith('admins: [alice, bob]'));
    lines[at] = 'admins: [alice, bob';
    const { problems } = parseYamlFile('infra.yml', lines.join('\n'));
    expect(problems).toEqual([expect.objectContaining({ file: 'infra.yml', line: at + 1, field: '(yaml)' })]);
  });

  it('a bracket inside quotes or a comment does not count as an opener', () => {
    const text = 'a: "[x"   # [ not this\nb: [1, 2\nc: 3\n';
    const { problems } = parseYamlFile('t.yml', text);
    expect(problems[0].line).toBe(2);
  });

  it('other errors keep the parser position', () => {
    const { problems } = parseYamlFile('t.yml', 'a: 1\na: 2\n');
    expect(problems).toEqual([expect.objectContaining({ line: 2 })]);
  });
});
