/**
 * infra.tokens.yml sits in group_vars/, where a pull request can put a YAML file with many aliases (Ansible
 * loads it): setting a vault variable in it never crashes. A few aliases are kept as they are; past the
 * `yaml` package's expansion limit the edit is refused with exit 3 naming the file (it was a bare ReferenceError, exit 1).
 */
import { setVaultVar } from '../../src/adapters/ansible-vault.js';
import { InfraError } from '../../src/lib/errors.js';
import { thrown } from '../helpers/thrown.js';

const ENVELOPE = '$ANSIBLE_VAULT;1.1;AES256\n6162636465666768\n';
const withAliases = (n: number) => `base: &b /srv/roobot\n${Array.from({ length: n }, (_, i) => `path${i}: *b`).join('\n')}\n`;

describe('setVaultVar over a vars file with aliases', () => {
  it('10 aliases: the variable is set, the aliases kept byte for byte', () => {
    const text = withAliases(10);
    const next = setVaultVar(text, 'roobot_token', ENVELOPE, 'group_vars/bots/infra.tokens.yml');
    expect(next.startsWith(text)).toBe(true);
    expect(next).toContain('roobot_token: !vault |');
  });

  it('150 aliases: exit 3 naming the file, not a crash', () => {
    const e = thrown(() => setVaultVar(withAliases(150), 'roobot_token', ENVELOPE, 'group_vars/bots/infra.tokens.yml'));
    expect(e).toBeInstanceOf(InfraError);
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(/^group_vars\/bots\/infra\.tokens\.yml: its YAML aliases/);
  });
});
