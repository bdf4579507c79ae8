/**
 * Hosts with the same access share one text within a render (renderTargets). On a generated registry
 * (many hosts in overlapping groups, intersections and exclusions, two remote users, vpn_only, expiry,
 * departed members, VPN servers, the compat block, previous files to carry over), the shared render must
 * give exactly the bytes of the previous implementation, every host's text made anew (sharedTextBudget 0),
 * and each host's keys must be the ones the grants give it, worked out here from the generator's own model.
 */
import { parse } from 'yaml';
import { parseIniInventory } from '../../src/core/inventory.js';
import { planRender, renderTargets, type PlanOptions } from '../../src/core/render.js';
import { DEFAULT_POLICY, type Grant, type InfraConfig, type Member, type Registry } from '../../src/core/types.js';
import { ed25519Line, keyBody } from '../helpers/registry-fixture.js';
import { meetNetwork } from '../helpers/networks.js';

const HOSTS = 60;
const TEAMS = 6;
const MEMBERS = 42;
const hostName = (i: number) => `host${i}`;
const handleOf = (i: number) => `m${String(i).padStart(2, '0')}`;
const teamOf = (i: number) => `team${i % TEAMS}`;
const departed = (i: number) => i % 7 === 6;
const inInfra = (i: number) => i % 10 === 0;

// The generator's model of the inventory: host i is in hg(i % TEAMS), in region(i / 20), and hosts 0 and 1 serve the VPN.
const hostGroup = (i: number) => `hg${i % TEAMS}`;
const hostRegion = (i: number) => `region${Math.floor(i / 20)}`;

function inventoryText(): string {
  const groups = new Map<string, number[]>();
  const add = (group: string, i: number) => groups.set(group, [...(groups.get(group) ?? []), i]);
  for (let i = 0; i < HOSTS; i++) {
    add(hostGroup(i), i);
    add(hostRegion(i), i);
  }
  groups.set('vpn', [0, 1]);
  return [...groups].map(([group, hosts]) => `[${group}]\n${hosts.map(hostName).join('\n')}\n`).join('\n');
}

/** Each grant with the hosts it selects in the model (not through the host-pattern code). */
const grants: Array<Grant & { selects: (i: number) => boolean }> = [
  { groups: ['infra'], hosts: 'all', user: 'sysadmin', selects: () => true },
  { groups: ['team0'], hosts: 'hg0', user: 'deploy', vpn_only: true, selects: (i) => hostGroup(i) === 'hg0' },
  { groups: ['team1'], hosts: 'hg1:&region0', user: 'sysadmin', selects: (i) => hostGroup(i) === 'hg1' && hostRegion(i) === 'region0' },
  { groups: ['team2'], hosts: 'region0:!hg1', user: 'sysadmin', selects: (i) => hostRegion(i) === 'region0' && hostGroup(i) !== 'hg1' },
  { groups: ['team3'], hosts: 'hg3', user: 'deploy', selects: (i) => hostGroup(i) === 'hg3' },
  { groups: ['team4'], hosts: 'hg4:&region1', user: 'sysadmin', vpn_only: true, selects: (i) => hostGroup(i) === 'hg4' && hostRegion(i) === 'region1' },
  { groups: ['team5'], hosts: 'region2:!hg5', user: 'sysadmin', selects: (i) => hostRegion(i) === 'region2' && hostGroup(i) !== 'hg5' },
  { groups: ['team2', 'team3'], hosts: 'hg3:&region0', user: 'sysadmin', selects: (i) => hostGroup(i) === 'hg3' && hostRegion(i) === 'region0' },
];

function member(i: number): Member {
  const handle = handleOf(i);
  const groups = [teamOf(i), ...(inInfra(i) ? ['infra'] : [])];
  return {
    handle,
    name: handle,
    kind: 'human',
    org: 'o',
    status: departed(i) ? 'departed' : 'active',
    ...(departed(i) ? { departed: '2026-10-01' } : {}),
    groups,
    ssh_keys: [
      { name: 'laptop', key: `${keyBody(ed25519Line(`${handle}-laptop`))} ${handle}@laptop`, added: '2026-01-01', ...(i % 2 === 0 ? { expires: '2027-06-30' } : {}) },
      { name: 'desktop', key: `${keyBody(ed25519Line(`${handle}-desktop`))} ${handle}@desktop`, added: '2026-01-01' },
    ],
    vpn_peers: [{ device: 'laptop', network: 'meet', public_key: Buffer.alloc(32, i + 1).toString('base64'), addresses: [`10.77.0.${i + 2}/32`, `fd77:77::${(i + 2).toString(16)}/128`], added: '2026-01-01' }],
    tokens: [],
    has_pgp: false,
  };
}

const config = (over: Partial<InfraConfig> = {}): InfraConfig => ({
  org: 'Test',
  admins: [],
  environments: { production: 'inventories/production' },
  policy: DEFAULT_POLICY,
  access: grants.map(({ selects: _selects, ...grant }) => grant),
  vpn: { meet: meetNetwork({ server_public_key: Buffer.alloc(32, 99).toString('base64') }) },
  ...over,
});

const members = Array.from({ length: MEMBERS }, (_, i) => member(i));
const registry: Registry = { root: '/registry', config: config(), members };
const compatRegistry: Registry = { ...registry, config: config({ render: { compat: 'provision_ssh_keys' } }) };
const inventories = { production: parseIniInventory(inventoryText(), 'inventories/production/hosts') };
const fileOf = (i: number) => `inventories/production/host_vars/${hostName(i)}/infra.generated.yml`;
const madeAnew: PlanOptions = { sharedTextBudget: 0 };

