import { randomBytes } from 'node:crypto';
import { generatePrivateKey, publicKeyOf, renderDeviceConfig } from '../../src/core/wireguard.js';
import { parseWgDump } from '../../src/core/wg-dump.js';
import type { Member, Registry, VpnNetwork, VpnPeer } from '../../src/core/types.js';
import { DEFAULT_POLICY } from '../../src/core/types.js';
import { renderHost } from '../../src/core/render.js';
import { parse as parseYaml } from 'yaml';
import {
  allocateAddresses,
  deviceConfigInput,
  findPeer,
  listPeers,
  planJoin,
  planRekey,
  renderedPeerAddresses,
  scanRenderedLayout,
  resolveNetwork,
  takenAddresses,
  vpnStatus,
} from '../../src/core/vpn-plan.js';
import { membersView } from '../../src/core/others-view.js';
import { OtherMembers, peerIndexEntry } from '../../src/core/peer-index.js';
import { memberFacts } from '../../src/core/validate.js';

const newKey = () => publicKeyOf(generatePrivateKey(randomBytes));
const SERVER_KEY = newKey();

function network(name: string, over: Partial<VpnNetwork> = {}): VpnNetwork {
  return {
    name,
    ipv4: '10.77.0.0/24',
    ipv6: 'fd77:77::/64',
    endpoint: 'vpn.example.org:51820',
    server_public_key: SERVER_KEY,
    reserved: ['10.77.0.1', 'fd77:77::1'],
    allowed_ips: ['10.77.0.0/24', 'fd77:77::/64'],
    servers: 'vpn',
    ...over,
  };
}

function member(handle: string, peers: Array<Partial<VpnPeer> & { device: string; addresses: string[] }> = [], over: Partial<Member> = {}): Member {
  return {
    handle,
    name: handle,
    kind: 'human',
    org: 'test',
    status: 'active',
    groups: [],
    ssh_keys: [],
    vpn_peers: peers.map((p) => ({ network: 'meet', added: '2026-01-01', ...p, public_key: p.public_key ?? newKey() })),
    tokens: [],
    has_pgp: false,
    ...over,
  };
}

function registry(members: Member[], nets: VpnNetwork[] = [network('meet')]): Registry {
  return {
    root: '/nonexistent',
    config: { org: 'T', admins: [], environments: {}, policy: DEFAULT_POLICY, access: [], vpn: Object.fromEntries(nets.map((n) => [n.name, n])) },
    members,
  };
}

const join = (reg: Registry, over: Partial<Parameters<typeof planJoin>[1]> = {}) =>
  planJoin(reg, { handle: 'alice', device: 'laptop', publicKey: newKey(), today: '2026-03-02', rendered: [], ...over });

