/** consumerSteps: one step per GitHub consumer, one per vault vars file, in the order of first appearance. */
import { consumerSteps } from '../../src/core/token-steps.js';
import { formatConsumer, parseConsumer } from '../../src/core/tokens.js';

const FILES: Record<string, string> = {
  'ansible_vault_var:production:bots:a': 'inv/p/group_vars/bots/infra.tokens.yml',
  'ansible_vault_var:production:bots:b': 'inv/p/group_vars/bots/infra.tokens.yml',
  'ansible_vault_var:production:web:c': 'inv/p/group_vars/web/infra.tokens.yml',
  'ansible_vault_var:staging:bots:d': 'inv/s/group_vars/bots/infra.tokens.yml',
};

const steps = (list: string[]) => consumerSteps(list.map((s) => parseConsumer(s)), FILES).map((s) => ({ file: s.file, consumers: s.consumers.map(formatConsumer) }));

it.each<[string, string[], Array<{ file?: string; consumers: string[] }>]>([
  ['no consumer', [], []],
  ['one GitHub consumer', ['github_secret:o/r:A'], [{ file: undefined, consumers: ['github_secret:o/r:A'] }]],
  ['two GitHub consumers: two steps', ['github_secret:o/r:A', 'github_org_secret:o:B'], [{ file: undefined, consumers: ['github_secret:o/r:A'] }, { file: undefined, consumers: ['github_org_secret:o:B'] }]],
  ['two vault variables of one file: one step', ['ansible_vault_var:production:bots:a', 'ansible_vault_var:production:bots:b'], [{ file: FILES['ansible_vault_var:production:bots:a'], consumers: ['ansible_vault_var:production:bots:a', 'ansible_vault_var:production:bots:b'] }]],
  [
    'the same file apart: the step stands at its first consumer',
    ['ansible_vault_var:production:bots:a', 'github_secret:o/r:A', 'ansible_vault_var:production:web:c', 'ansible_vault_var:production:bots:b'],
    [
      { file: FILES['ansible_vault_var:production:bots:a'], consumers: ['ansible_vault_var:production:bots:a', 'ansible_vault_var:production:bots:b'] },
      { file: undefined, consumers: ['github_secret:o/r:A'] },
      { file: FILES['ansible_vault_var:production:web:c'], consumers: ['ansible_vault_var:production:web:c'] },
    ],
  ],
  ['two environments, one group name: two files, two steps', ['ansible_vault_var:production:bots:a', 'ansible_vault_var:staging:bots:d'], [{ file: FILES['ansible_vault_var:production:bots:a'], consumers: ['ansible_vault_var:production:bots:a'] }, { file: FILES['ansible_vault_var:staging:bots:d'], consumers: ['ansible_vault_var:staging:bots:d'] }]],
])('%s', (_what, list, want) => {
  expect(steps(list)).toEqual(want);
});

it('a vault consumer whose file is unknown is a bug, not a silent skip', () => {
  expect(() => consumerSteps([parseConsumer('ansible_vault_var:production:db:z')], FILES)).toThrow(/no vars file for ansible_vault_var:production:db:z/);
});