/** remote user -> the handle/key names the model says a host gets (granted) and must lose (departed). */
function modelAccess(host: number): { granted: Map<string, Set<string>>; revoked: Map<string, Set<string>> } {
  const granted = new Map<string, Set<string>>();
  const revoked = new Map<string, Set<string>>();
  for (const grant of grants) {
    if (!grant.selects(host)) continue;
    for (let i = 0; i < MEMBERS; i++) {
      const m = members[i];
      if (!m.groups.some((g) => grant.groups.includes(g))) continue;
      const into = departed(i) ? revoked : granted;
      if (!into.has(grant.user)) into.set(grant.user, new Set());
      for (const k of m.ssh_keys) into.get(grant.user)!.add(`${m.handle}/${k.name}`);
    }
    if (!granted.has(grant.user)) granted.set(grant.user, new Set());
  }
  return { granted, revoked };
}

const commentsOf = (byUser: Record<string, string[]> | undefined) =>
  new Map(Object.entries(byUser ?? {}).map(([user, lines]) => [user, new Set(lines.map((line) => line.slice(line.lastIndexOf(' ') + 1)))]));

describe('hosts sharing one text', () => {
  const shared = planRender(registry, inventories, new Map());

  it('give each host the keys the grants give it (worked out from the model), the VPN peers on its servers only', () => {
    expect(shared.files.size).toBe(HOSTS);
    for (let i = 0; i < HOSTS; i++) {
      const data = parse(shared.files.get(fileOf(i))!) as Record<string, Record<string, string[]> | undefined>;
      const model = modelAccess(i);
      expect([hostName(i), commentsOf(data.infra_authorized_keys)]).toEqual([hostName(i), model.granted]);
      expect([hostName(i), commentsOf(data.infra_revoked_keys)]).toEqual([hostName(i), model.revoked]);
      expect([hostName(i), 'infra_wireguard_peers' in data]).toEqual([hostName(i), i < 2]);
    }
  });

  it('are exactly the bytes of every host text made anew', () => {
    expect(shared).toEqual(planRender(registry, inventories, new Map(), madeAnew));
    expect(planRender(compatRegistry, inventories, new Map())).toEqual(planRender(compatRegistry, inventories, new Map(), madeAnew));
  });

  it('are the same bytes when the kept texts do not fit the budget and are dropped and made again', () => {
    const oneText = Math.max(...[...shared.files.values()].filter((t) => !t.includes('infra_wireguard_peers')).map((t) => t.length));
    for (const budget of [1, oneText, oneText * 2]) expect(planRender(registry, inventories, new Map(), { sharedTextBudget: budget })).toEqual(shared);
  });

  it('are made once per distinct access: hosts with the same access get the same text under the same name', () => {
    const made = renderTargets(registry, inventories, new Map()).targets.map((t) => ({ rel: t.rel, ...t.make() }));
    const byName = new Map<string, string[]>();
    for (const m of made) {
      expect(m.sharedAs).toBeDefined();
      byName.set(m.sharedAs!, [...(byName.get(m.sharedAs!) ?? []), m.content]);
    }
    // hg × region cells with the VPN servers apart: far fewer texts than hosts, and one name, one text
    expect(byName.size).toBeLessThan(HOSTS / 2);
    expect(byName.size).toBe(new Set(made.map((m) => m.content)).size);
    for (const texts of byName.values()) expect(new Set(texts).size).toBe(1);
  });

  it('carry each previous file over on its own: the same bytes and warnings as texts made anew', () => {
    const gone = keyBody(ed25519Line('gone'));
    const previous = new Map(shared.files);
    // host3 listed a key nobody is granted now (it stays revoked there), host4 a line that is no key,
    // host7 an unchanged file, host61 is no longer in the inventory (its file goes).
    const withRevoked = (text: string, lines: string) => text.replace(/^infra_revoked_keys:.*$/m, (line) => `${line.replace(' {}', '')}\n${lines}`);
    previous.set(fileOf(3), withRevoked(shared.files.get(fileOf(3))!, `  sysadmin:\n    - '${gone} old/gone'`));
    previous.set(fileOf(4), withRevoked(shared.files.get(fileOf(4))!, "  root:\n    - 'not a key line'"));
    previous.set(fileOf(61), shared.files.get(fileOf(5))!);
    const again = planRender(registry, inventories, previous);
    expect(again).toEqual(planRender(registry, inventories, previous, madeAnew));
    expect([...again.files].filter(([, text]) => text.includes(gone)).map(([rel]) => rel)).toEqual([fileOf(3)]);
    expect(parse(again.files.get(fileOf(3))!).infra_revoked_keys.sysadmin).toContain(`${gone} old/gone`);
    expect(again.files.get(fileOf(3))).not.toBe(shared.files.get(fileOf(3)));
    expect(again.files.get(fileOf(4))).toBe(shared.files.get(fileOf(4)));
    expect(again.warnings.some((w) => w.startsWith(`${fileOf(4)}: `))).toBe(true);
    expect(again.remove).toEqual([fileOf(61)]);
    expect(again.unchanged).toBeGreaterThan(HOSTS - 4);
  });
});
