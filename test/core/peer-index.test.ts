/**
 * The peer index's pure parts: addresses as runs of offsets, allocation over runs agreeing with allocation
 * over address texts, and the one-member cross check finding every kind of sharing.
 */
import { createHash } from 'node:crypto';
import { allocate, formatAddress, parseCidr } from '../../src/core/ip-alloc.js';
import { OtherMembers, offsetRuns, peerIndexEntry, sharesNothingWithOthers, type PeerIndexEntry } from '../../src/core/peer-index.js';
import type { InfraConfig, Member } from '../../src/core/types.js';
import { validateConfig, validateMember } from '../../src/core/validate.js';
import { generatePrivateKey, publicKeyOf } from '../../src/core/wireguard.js';
import { seededRandom } from '../helpers/context.js';
import { baseConfig, ed25519Line, memberData } from '../helpers/registry-fixture.js';

const wgKey = (label: string) => publicKeyOf(generatePrivateKey(seededRandom(label)));
const meet = { ipv4: '10.9.0.0/24', ipv6: 'fd09::/64', endpoint: 'vpn.example.org:51820', server_public_key: wgKey('server'), reserved: ['10.9.0.1'], allowed_ips: ['10.9.0.0/24'], servers: 'vpn' };
const config = validateConfig(baseConfig({ vpn: { meet }, admins: ['a'] }), 'infra.yml').config as InfraConfig;

function member(handle: string, peers: Array<[string, number]>, keys: string[] = [], kind = 'human'): Member {
  const raw = memberData(handle, {
    kind,
    ssh_keys: keys.map((label, i) => ({ name: `k${i}`, key: ed25519Line(label), added: '2026-01-01' })),
    vpn_peers: peers.map(([device, n]) => ({ device, network: 'meet', public_key: wgKey(`${handle}/${device}`), addresses: [`10.9.0.${n}/32`, `fd09::${n.toString(16)}/128`], added: '2026-01-01' })),
  });
  const r = validateMember(handle, raw, `keys/${handle}/member.yml`);
  if (!r.member) throw new Error(JSON.stringify(r.problems));
  return r.member;
}

const others = (...members: Member[]) => new OtherMembers(new Map(members.map((m) => [m.handle, peerIndexEntry(config, m, 'stat')!])));

/** A deterministic stream of numbers below `n`. */
function numbers(seed: string) {
  let counter = 0;
  return (n: number) => createHash('sha256').update(`${seed}:${counter++}`).digest().readUInt32BE(0) % n;
}

describe('offsetRuns', () => {
  it('merges consecutive offsets into runs, in order, whatever order they come in', () => {
    expect(offsetRuns([5, 1, 2, 3, 9, 10, 0])).toEqual([0, 4, 5, 1, 9, 2]);
    expect(offsetRuns([])).toEqual([]);
  });

  it('refuses an offset held twice', () => {
    expect(offsetRuns([1, 2, 1])).toBeUndefined();
  });
});

describe('allocate over runs', () => {
  it.each([
    ['10.9.0.0/22', 4],
    ['fd09::/64', 6],
  ] as const)('agrees with allocate over the same addresses as text (%s, random sets)', (range, family) => {
    const net = parseCidr(range);
    const pick = numbers(range);
    for (let round = 0; round < 40; round++) {
      // a dense start (peers enrolled one after another), then scattered ones (some left)
      const dense = Array.from({ length: pick(400) }, (_, i) => i + 1);
      const offsets = [...new Set([...dense, ...Array.from({ length: pick(600) }, () => 1 + pick(round % 2 ? 700 : 1020))])];
      const texts = offsets.map((o) => `${formatAddress(family, net.network + BigInt(o))}/${family === 4 ? 32 : 128}`);
      // runs are the index's form; the text form is what allocate has always been given
      const runs = offsetRuns(offsets)!;
      const reserved = [`${formatAddress(family, net.network + BigInt(1 + pick(20)))}`];
      expect(allocate(range, reserved, { takenRuns: runs })).toBe(allocate(range, [...reserved, ...texts]));
    }
  });
});

describe('sharesNothingWithOthers', () => {
  const a = member('a', [['a0', 2]], ['a-key']);
  const b = member('b', [['b0', 3], ['b1', 4]], ['b-key']);

  it('is true when the member holds nothing another holds', () => {
    expect(sharesNothingWithOthers(config, member('a', [['a0', 2], ['a1', 5]], ['a-key']), others(b))).toBe(true);
  });

  it('finds a shared address, WireGuard key or SSH key, and an admin who is not a person', () => {
    expect(sharesNothingWithOthers(config, member('a', [['a0', 2], ['a1', 4]]), others(b))).toBe(false);
    const sameWg = { ...a, vpn_peers: [...a.vpn_peers, { ...b.vpn_peers[1], device: 'x', addresses: ['10.9.0.9/32', 'fd09::9/128'] }] };
    expect(sharesNothingWithOthers(config, sameWg, others(b))).toBe(false);
    expect(sharesNothingWithOthers(config, member('a', [['a0', 2]], ['b-key']), others(b))).toBe(false);
    const botAdmin = { ...config, admins: ['a', 'c'] };
    expect(sharesNothingWithOthers(botAdmin, a, others(b, member('c', [], [], 'bot')))).toBe(false);
    expect(sharesNothingWithOthers(botAdmin, a, others(b, member('c', [], [], 'human')))).toBe(true);
  });

  it('a shared address is found whether the run holding it starts, ends or surrounds it', () => {
    const c = member('c', [['c0', 10], ['c1', 11], ['c2', 12]]);
    for (const n of [10, 11, 12]) expect(sharesNothingWithOthers(config, member('a', [['a0', n]]), others(b, c))).toBe(false);
    for (const n of [9, 13]) expect(sharesNothingWithOthers(config, member('a', [['a0', n]]), others(b, c))).toBe(true);
  });
});

describe('OtherMembers', () => {
  it('names the holder of a WireGuard key, and nobody for a key no one holds', () => {
    const b = member('b', [['b0', 3]]);
    const view = new OtherMembers(new Map([['b', peerIndexEntry(config, b, 's')!]]), (handle, key) => (key === b.vpn_peers[0].public_key ? `${handle}/b0 (network meet)` : undefined));
    expect(view.describeWgHolder(b.vpn_peers[0].public_key)).toBe('b/b0 (network meet)');
    expect(view.describeWgHolder(wgKey('nobody'))).toBeUndefined();
  });

  it('keeps no entry for an address outside its network', () => {
    const outside: Member = { ...member('b', [['b0', 3]]), vpn_peers: [{ device: 'b0', network: 'meet', public_key: wgKey('o'), addresses: ['10.10.0.3/32'], added: '2026-01-01' }] };
    expect(peerIndexEntry(config, outside, 's')).toBeUndefined();
    const entry: PeerIndexEntry = peerIndexEntry(config, member('b', [['b0', 3], ['b1', 4]]), 's')!;
    expect(entry.addresses.meet).toEqual({ v4: [3, 2], v6: [3, 2] });
  });
});