describe('planJoin: allocation', () => {
  it('gives the lowest free address of each family, after the reserved ones', () => {
    const plan = join(registry([member('alice')]));
    expect(plan.peer.addresses).toEqual(['10.77.0.2/32', 'fd77:77::2/128']);
    expect(plan.peer).toMatchObject({ device: 'laptop', network: 'meet', added: '2026-03-02' });
  });

  it('skips every address a peer holds, in any member (departed too), and fills a hole', () => {
    const reg = registry([
      member('alice'),
      member('bob', [{ device: 'a', addresses: ['10.77.0.2/32', 'fd77:77::2/128'] }]),
      member('carol', [{ device: 'b', addresses: ['10.77.0.4/32', 'fd77:77::3/128'] }], { status: 'departed', departed: '2026-02-01' }),
      member('dan', [{ device: 'c', addresses: ['10.77.0.3/32'] }]),
    ]);
    expect(join(reg).peer.addresses).toEqual(['10.77.0.5/32', 'fd77:77::4/128']);
  });

  it("the other members' addresses as a view (the load's derived facts, a peer index) choose what the texts choose", () => {
    const reg = registry([
      member('alice'),
      member('bob', [{ device: 'a', addresses: ['10.77.0.2/32', 'fd77:77::2/128'] }]),
      member('dan', [{ device: 'c', addresses: ['10.77.0.3/32', 'fd77:77::4/128'] }]),
    ]);
    const fromTexts = join(reg).peer.addresses;
    expect(fromTexts).toEqual(['10.77.0.4/32', 'fd77:77::3/128']);
    expect(join(reg, { others: membersView(reg.config, reg.members, 'alice', memberFacts) }).peer.addresses).toEqual(fromTexts);
    // a peer index of bob and dan, the registry holding alice alone
    const index = new OtherMembers(new Map(reg.members.slice(1).map((m) => [m.handle, peerIndexEntry(reg.config, m, 'stat')!])));
    expect(join({ ...reg, members: reg.members.slice(0, 1) }, { others: index }).peer.addresses).toEqual(fromTexts);
  });

  it('does not reuse an address a rendered inventory still lists for a removed peer', () => {
    const rendered = renderedPeerAddresses([
      "# Generated\ninfra_authorized_keys: {}\ninfra_wireguard_peers:\n  meet:\n    - {name: gone/phone, public_key: 'x', allowed_ips: [10.77.0.2/32, 'fd77:77::2/128']}\n",
      'not: [valid yaml',
      'infra_authorized_keys: {}\n',
    ]);
    expect(rendered).toEqual(['10.77.0.2/32', 'fd77:77::2/128']);
    expect(join(registry([member('alice')]), { rendered }).peer.addresses).toEqual(['10.77.0.3/32', 'fd77:77::3/128']);
  });

  it.each([
    ['a /16', { ipv4: '10.80.0.0/16', ipv6: undefined, reserved: ['10.80.0.1'], allowed_ips: ['10.80.0.0/16'] }, ['10.80.0.2/32']],
    ['IPv6 only /64', { ipv4: undefined, ipv6: 'fd00:1::/64', reserved: [], allowed_ips: ['fd00:1::/64'] }, ['fd00:1::1/128']],
    ['a /30 with the server reserved', { ipv4: '10.9.9.0/30', ipv6: undefined, reserved: ['10.9.9.1'], allowed_ips: ['10.9.9.0/30'] }, ['10.9.9.2/32']],
  ])('%s', (_label, over, expected) => {
    expect(join(registry([member('alice')], [network('meet', over as Partial<VpnNetwork>)])).peer.addresses).toEqual(expected);
  });

  it('a full /30 is a clear error naming the network and the fix', () => {
    const net = network('meet', { ipv4: '10.9.9.0/30', ipv6: undefined, reserved: ['10.9.9.1'], allowed_ips: ['10.9.9.0/30'] });
    const reg = registry([member('alice'), member('bob', [{ device: 'x', addresses: ['10.9.9.2/32'] }])], [net]);
    expect(() => join(reg)).toThrow(expect.objectContaining({ exitCode: 3, message: expect.stringMatching(/network meet \(10\.9\.9\.0\/30\) is full: 2 of 2/) }));
    expect(() => join(reg)).toThrow(expect.objectContaining({ hint: expect.stringContaining('infra vpn leave') }));
  });

  // Timing is measured by `npm run bench`, not asserted here: this checks the answer at that size.
  it('allocates the next free address among 50,000 peers', () => {
    const net = network('big', { ipv4: '10.0.0.0/16', ipv6: 'fd10::/64', reserved: ['10.0.0.1', 'fd10::1'], allowed_ips: ['10.0.0.0/16'] });
    const count = 50_000;
    const members: Member[] = [];
    for (let i = 0; i * 100 < count; i++)
      members.push(
        member(`m${i}`, Array.from({ length: 100 }, (_, j) => {
          const n = i * 100 + j + 2;
          return { device: `d${j}`, network: 'big', public_key: SERVER_KEY, addresses: [`10.0.${n >> 8}.${n & 255}/32`, `fd10::${n.toString(16)}/128`] };
        })),
      );
    const reg = registry(members, [net]);
    const next = count + 2; // .0 is the network, .1 reserved, then 50,000 taken
    expect(allocateAddresses(net, takenAddresses(reg, net, []))).toEqual([`10.0.${next >> 8}.${next & 255}/32`, `fd10::${next.toString(16)}/128`]);
  });
});

