/**
 * names that are JavaScript object keys. A grant `user: constructor`, a network named
 * `toString`, an inventory group `hasOwnProperty`, a host `valueOf`, an environment `constructor`: each
 * must work like any other name (and `__proto__`, where a name pattern refuses it, is refused with a message,
 * never by a crash or by polluting a prototype).
 */
import { parse } from 'yaml';
import { parseIniInventory, parseYamlInventory, type Inventory } from '../../src/core/inventory.js';
import { resolvePattern } from '../../src/core/host-pattern.js';
import { hostsReachedBy, planAccess } from '../../src/core/grants.js';
import { planRender } from '../../src/core/render.js';
import { DEFAULT_POLICY, type InfraConfig, type Member, type Registry, type VpnNetwork } from '../../src/core/types.js';
import { crossCheck, validateConfig } from '../../src/core/validate.js';
import { findPeer, planJoin, resolveNetwork } from '../../src/core/vpn-plan.js';
import { ed25519Line, keyBody } from '../helpers/registry-fixture.js';
import { thrown } from '../helpers/thrown.js';

const JS_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString'];
const A = keyBody(ed25519Line('alice'));
const wgKey = (n: number) => Buffer.alloc(32, n).toString('base64');

function member(handle: string, over: Partial<Member> = {}): Member {
  return {
    handle,
    name: handle,
    kind: 'human',
    org: 'o',
    status: 'active',
    groups: ['ops'],
    ssh_keys: [{ name: 'laptop', key: `${A} ${handle}@laptop`, added: '2026-01-01' }],
    vpn_peers: [],
    tokens: [],
    has_pgp: false,
    ...over,
  };
}

function network(name: string, over: Partial<VpnNetwork> = {}): VpnNetwork {
  return {
    name,
    ipv4: '10.77.0.0/24',
    endpoint: 'vpn.example.org:51820',
    server_public_key: wgKey(9),
    reserved: ['10.77.0.1'],
    allowed_ips: ['10.77.0.0/24'],
    servers: 'vpn',
    ...over,
  };
}

const rawNetwork = { ipv4: '10.77.0.0/24', endpoint: 'vpn.example.org:51820', server_public_key: wgKey(9), reserved: ['10.77.0.1'], allowed_ips: ['10.77.0.0/24'], servers: 'vpn' };

describe('infra.yml: environments, networks and grant users named like object keys', () => {
  it.each([...JS_NAMES, '__proto__'])('environment, network and grant user "%s": a name like any other (loaded, or refused by its name rule)', (name) => {
    const raw = JSON.parse(
      JSON.stringify({ org: 'T', admins: [], environments: { [name]: 'inventories/x' }, access: [{ groups: ['ops'], hosts: 'all', user: name }], vpn: { [name]: rawNetwork } }),
    );
    const { config, problems } = validateConfig(raw, 'infra.yml');
    // what any other name breaking the same rules gets: one rule per field, nothing else
    const expected = new Set<string>();
    if (!/^[a-z][a-z0-9_-]{0,31}$/.test(name)) expected.add(`environments.${name}`);
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(name)) expected.add('access[0].user');
    if (!/^[a-z][a-z0-9_-]{0,14}$/.test(name)) expected.add(`vpn.${name}`);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) expected.add(`vpn.${name}.name`);
    expect(new Set(problems.map((p) => p.field))).toEqual(expected);
    if (expected.size === 0) {
      expect(Object.keys(config!.environments)).toEqual([name]);
      expect(config!.environments[name]).toBe('inventories/x');
      expect(Object.keys(config!.vpn)).toEqual([name]);
      expect(config!.vpn[name].name).toBe(name);
      expect(config!.access[0].user).toBe(name);
    }
    expect(({} as Record<string, unknown>).ipv4).toBeUndefined(); // no prototype was touched
  });

  it('an environment that is not there is not found through the prototype ("toString" when only production exists)', () => {
    const { config } = validateConfig({ org: 'T', admins: [], environments: { production: 'inventories/production' } }, 'infra.yml');
    const registry: Registry = { root: '/x', config: config!, members: [] };
    for (const env of ['toString', 'constructor', 'valueOf'])
      expect(thrown(() => planRender(registry, {}, new Map(), { environments: [env] })).message).toMatch(new RegExp(`^no environment "${env}" in infra.yml`));
  });

  it('a peer in network "toString" that does not exist is reported, not matched to Object.prototype.toString', () => {
    const { config } = validateConfig({ org: 'T', admins: [], environments: {}, vpn: { meet: rawNetwork } }, 'infra.yml');
    const m = member('alice', { vpn_peers: [{ device: 'laptop', network: 'toString', public_key: wgKey(1), addresses: ['10.77.0.2/32'], added: '2026-01-01' }] });
    const located = { memberFile: (h: string) => `keys/${h}/member.yml`, memberLine: () => undefined, configFile: 'infra.yml', configLine: () => undefined };
    expect(crossCheck(config!, [m], located).map((p) => p.message)).toEqual(['no VPN network "toString" in infra.yml (known: meet)']);
  });
});

