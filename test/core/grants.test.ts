import { hostsReachedBy, planAccess } from '../../src/core/grants.js';
import { accessMatrix as auditMatrix } from '../../src/core/audit-grants.js';
import { parseIniInventory, parseYamlInventory, type Inventory } from '../../src/core/inventory.js';
import { DEFAULT_POLICY, type InfraConfig, type Member } from '../../src/core/types.js';
import { ed25519Line, rsaLine } from '../helpers/registry-fixture.js';

const production = parseYamlInventory(
  `all:
  children:
    production:
      children:
        bbb:
          hosts:
            bbb1:
            bbb2:
        vpn:
          hosts:
            vpn1:
    monitoring:
      hosts:
        mon1:
`,
  'inventories/production/hosts.yml',
);
const staging = parseIniInventory('[bbb]\nbbb-s1\n\n[staging:children]\nbbb\n', 'inventories/staging/hosts');
const inventories = { production, staging };

const config: InfraConfig = {
  org: 'Test',
  admins: [],
  environments: { production: 'inventories/production', staging: 'inventories/staging' },
  policy: DEFAULT_POLICY,
  access: [
    { groups: ['infra'], hosts: 'all', user: 'sysadmin' },
    { groups: ['meet-tech'], hosts: 'bbb:&production', user: 'sysadmin', vpn_only: true, environments: ['production'] },
    { groups: ['meet-tech'], hosts: 'bbb', user: 'sysadmin', environments: ['staging'] },
    { groups: ['monitoring'], hosts: 'monitoring', user: 'prometheus' },
    { groups: ['infra'], hosts: 'no-such-group', user: 'sysadmin' },
  ],
  vpn: {},
};

const key = (label: string, extra: Record<string, string> = {}) => ({ name: label.split('/')[1], key: ed25519Line(label), added: '2026-01-01', ...extra });
function member(handle: string, groups: string[], keys: Member['ssh_keys'], status: Member['status'] = 'active'): Member {
  return { handle, name: handle, kind: 'human', org: 'o', status, ...(status === 'departed' ? { departed: '2026-01-01' } : {}), groups, ssh_keys: keys, vpn_peers: [], tokens: [], has_pgp: false };
}
const weakRsa = { name: 'weak', key: rsaLine(2048), added: '2026-01-01' };
const members: Member[] = [
  member('alice', ['infra', 'meet-tech'], [key('alice/laptop')]),
  member('bob', ['meet-tech'], [key('bob/b1')]),
  member('carol', ['infra'], [key('carol/c1')], 'departed'),
  member('dave', ['infra'], [weakRsa, key('dave/good')]),
  member('erin', ['monitoring'], [key('erin/e1')]),
  member('frank', ['not-granted'], [key('frank/f1')]),
];

/** Every key line planAccess grants, flattened and in its order (environment, host, user, member, key name). */
function resolveAccess(config: InfraConfig, members: readonly Member[], inventories: Record<string, Inventory>) {
  const out: Array<{ environment: string; host: string; user: string; member: string; keyName: string; key: Member['ssh_keys'][number]; vpnOnly: boolean }> = [];
  for (const [environment, hosts] of planAccess(config, members, inventories))
    for (const [host, users] of hosts)
      for (const [user, access] of users)
        for (const g of access.granted) out.push({ environment, host, user, member: g.member, keyName: g.keyName, key: g.key, vpnOnly: g.vpnOnly });
  return out;
}

