/**
 * addresses compared as text. A hand-edited peer holding `FD77:77::2/128` (or
 * `fd77:0077:0:0::2/128`) took alice's `fd77:77::2`, and `check` passed. Peers are now validated on load as
 * strictly as `vpn join` allocates: the expected messages below are written from docs/reference.md, "WireGuard", not copied from output.
 */
import { parse } from 'yaml';
import { allocate, canonicalCidr } from '../../src/core/ip-alloc.js';
import { parseYamlInventory } from '../../src/core/inventory.js';
import { planRender, renderHost } from '../../src/core/render.js';
import { type InfraConfig, type Member, type VpnPeer } from '../../src/core/types.js';
import { crossCheck, validateConfig, validateMember, type Located } from '../../src/core/validate.js';
import { renderedPeerAddresses } from '../../src/core/vpn-plan.js';
import { ed25519Line } from '../helpers/registry-fixture.js';

const key = (n: number) => Buffer.alloc(32, n).toString('base64');

const rawConfig = {
  org: 'T',
  admins: [],
  environments: { production: 'inventories/production' },
  vpn: {
    meet: {
      ipv4: '10.77.0.0/24',
      ipv6: 'fd77:77::/64',
      endpoint: 'vpn.example.org:51820',
      server_public_key: key(9),
      reserved: ['10.77.0.1', 'fd77:77::1'],
      allowed_ips: ['10.77.0.0/24', 'fd77:77::/64'],
      servers: 'vpn',
    },
  },
};
const { config } = validateConfig(rawConfig, 'infra.yml') as { config: InfraConfig };

const located: Located = {
  memberFile: (h) => `keys/${h}/member.yml`,
  memberLine: () => undefined,
  configFile: 'infra.yml',
  configLine: () => undefined,
};

const rawMember = (peers: unknown[]) => ({ name: 'X', kind: 'human', org: 'o', status: 'active', groups: [], vpn_peers: peers });
const rawPeer = (addresses: unknown, over: Record<string, unknown> = {}) => ({ device: 'laptop', network: 'meet', public_key: key(2), addresses, added: '2026-01-01', ...over });

/** The messages validateMember gives for one peer's addresses. */
function loadProblems(addresses: unknown, over: Record<string, unknown> = {}): string[] {
  return validateMember('bob', rawMember([rawPeer(addresses, over)]), 'keys/bob/member.yml').problems.map((p) => `${p.field}: ${p.message}`);
}

function member(handle: string, peers: VpnPeer[]): Member {
  return { handle, name: handle, kind: 'human', org: 'o', status: 'active', groups: [], ssh_keys: [], vpn_peers: peers, tokens: [], has_pgp: false };
}
const alice = member('alice', [{ device: 'laptop', network: 'meet', public_key: key(1), addresses: ['10.77.0.2/32', 'fd77:77::2/128'], added: '2026-01-01' }]);

/** crossCheck's messages for bob's peer (built directly, as a caller that skips validateMember would). */
function crossProblems(addresses: string[]): string[] {
  const bob = member('bob', [{ device: 'phone', network: 'meet', public_key: key(2), addresses, added: '2026-01-01' }]);
  return crossCheck(config, [alice, bob], located)
    .filter((p) => p.file === 'keys/bob/member.yml')
    .map((p) => `${p.field}: ${p.message}`);
}