describe('inventories: groups, hosts and variables named like object keys', () => {
  const yaml = parseYamlInventory(
    'all:\n  children:\n    hasOwnProperty:\n      hosts:\n        valueOf:\n          __proto__: polluted\n          constructor: 1\n    toString:\n      hosts:\n        constructor:\n',
    'hosts.yml',
  );
  const ini = parseIniInventory('[hasOwnProperty]\nvalueOf __proto__=polluted constructor=1\n[toString]\nconstructor\n[toString:vars]\n__proto__=x\n', 'hosts');

  it.each([
    ['YAML', yaml],
    ['INI', ini],
  ])('%s: the groups and hosts are there, and host patterns select them', (_, inv: Inventory) => {
    expect([...inv.groups.keys()]).toEqual(['all', 'ungrouped', 'hasOwnProperty', 'toString']);
    expect([...inv.hosts.keys()]).toEqual(['valueOf', 'constructor']);
    expect(resolvePattern('hasOwnProperty', inv)).toEqual(['valueOf']);
    expect(resolvePattern('toString:&constructor', inv)).toEqual(['constructor']);
    expect(resolvePattern('all:!valueOf', inv)).toEqual(['constructor']);
    expect(resolvePattern('valueOf', inv)).toEqual(['valueOf']);
  });

  it.each([
    ['YAML', yaml],
    ['INI', ini],
  ])('%s: a host variable named __proto__ is a variable, not a prototype', (_, inv: Inventory) => {
    const vars = inv.hosts.get('valueOf')!.vars;
    expect(Object.keys(vars)).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(vars, '__proto__')?.value).toBe('polluted');
    expect(vars.toString).toBeUndefined(); // nothing inherited
  });

  it('a pattern naming an absent group "toString" matches nothing (strict: a clear error)', () => {
    const plain = parseYamlInventory('all:\n  hosts:\n    web1:\n', 'hosts.yml');
    expect(resolvePattern('toString', plain, { strict: false })).toEqual([]);
    expect(thrown(() => resolvePattern('toString', plain)).message).toMatch(/'toString' matches no host or group/);
  });
});

