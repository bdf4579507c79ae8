/**
 * membersView: the other members of a loaded registry as the view a one-member edit allocates from, the
 * same shape the peer index answers with. Its runs must take exactly the addresses the texts name.
 */
import { randomBytes } from 'node:crypto';
import { allocate } from '../../src/core/ip-alloc.js';
import { membersView } from '../../src/core/others-view.js';
import { OtherMembers, peerIndexEntry } from '../../src/core/peer-index.js';
import { DEFAULT_POLICY, type InfraConfig, type Member } from '../../src/core/types.js';
import { memberFacts } from '../../src/core/validate.js';
import { generatePrivateKey, publicKeyOf } from '../../src/core/wireguard.js';

const newKey = () => publicKeyOf(generatePrivateKey(randomBytes));
const config: InfraConfig = {
  org: 'T',
  admins: [],
  environments: {},
  policy: DEFAULT_POLICY,
  access: [],
  vpn: {
    meet: { name: 'meet', ipv4: '10.77.0.0/24', ipv6: 'fd77:77::/64', endpoint: 'vpn.example.org:51820', server_public_key: newKey(), reserved: ['10.77.0.1', 'fd77:77::1'], allowed_ips: ['10.77.0.0/24'], servers: 'vpn' },
    other: { name: 'other', ipv4: '10.88.0.0/24', endpoint: 'vpn.example.org:51821', server_public_key: newKey(), reserved: [], allowed_ips: ['10.88.0.0/24'], servers: 'vpn' },
  },
};

const member = (handle: string, peers: Array<{ device: string; network?: string; addresses: string[]; public_key?: string }>): Member => ({
  handle,
  name: handle,
  kind: 'human',
  org: 'test',
  status: 'active',
  groups: [],
  ssh_keys: [],
  vpn_peers: peers.map((p) => ({ network: 'meet', added: '2026-01-01', public_key: newKey(), ...p })),
  tokens: [],
  has_pgp: false,
});

describe('membersView: taken runs', () => {
  it.each([
    ['nobody else', [], 4, []],
    ['adjacent addresses of several members merge into one run', [['10.77.0.3/32', '10.77.0.2/32'], ['10.77.0.4/32']], 4, [2, 3]],
    ['holes stay holes', [['10.77.0.2/32'], ['10.77.0.5/32', '10.77.0.6/32']], 4, [2, 1, 5, 2]],
    ['an address held twice (a registry with a problem between files) counts once', [['10.77.0.2/32'], ['10.77.0.2/32', '10.77.0.3/32']], 4, [2, 2]],
    ['the other family is left out', [['10.77.0.2/32', 'fd77:77::9/128']], 6, [9, 1]],
    ['an address outside the range (below its start) is left out', [['10.76.255.255/32', '10.77.0.2/32']], 4, [2, 1]],
    ['an IPv6 address 2^53 or more past the start is left out', [['fd77:77::ffff:ffff:ffff:ffff/128', 'fd77:77::3/128']], 6, [3, 1]],
  ] as const)('%s', (_label, holdings, family, expected) => {
    const members = [member('me', [{ device: 'x', addresses: ['10.77.0.7/32'] }]), ...holdings.map((addresses, i) => member(`m${i}`, [{ device: 'd', addresses: [...addresses] }]))];
    // from the texts, and from the facts the load derives: the same runs
    expect(Array.from(membersView(config, members, 'me').takenRuns('meet', family))).toEqual(expected);
    expect(Array.from(membersView(config, members, 'me', memberFacts).takenRuns('meet', family))).toEqual(expected);
  });

  it('only counts peers of the network asked about, and never the member being edited', () => {
    const members = [member('me', [{ device: 'x', addresses: ['10.77.0.2/32'] }]), member('b', [{ device: 'd', network: 'other', addresses: ['10.88.0.2/32'] }, { device: 'e', addresses: ['10.77.0.9/32'] }])];
    const view = membersView(config, members, 'me', memberFacts);
    expect(Array.from(view.takenRuns('meet', 4))).toEqual([9, 1]);
    expect(Array.from(view.takenRuns('other', 4))).toEqual([2, 1]);
    expect(Array.from(view.takenRuns('nowhere', 4))).toEqual([]);
  });

  it('agrees with the peer index on what allocate hands out, over many random registries', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let run = 0; run < 200; run++) {
      const used = new Set<number>();
      const members = Array.from({ length: 1 + rand(6) }, (_, i) =>
        member(`m${i}`, Array.from({ length: rand(4) }, (_, j) => {
          let n: number;
          do n = 2 + rand(40);
          while (used.has(n));
          used.add(n);
          return { device: `d${j}`, addresses: [`10.77.0.${n}/32`, `fd77:77::${n.toString(16)}/128`] };
        })),
      );
      const texts = members.slice(1).flatMap((m) => m.vpn_peers.flatMap((p) => p.addresses));
      const index = new OtherMembers(new Map(members.slice(1).map((m) => [m.handle, peerIndexEntry(config, m, 's')!])));
      const view = membersView(config, members, 'm0', memberFacts);
      for (const [range, family] of [['10.77.0.0/24', 4], ['fd77:77::/64', 6]] as const) {
        const reserved = family === 4 ? ['10.77.0.1'] : ['fd77:77::1'];
        const fromTexts = allocate(range, [...reserved, ...texts]);
        expect(allocate(range, reserved, { takenRuns: view.takenRuns('meet', family) })).toBe(fromTexts);
        expect(allocate(range, reserved, { takenRuns: index.takenRuns('meet', family) })).toBe(fromTexts);
      }
    }
  });
});

describe('membersView: WireGuard key holders', () => {
  it("names another member's device, and not the edited member's own", () => {
    const key = newKey();
    const own = newKey();
    const view = membersView(config, [member('me', [{ device: 'x', addresses: ['10.77.0.2/32'], public_key: own }]), member('b', [{ device: 'phone', addresses: ['10.77.0.3/32'], public_key: key }])], 'me');
    expect(view.describeWgHolder(key)).toBe('b/phone (network meet)');
    expect(view.describeWgHolder(own)).toBeUndefined();
    expect(view.describeWgHolder(newKey())).toBeUndefined();
  });
});

describe('membersView: an address it cannot read', () => {
  it('is refused as allocate refuses it (exit 3, infra check)', () => {
    const members = [member('me', []), member('b', [{ device: 'd', addresses: ['not-an-address'] }])];
    expect(() => membersView(config, members, 'me').takenRuns('meet', 4)).toThrow(expect.objectContaining({ exitCode: 3, message: expect.stringContaining('not-an-address'), hint: expect.stringContaining('infra check') }));
  });
});