describe('hole 3: the same address in another spelling', () => {
  it.each(['FD77:77::2/128', 'fd77:0077:0:0::2/128', 'fd77:77:0:0:0:0:0:2/128', 'FD77:0077:0000:0000:0000:0000:0000:0002/128'])(
    '%s is refused on load with the canonical form as the fix',
    (spelling) => {
      expect(loadProblems(['10.77.0.9/32', spelling])).toEqual([`vpn_peers[0].addresses[1]: write fd77:77::2/128: the same address in the one form infra writes and compares`]);
    },
  );

  it.each(['FD77:77::2/128', 'fd77:0077:0:0::2/128'])('%s is found to be alice/laptop\'s address when compared across members', (spelling) => {
    const problems = crossProblems(['10.77.0.9/32', spelling]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^vpn_peers\[0\]\.addresses\[1\]: .* is also held by alice\/laptop: /);
  });

  it('the canonical spelling of a free address passes both checks', () => {
    expect(loadProblems(['10.77.0.9/32', 'fd77:77::9/128'])).toEqual([]);
    expect(crossProblems(['10.77.0.9/32', 'fd77:77::9/128'])).toEqual([]);
  });

  it('allocation skips an address held in another spelling', () => {
    expect(allocate('fd77:77::/64', ['fd77:77::1', 'FD77:77::2/128', 'fd77:0077:0:0::3/128'])).toBe('fd77:77::4/128');
  });

  it('render writes the canonical form in the server peer list', () => {
    const text = renderHost({
      authorized: {},
      revoked: {},
      vpnRanges: ['10.77.0.0/24'],
      wireguardPeers: { meet: [{ name: 'bob/phone', public_key: key(2), allowed_ips: ['10.77.0.9/32', 'FD77:0077:0:0::9/128'] }] },
    });
    expect(parse(text).infra_wireguard_peers.meet[0].allowed_ips).toEqual(['10.77.0.9/32', 'fd77:77::9/128']);
    expect(text).not.toMatch(/FD77|0077/);
  });

  it('render writes the canonical form of the VPN ranges in from=', () => {
    const shouting: InfraConfig = { ...config, access: [{ groups: ['g'], hosts: 'all', user: 'sysadmin', vpn_only: true }], vpn: { meet: { ...config.vpn.meet, ipv6: 'FD77:0077::/64' } } };
    const m: Member = { ...member('carol', []), groups: ['g'], ssh_keys: [{ name: 'k', key: ed25519Line('carol'), added: '2026-01-01' }] };
    const inv = parseYamlInventory('all:\n  hosts:\n    web1:\n', 'inventories/production/hosts.yml');
    const plan = planRender({ root: '/x', config: shouting, members: [m] }, { production: inv }, new Map());
    const text = plan.files.get('inventories/production/host_vars/web1/infra.generated.yml')!;
    expect(text).toContain('from="10.77.0.0/24,fd77:77::/64"');
  });

  it('addresses read back from a generated file are canonicalised, and what is not an address is dropped', () => {
    const file = [
      'infra_wireguard_peers:',
      '  meet:',
      "    - {name: alice/laptop, public_key: 'AAAA', allowed_ips: [10.77.0.2/32, 'FD77:0077::2/128']}",
      "    - {name: x/y, public_key: 'AAAA', allowed_ips: ['{{ lookup(''pipe'', ''id'') }}', 10.77.0.300/32]}",
    ].join('\n');
    expect(renderedPeerAddresses([file])).toEqual(['10.77.0.2/32', 'fd77:77::2/128']);
  });
});

