/** What falls due within the horizon (core/audit-due.ts) and which groups reach which hosts (core/audit-reach.ts), with literals. */
import { dueItems } from '../../src/core/audit-due.js';
import { reachEdges } from '../../src/core/audit-reach.js';
import { parseYamlInventory } from '../../src/core/inventory.js';
import { DEFAULT_POLICY, type InfraConfig, type Member } from '../../src/core/types.js';

const config = { org: 'T', admins: [], environments: { production: 'inventories/production' }, policy: { ...DEFAULT_POLICY, audit: { ...DEFAULT_POLICY.audit, horizon_days: 30 } }, access: [], vpn: {} } as unknown as InfraConfig;
const member = (handle: string, over: Partial<Member>): Member => ({ handle, name: handle, kind: 'human', status: 'active', groups: [], ssh_keys: [], vpn_peers: [], tokens: [], ...over }) as unknown as Member;

describe('dueItems', () => {
  it('key expiries, token rotations and GitHub expiry within the horizon; past ones overdue; departed members and later dates left out', () => {
    const members = [
      member('alice', { ssh_keys: [{ name: 'soon', key: 'k', added: '2026-01-01', expires: '2026-12-10' }, { name: 'later', key: 'k', added: '2026-01-01', expires: '2027-06-01' }, { name: 'gone', key: 'k', added: '2026-01-01', expires: '2026-11-01' }] } as Partial<Member>),
      member('carol', { status: 'departed', ssh_keys: [{ name: 'x', key: 'k', added: '2026-01-01', expires: '2026-12-01' }] } as Partial<Member>),
      member('roobot', { kind: 'bot', tokens: [{ name: 'github', kind: 'github', rotated_at: '2026-10-01', rotate_every_days: 60, expires_at: '2026-12-20', consumers: [] }, { name: 'matrix', kind: 'matrix', rotated_at: '2026-11-20', consumers: [] }] } as Partial<Member>),
    ];
    expect(dueItems({ config, members, asOf: '2026-11-29' })).toEqual([
      { section: 'SSH key expiry', subject: 'alice/gone', date: '2026-11-01', overdue: true },
      { section: 'SSH key expiry', subject: 'alice/soon', date: '2026-12-10', overdue: false },
      { section: 'Token rotation', subject: 'roobot/github', date: '2026-11-30', overdue: false },
      { section: 'GitHub token expiry', subject: 'roobot/github', date: '2026-12-20', overdue: false },
    ]);
  });
});

describe('reachEdges', () => {
  it('one edge per grant and environment, with the hosts its pattern selects there', () => {
    const c = { ...config, environments: { production: 'p', staging: 's' }, access: [{ groups: ['infra'], hosts: 'bbb', user: 'sysadmin', vpn_only: true }, { groups: ['ops'], hosts: 'all', user: 'root', environments: ['staging'] }] } as unknown as InfraConfig;
    const inventories = { production: parseYamlInventory('all:\n  children:\n    bbb:\n      hosts: {bbb2: {}, bbb1: {}}\n  hosts: {web1: {}}\n', 'p/hosts.yml'), staging: parseYamlInventory('all:\n  hosts: {s1: {}}\n', 's/hosts.yml') };
    expect(reachEdges(c, inventories)).toEqual([
      { environment: 'production', grant: 'access[0]', groups: ['infra'], hosts: 'bbb', matched: ['bbb1', 'bbb2'], user: 'sysadmin', vpn_only: true },
      { environment: 'staging', grant: 'access[0]', groups: ['infra'], hosts: 'bbb', matched: [], user: 'sysadmin', vpn_only: true },
      { environment: 'staging', grant: 'access[1]', groups: ['ops'], hosts: 'all', matched: ['s1'], user: 'root', vpn_only: false },
    ]);
  });
});
