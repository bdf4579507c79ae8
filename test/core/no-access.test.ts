import { planAccess } from '../../src/core/grants.js';
import { parseYamlInventory } from '../../src/core/inventory.js';
import { noAccessFindings } from '../../src/core/no-access.js';
import { DEFAULT_POLICY, type Grant, type InfraConfig, type Member } from '../../src/core/types.js';
import { ed25519Line, rsaLine } from '../helpers/registry-fixture.js';

const production = parseYamlInventory('all:\n  children:\n    bbb:\n      hosts:\n        bbb1:\n', 'inventories/production/hosts.yml');
const empty = parseYamlInventory('all:\n  hosts: {}\n', 'inventories/staging/hosts.yml');
const inventories = { production, staging: empty };

const config = (access: Grant[]): InfraConfig => ({
  org: 'Test',
  admins: [],
  environments: { production: 'inventories/production', staging: 'inventories/staging' },
  policy: DEFAULT_POLICY,
  access,
  vpn: {},
});
function member(handle: string, groups: string[], keys: string[], extra: Partial<Member> = {}): Member {
  return { handle, name: handle, kind: 'human', org: 'o', status: 'active', groups, ssh_keys: keys.map((k, i) => ({ name: `k${i}`, key: k, added: '2026-01-01' })), vpn_peers: [], tokens: [], has_pgp: false, ...extra };
}
const subjects = (cfg: InfraConfig, members: Member[]) => noAccessFindings(cfg, members, planAccess(cfg, members, inventories), inventories).map((f) => f.subject);

describe('no-access', () => {
  it.each<[string, Grant[], Member[], string[]]>([
    ['members and no grant at all: one finding for the registry', [], [member('gina', ['infra'], [ed25519Line('gina/k0')])], ['access']],
    ['no grant and no member: nothing to say', [], [], []],
    ['a member with keys in a group no grant names', [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }], [member('gina', ['infra'], [ed25519Line('gina/k0')]), member('hal', ['ops'], [ed25519Line('hal/k0')])], ['hal']],
    ['a member whose only key fails policy reaches nothing', [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }], [member('gina', ['infra'], [ed25519Line('gina/k0')]), member('ivy', ['infra'], [rsaLine(2048)])], ['ivy']],
    ['a member without keys is not reported (nothing to reach with)', [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }], [member('gina', ['infra'], [ed25519Line('gina/k0')]), member('jo', ['ops'], [])], []],
    ['departed members and bots are not reported', [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }], [member('gina', ['infra'], [ed25519Line('gina/k0')]), member('kim', ['ops'], [ed25519Line('kim/k0')], { status: 'departed', departed: '2026-01-01' }), member('bot', [], [ed25519Line('bot/k0')], { kind: 'bot' })], []],
    ['a grant whose pattern selects no host where it applies', [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }, { groups: ['infra'], hosts: 'all', user: 'deploy', environments: ['staging'] }], [member('gina', ['infra'], [ed25519Line('gina/k0')])], ['access[1]']],
  ])('%s', (_what, access, members, expected) => {
    expect(subjects(config(access), members).sort()).toEqual(expected.sort());
  });

  it('each finding carries a command that makes the access exist', () => {
    const found = noAccessFindings(config([{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }]), [member('hal', ['ops'], [ed25519Line('hal/k0')])], planAccess(config([{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }]), [], inventories), inventories);
    expect(found).toHaveLength(1);
    expect(found[0].fix).toContain('infra members edit hal --add-group');
  });
});