describe('hole 3: peers validated on load as strictly as vpn join allocates', () => {
  it('addresses: [] is refused (it made the server playbook fail for every peer)', () => {
    const problems = loadProblems([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^vpn_peers\[0\]\.addresses: must hold the peer's address .*infra vpn leave bob --device laptop/);
  });

  it('a missing addresses field is refused', () => {
    const peer: Record<string, unknown> = rawPeer([]);
    delete peer.addresses;
    const problems = validateMember('bob', rawMember([peer]), 'f').problems.map((p) => `${p.field}: ${p.message}`);
    expect(problems).toEqual(['vpn_peers[0].addresses: is required (a list)']);
  });

  it('a range instead of a host address is refused', () => {
    expect(loadProblems(['10.77.0.0/24'])).toEqual(['vpn_peers[0].addresses[0]: a peer address is a single host (/32), got 10.77.0.0/24']);
    expect(loadProblems(['fd77:77::5/64'])).toEqual(['vpn_peers[0].addresses[0]: a peer address is a single host (/128), got fd77:77::5/64']);
  });

  it('a bare address without /32 is refused', () => {
    expect(loadProblems(['10.77.0.9'])[0]).toMatch(/^vpn_peers\[0\]\.addresses\[0\]: not a CIDR range/);
  });

  it('two addresses of one family are refused', () => {
    expect(loadProblems(['10.77.0.9/32', '10.77.0.10/32'])).toEqual(['vpn_peers[0].addresses[1]: a second IPv4 address (after 10.77.0.9/32): a peer has one address per family']);
  });

  it('a WireGuard key that is not canonical base64 is refused', () => {
    // the last character's low bits are padding: "B" decodes to the same 32 bytes as "A", but wg writes only "A"
    const canonical = key(0);
    const padded = `${canonical.slice(0, 42)}B=`;
    expect(Buffer.from(padded, 'base64')).toEqual(Buffer.from(canonical, 'base64'));
    expect(loadProblems(['10.77.0.9/32', 'fd77:77::9/128'], { public_key: padded })).toEqual([
      expect.stringMatching(/^vpn_peers\[0\]\.public_key: public_key: not a WireGuard key \(not canonical base64 of 32 bytes/),
    ]);
  });

  it.each([
    [['10.77.0.1/32', 'fd77:77::9/128'], /addresses\[0\]: 10\.77\.0\.1\/32 is reserved in vpn\.meet\.reserved/],
    [['10.77.0.9/32', 'FD77:77::1/128'].map((a) => canonicalCidr(a)), /addresses\[1\]: fd77:77::1\/128 is reserved in vpn\.meet\.reserved/],
    [['10.77.0.0/32', 'fd77:77::9/128'], /addresses\[0\]: 10\.77\.0\.0\/32 is the network address of 10\.77\.0\.0\/24/],
    [['10.77.0.255/32', 'fd77:77::9/128'], /addresses\[0\]: 10\.77\.0\.255\/32 is the broadcast address of 10\.77\.0\.0\/24/],
    [['10.77.0.9/32', 'fd77:77::/128'], /addresses\[1\]: fd77:77::\/128 is the network address of fd77:77::\/64/],
    [['10.77.1.9/32', 'fd77:77::9/128'], /addresses\[0\]: 10\.77\.1\.9\/32 is outside network meet \(10\.77\.0\.0\/24\)/],
    [['10.77.0.9/32', 'fd77:78::9/128'], /addresses\[1\]: fd77:78::9\/128 is outside network meet \(fd77:77::\/64\)/],
    [['10.77.0.9/32'], /^vpn_peers\[0\]\.addresses: network meet has an IPv6 range \(fd77:77::\/64\) but this peer has no IPv6 address/],
    [['fd77:77::9/128'], /^vpn_peers\[0\]\.addresses: network meet has an IPv4 range \(10\.77\.0\.0\/24\) but this peer has no IPv4 address/],
  ])('%j is refused: %s', (addresses, expected) => {
    expect(loadProblems(addresses)).toEqual([]); // well-formed on its own: only the network tells
    const problems = crossProblems(addresses);
    expect(problems).toEqual([expect.stringMatching(expected)]);
    expect(problems[0]).toMatch(/infra vpn join bob --device phone/);
  });

  it('an IPv6 address in an IPv4-only network is refused', () => {
    const v4only: InfraConfig = { ...config, vpn: { meet: { ...config.vpn.meet, ipv6: undefined, reserved: ['10.77.0.1'] } } };
    const bob = member('bob', [{ device: 'phone', network: 'meet', public_key: key(2), addresses: ['10.77.0.9/32', 'fd77:77::9/128'], added: '2026-01-01' }]);
    const messages = crossCheck(v4only, [bob], located).map((p) => p.message);
    expect(messages).toEqual([expect.stringMatching(/^fd77:77::9\/128 is IPv6, but network meet has no IPv6 range/)]);
  });

  it('a peer as vpn join makes it (one host address per family, free) passes', () => {
    expect(crossProblems(['10.77.0.3/32', 'fd77:77::3/128'])).toEqual([]);
  });
});