describe('renderedPeerAddresses', () => {
  const fromYaml = (text: string) =>
    Object.values((parseYaml(text)?.infra_wireguard_peers ?? {}) as Record<string, Array<{ allowed_ips: string[] }>>).flatMap((peers) => (peers ?? []).flatMap((p) => p.allowed_ips));

  it("reads render's own layout line by line, agreeing with a YAML parser", () => {
    const peers = Array.from({ length: 40 }, (_, i) => ({ name: `m${i}/d${i % 3}`, public_key: newKey(), allowed_ips: [`10.77.${i >> 8}.${(i & 255) + 2}/32`, `fd77:77::${(i + 2).toString(16)}/128`] }));
    const text = renderHost({ authorized: {}, revoked: {}, vpnRanges: ['10.77.0.0/24'], wireguardPeers: { meet: peers, empty: [] } });
    expect(text).toContain('infra_wireguard_peers:');
    expect(renderedPeerAddresses([text]).sort()).toEqual(fromYaml(text).sort());
    expect(renderedPeerAddresses([text])).toHaveLength(80);
    expect(scanRenderedLayout(text)).toHaveLength(80); // the fast path took it, not the fallback
  });

  it('falls back to YAML for any other layout, and skips what is not YAML', () => {
    const block = `infra_wireguard_peers:\n  meet:\n    - name: bob/phone\n      public_key: '${newKey()}'\n      allowed_ips:\n        - 10.77.0.9/32\n        - "fd77:77::9/128"\n`;
    expect(scanRenderedLayout(block)).toBeUndefined();
    expect(renderedPeerAddresses([block, 'infra_wireguard_peers: [unclosed', 'infra_authorized_keys: {}\n', 'infra_wireguard_peers: {}\n'])).toEqual(['10.77.0.9/32', 'fd77:77::9/128']);
  });
});

describe('planJoin: refusals', () => {
  const reg = () => registry([member('alice', [{ device: 'laptop', addresses: ['10.77.0.2/32'] }]), member('carol', [], { status: 'departed', departed: '2026-02-01' })], [network('meet'), network('ops', { ipv4: '10.78.0.0/24', ipv6: undefined, reserved: [], allowed_ips: ['10.78.0.0/24'] })]);
  const existingKey = (r: Registry) => r.members[0].vpn_peers[0].public_key;

  it.each<[string, (r: Registry) => Partial<Parameters<typeof planJoin>[1]>, RegExp]>([
    ['a device name with a space', () => ({ device: 'my laptop', network: 'meet' }), /not a device name.*no spaces or \//],
    ['a device name with /', () => ({ device: 'a/b', network: 'meet' }), /not a device name/],
    ['the same device twice', () => ({ device: 'laptop', network: 'meet' }), /already has a device "laptop" in network meet/],
    ['an unknown network, listing the known ones', () => ({ device: 'phone', network: 'nope' }), /no VPN network "nope" in infra.yml \(known: meet, ops\)/],
    ['a departed member', () => ({ handle: 'carol', device: 'phone', network: 'meet' }), /carol departed on 2026-02-01/],
    ['an unknown member', () => ({ handle: 'zed', device: 'phone', network: 'meet' }), /no member "zed"/],
    ['a public key of 31 bytes', () => ({ device: 'phone', network: 'meet', publicKey: Buffer.alloc(31, 7).toString('base64') }), /not a WireGuard key/],
    ['a public key another device has', (r) => ({ device: 'phone', network: 'meet', publicKey: existingKey(r) }), /already used by alice\/laptop/],
  ])('refuses %s', (_label, over, message) => {
    const r = reg();
    expect(() => join(r, over(r))).toThrow(expect.objectContaining({ exitCode: 3, message: expect.stringMatching(message) }));
  });

  it('the same-device error names vpn rekey and vpn leave', () => {
    expect(() => join(reg(), { device: 'laptop', network: 'meet' })).toThrow(expect.objectContaining({ hint: expect.stringMatching(/infra vpn rekey alice --device laptop.*infra vpn leave alice --device laptop/) }));
  });

  it('with two networks and none named: a usage error naming them', () => {
    expect(() => join(reg(), { device: 'phone' })).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('meet, ops') }));
    expect(resolveNetwork(registry([member('alice')]), undefined).name).toBe('meet');
  });

  it('a non-canonical key: the last character carries bits a 32-byte key cannot have', () => {
    const key = newKey();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const bent = `${key.slice(0, 42)}${alphabet[alphabet.indexOf(key[42]) | 1]}=`;
    expect(Buffer.from(bent, 'base64').toString('base64')).not.toBe(bent);
    expect(() => join(reg(), { device: 'phone', network: 'meet', publicKey: bent })).toThrow(expect.objectContaining({ exitCode: 3, message: expect.stringContaining('not canonical') }));
  });
});