describe('render and grants: user "constructor" on host "valueOf" in environment "constructor"', () => {
  const inv = parseYamlInventory('all:\n  children:\n    hasOwnProperty:\n      hosts:\n        valueOf:\n    vpn:\n      hosts:\n        toString:\n', 'inventories/constructor/hosts.yml');
  const config: InfraConfig = {
    org: 'T',
    admins: [],
    environments: { constructor: 'inventories/constructor' },
    policy: DEFAULT_POLICY,
    access: [
      { groups: ['ops'], hosts: 'hasOwnProperty', user: 'constructor' },
      { groups: ['ops'], hosts: 'hasOwnProperty', user: 'tostring' },
      { groups: ['ops'], hosts: 'all', user: 'valueof' },
    ],
    vpn: { toString: network('toString', { servers: 'vpn' }) },
  };
  const alice = member('alice', { vpn_peers: [{ device: 'laptop', network: 'toString', public_key: wgKey(1), addresses: ['10.77.0.2/32'], added: '2026-01-01' }] });
  const registry: Registry = { root: '/x', config, members: [alice] };
  const inventories = { constructor: inv };
  const HOST = 'inventories/constructor/host_vars/valueOf/infra.generated.yml';
  const VPN = 'inventories/constructor/host_vars/toString/infra.generated.yml';

  it('renders the keys under the user "constructor"', () => {
    const plan = planRender(registry, inventories, new Map());
    expect([...plan.files.keys()]).toEqual([VPN, HOST]);
    const data = parse(plan.files.get(HOST)!);
    expect(Object.keys(data.infra_authorized_keys)).toEqual(['constructor', 'tostring', 'valueof']);
    expect(data.infra_authorized_keys.constructor).toEqual([`${A} alice/laptop`]);
  });

  it('renders the peers of network "toString" on its server', () => {
    const data = parse(planRender(registry, inventories, new Map()).files.get(VPN)!);
    expect(data.infra_wireguard_peers).toEqual({ toString: [{ name: 'alice/laptop', public_key: wgKey(1), allowed_ips: ['10.77.0.2/32'] }] });
  });

  it('carries a revocation for the user "constructor" from the previous render (was a crash: `revoked[user] ??= []` hit Object)', () => {
    const departed: Registry = { ...registry, members: [member('alice', { status: 'departed', departed: '2026-02-01', ssh_keys: [] })] };
    const previous = new Map([[HOST, `infra_authorized_keys:\n  constructor:\n    - '${A} alice/laptop'\n`]]);
    const data = parse(planRender(departed, inventories, previous).files.get(HOST)!);
    expect(data.infra_revoked_keys).toEqual({ constructor: [`${A} alice/laptop`] });
    expect(data.infra_authorized_keys).toEqual({ constructor: [], tostring: [], valueof: [] });
  });

  it('grants resolve per environment "constructor"', () => {
    const plan = planAccess(config, [alice], inventories);
    expect([...plan.get('constructor')!.get('valueOf')!.keys()]).toEqual(['constructor', 'tostring', 'valueof']);
    expect(hostsReachedBy('alice', config, [alice], inventories).map((r) => `${r.host}/${r.user}`)).toEqual([
      'toString/valueof',
      'valueOf/constructor',
      'valueOf/tostring',
      'valueOf/valueof',
    ]);
  });

  it('an inventory missing for an environment named like a key is a clear error, not Object.prototype', () => {
    expect(thrown(() => planAccess(config, [alice], {})).message).toBe('no inventory loaded for environment "constructor"');
    const other: InfraConfig = { ...config, environments: { valueOf: 'inventories/v' } };
    expect(thrown(() => planAccess(other, [alice], inventories)).message).toBe('no inventory loaded for environment "valueOf"');
  });

  it('vpn: network "toString" is found by name; absent ones named like keys are clear errors', () => {
    expect(resolveNetwork(registry, 'toString').name).toBe('toString');
    expect(findPeer(registry, 'alice', 'laptop').network.name).toBe('toString');
    const meetOnly: Registry = { ...registry, config: { ...config, vpn: { meet: network('meet') } } };
    for (const name of ['toString', 'constructor', 'valueOf', '__proto__'])
      expect(thrown(() => resolveNetwork(meetOnly, name)).message).toBe(`no VPN network "${name}" in infra.yml (known: meet)`);
    const joined = planJoin(registry, { handle: 'alice', device: 'phone', network: 'toString', publicKey: wgKey(3), today: '2026-03-01', rendered: [] });
    expect(joined.peer.addresses).toEqual(['10.77.0.3/32']);
  });
});