describe('planAccess, flattened', () => {
  // [environment, host, user, member, key, vpnOnly], worked out by hand from the grants above
  const expected: [string, string, string, string, string, boolean][] = [
    ['production', 'bbb1', 'sysadmin', 'alice', 'laptop', false], // infra (open) + meet-tech (vpn_only): open wins
    ['production', 'bbb1', 'sysadmin', 'bob', 'b1', true], // only the vpn_only grant reaches production
    ['production', 'bbb1', 'sysadmin', 'dave', 'good', false],
    ['production', 'bbb2', 'sysadmin', 'alice', 'laptop', false],
    ['production', 'bbb2', 'sysadmin', 'bob', 'b1', true],
    ['production', 'bbb2', 'sysadmin', 'dave', 'good', false],
    ['production', 'mon1', 'prometheus', 'erin', 'e1', false],
    ['production', 'mon1', 'sysadmin', 'alice', 'laptop', false],
    ['production', 'mon1', 'sysadmin', 'dave', 'good', false],
    ['production', 'vpn1', 'sysadmin', 'alice', 'laptop', false],
    ['production', 'vpn1', 'sysadmin', 'dave', 'good', false],
    ['staging', 'bbb-s1', 'sysadmin', 'alice', 'laptop', false],
    ['staging', 'bbb-s1', 'sysadmin', 'bob', 'b1', false], // the staging grant is not vpn_only
    ['staging', 'bbb-s1', 'sysadmin', 'dave', 'good', false],
  ];

  it('gives exactly the lines the grants imply, sorted', () => {
    const got = resolveAccess(config, members, inventories).map((e) => [e.environment, e.host, e.user, e.member, e.keyName, e.vpnOnly]);
    expect(got).toEqual(expected);
  });

  it.each([
    ['a departed member', 'carol'],
    ['a member of no granted group', 'frank'],
  ])('%s gets nothing', (_why, handle) => {
    expect(resolveAccess(config, members, inventories).filter((e) => e.member === handle)).toEqual([]);
  });

  it('a key failing policy grants nothing and is revoked, the member’s other key still works', () => {
    const entries = resolveAccess(config, members, inventories).filter((e) => e.member === 'dave');
    expect(entries.map((e) => e.keyName)).not.toContain('weak');
    const bbb1 = planAccess(config, members, inventories).get('production')!.get('bbb1')!.get('sysadmin')!;
    expect(bbb1.revoked.map((r) => [r.member, r.keyName, r.reason])).toEqual([
      ['carol', 'c1', 'departed'],
      ['dave', 'weak', 'policy'],
    ]);
  });

  it('does not depend on the order of members', () => {
    const shuffled = [members[3], members[5], members[0], members[4], members[2], members[1]];
    expect(resolveAccess(config, shuffled, inventories)).toEqual(resolveAccess(config, members, inventories));
  });

  it('one key given twice, both vpn_only, stays restricted', () => {
    const both: InfraConfig = {
      ...config,
      access: [
        { groups: ['meet-tech'], hosts: 'bbb1', user: 'sysadmin', vpn_only: true },
        { groups: ['meet-tech'], hosts: 'bbb', user: 'sysadmin', vpn_only: true },
      ],
    };
    const got = resolveAccess(both, [members[1]], { production, staging }).filter((e) => e.environment === 'production');
    expect(got.map((e) => [e.host, e.vpnOnly])).toEqual([
      ['bbb1', true],
      ['bbb2', true],
    ]);
  });
});

describe('accessMatrix and hostsReachedBy', () => {
  it('lists members per host and user, including granted users nobody can use', () => {
    // the audit's matrix, cut to who reaches what (its vpn and grant columns have tests of their own)
    const accessMatrix = (c: typeof config, ms: typeof members, inv: typeof inventories) =>
      auditMatrix(c, inv, planAccess(c, ms, inv)).map(({ environment, host, user, members: who }) => ({ environment, host, user, members: who }));
    const rows = accessMatrix(config, members, inventories);
    expect(rows.find((r) => r.environment === 'production' && r.host === 'bbb1')).toEqual({ environment: 'production', host: 'bbb1', user: 'sysadmin', members: ['alice', 'bob', 'dave'] });
    const noMonitoringPeople = accessMatrix(config, members.filter((m) => m.handle !== 'erin'), inventories);
    expect(noMonitoringPeople.find((r) => r.host === 'mon1' && r.user === 'prometheus')).toEqual({ environment: 'production', host: 'mon1', user: 'prometheus', members: [] });
  });

  it('says where one member gets in', () => {
    expect(hostsReachedBy('bob', config, members, inventories)).toEqual([
      { environment: 'production', host: 'bbb1', user: 'sysadmin', keys: ['b1'], vpnOnly: true },
      { environment: 'production', host: 'bbb2', user: 'sysadmin', keys: ['b1'], vpnOnly: true },
      { environment: 'staging', host: 'bbb-s1', user: 'sysadmin', keys: ['b1'], vpnOnly: false },
    ]);
    expect(hostsReachedBy('carol', config, members, inventories)).toEqual([]);
    expect(hostsReachedBy('nobody', config, members, inventories)).toEqual([]);
  });
});