describe('findPeer / planRekey', () => {
  const reg = () =>
    registry(
      [member('alice', [{ device: 'laptop', addresses: ['10.77.0.2/32'] }, { device: 'laptop', network: 'ops', addresses: ['10.78.0.2/32'] }, { device: 'phone', addresses: ['10.77.0.3/32'] }])],
      [network('meet'), network('ops', { ipv4: '10.78.0.0/24', ipv6: undefined, reserved: [], allowed_ips: ['10.78.0.0/24'] })],
    );

  it('finds a device in one network without --network, and asks when it is in two', () => {
    expect(findPeer(reg(), 'alice', 'phone')).toMatchObject({ index: 2, peer: { addresses: ['10.77.0.3/32'] } });
    expect(() => findPeer(reg(), 'alice', 'laptop')).toThrow(expect.objectContaining({ exitCode: 2, hint: 'pass --network meet' }));
    expect(findPeer(reg(), 'alice', 'laptop', 'ops')).toMatchObject({ index: 1 });
    expect(() => findPeer(reg(), 'alice', 'tablet')).toThrow(/no device "tablet" \(enrolled: laptop \(meet\), laptop \(ops\), phone \(meet\)\)/);
  });

  it('rekey keeps the addresses and refuses the current key', () => {
    const r = reg();
    const fresh = newKey();
    const plan = planRekey(r, 'alice', 'phone', undefined, fresh);
    expect(plan.newPeer).toEqual({ ...r.members[0].vpn_peers[2], public_key: fresh });
    expect(() => planRekey(r, 'alice', 'phone', undefined, r.members[0].vpn_peers[2].public_key)).toThrow(/already has/);
  });
});

describe('deviceConfigInput', () => {
  it('carries the network settings into a config with brackets around an IPv6 endpoint', () => {
    const net = network('meet', { endpoint: '[2001:db8::1]:51820', dns: ['10.77.0.1'], mtu: 1380, keepalive: 25 });
    const priv = generatePrivateKey(randomBytes);
    const text = renderDeviceConfig(deviceConfigInput('alice', net, { device: 'laptop', network: 'meet', public_key: publicKeyOf(priv), addresses: ['10.77.0.2/32', 'fd77:77::2/128'], added: '2026-03-02' }, priv));
    for (const line of [`PrivateKey = ${priv}`, 'Address = 10.77.0.2/32, fd77:77::2/128', 'DNS = 10.77.0.1', 'MTU = 1380', `PublicKey = ${SERVER_KEY}`, 'Endpoint = [2001:db8::1]:51820', 'AllowedIPs = 10.77.0.0/24, fd77:77::/64', 'PersistentKeepalive = 25'])
      expect(text.split('\n')).toContain(line);
  });
});

describe('listPeers', () => {
  it('lists every peer with its member status, sorted, filtered by network', () => {
    const r = registry([member('bob', [{ device: 'x', addresses: ['10.77.0.3/32'] }], { status: 'departed', departed: '2026-01-05' }), member('alice', [{ device: 'z', addresses: ['10.77.0.2/32'] }])]);
    expect(listPeers(r).map((p) => [p.member, p.device, p.member_status])).toEqual([
      ['alice', 'z', 'active'],
      ['bob', 'x', 'departed'],
    ]);
    expect(() => listPeers(r, 'nope')).toThrow(/known: meet/);
  });

  it('sorts by code unit, not by locale: capitals first, the same on every machine', () => {
    const devices = ['b', 'B', 'a', 'A', 'é', 'e'];
    const r = registry([member('alice', devices.map((device, i) => ({ device, addresses: [`10.77.0.${i + 2}/32`] })))]);
    // A locale order (ICU) would give a, A, b, B, e, é.
    expect(listPeers(r).map((p) => p.device)).toEqual(['A', 'B', 'a', 'b', 'e', 'é']);
  });
});

describe('vpnStatus', () => {
  const now = 1_800_000_000;
  const iface = `wg0\t${generatePrivateKey(randomBytes)}\t${SERVER_KEY}\t51820\toff`;
  const peerLine = (key: string, ips: string, handshake: number, rx = 0, tx = 0, endpoint = '(none)') => [`wg0`, key, '(none)', endpoint, ips, String(handshake), String(rx), String(tx), 'off'].join('\t');

  it('joins dump peers to members and devices; unknown and departed peers become findings', () => {
    const r = registry([
      member('alice', [{ device: 'laptop', addresses: ['10.77.0.2/32'] }, { device: 'phone', addresses: ['10.77.0.3/32'] }]),
      member('carol', [{ device: 'old', addresses: ['10.77.0.4/32'] }], { status: 'departed', departed: '2026-02-01' }),
    ]);
    const [laptop, phone] = r.members[0].vpn_peers;
    const carol = r.members[1].vpn_peers[0];
    const stranger = newKey();
    const dump = parseWgDump(
      [
        iface,
        peerLine(laptop.public_key, '10.77.0.2/32', now - 3 * 86400 - 5, 1234, 5678, '198.51.100.7:40000'),
        peerLine(carol.public_key, '10.77.0.4/32', now - 120),
        peerLine(stranger, '10.77.0.99/32', 0),
        '',
      ].join('\n'),
    );
    const s = vpnStatus(dump, r, now);
    expect(s.peers).toEqual([
      { member: 'alice', device: 'laptop', network: 'meet', member_status: 'active', interface: 'wg0', public_key: laptop.public_key, endpoint: '198.51.100.7:40000', latest_handshake: now - 3 * 86400 - 5, handshake: '3 days ago', rx_bytes: 1234, tx_bytes: 5678 },
      { member: 'carol', device: 'old', network: 'meet', member_status: 'departed', interface: 'wg0', public_key: carol.public_key, endpoint: null, latest_handshake: now - 120, handshake: '2 minutes ago', rx_bytes: 0, tx_bytes: 0 },
    ]);
    expect(s.unknown).toEqual([{ interface: 'wg0', public_key: stranger, allowed_ips: ['10.77.0.99/32'], endpoint: null, handshake: 'never' }]);
    expect(s.absent).toEqual([{ member: 'alice', device: 'phone', network: 'meet' }]);
    // in the dump's order
    expect(s.findings.map((f) => [f.code, f.severity, f.subject])).toEqual([
      ['departed-access', 'high', 'carol/old'],
      ['unknown-peer', 'high', `wg0/${stranger}`],
    ]);
    for (const f of s.findings) expect(f.fix).toMatch(/infra render/);
    expect(s.peers.some((p) => p.public_key === phone.public_key)).toBe(false);
  });

  it('a dump with a truncated line is refused with its line number', () => {
    const r = registry([member('alice')]);
    const full = peerLine(newKey(), '10.77.0.2/32', 0);
    const truncated = full.split('\t').slice(0, 6).join('\t');
    expect(() => vpnStatus(parseWgDump(`${iface}\n${truncated}\n`), r, now)).toThrow(expect.objectContaining({ exitCode: 3, message: expect.stringMatching(/^wg dump line 2: 6 tab-separated fields/) }));
  });
});
