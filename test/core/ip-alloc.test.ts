import { thrown } from '../helpers/thrown.js';
import { isIPv4, isIPv6 } from 'node:net';
import { allocate, cidrContains, cidrsOverlap, formatAddress, hostRange, parseAddress, parseCidr } from '../../src/core/ip-alloc.js';


describe('parseAddress', () => {
  it.each([
    ['0.0.0.0', 4, 0n],
    ['10.77.0.5', 4, 0x0a4d0005n],
    ['255.255.255.255', 4, 0xffffffffn],
    ['::', 6, 0n],
    ['::1', 6, 1n],
    ['fd77:77::5', 6, 0xfd770077000000000000000000000005n],
    ['FD77:0077:0000:0000:0000:0000:0000:0005', 6, 0xfd770077000000000000000000000005n],
    ['2001:db8::', 6, 0x20010db8000000000000000000000000n],
    ['::ffff:192.0.2.1', 6, 0xffffc0000201n],
    ['64:ff9b::10.0.0.1', 6, 0x0064ff9b00000000000000000a000001n],
    ['1:2:3:4:5:6:7:8', 6, 0x00010002000300040005000600070008n],
    ['1:2:3:4:5:6:1.2.3.4', 6, 0x00010002000300040005000601020304n],
  ])('%s', (text, family, value) => {
    expect(family === 4 ? isIPv4(text) : isIPv6(text)).toBe(true);
    expect(parseAddress(text)).toEqual({ family, value });
  });

  // Every rejected text is also rejected by node's own parser, which keeps this table honest.
  it.each([
    '', '10.77.0', '10.77.0.256', '10.77.0.05', '10.77.0.5.1', ' 10.77.0.5', '1::2::3', ':1::', '1::2:', ':::', '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7::8', '12345::', 'g::1', '::ffff:1.2.3', '::1.2.3.4:5', '1:2:3:4:5:6:7:1.2.3.4',
  ])('refuses %j', (text) => {
    expect(isIPv4(text) || isIPv6(text)).toBe(false);
    expect(thrown(() => parseAddress(text)).exitCode).toBe(3);
  });

  it('refuses zone ids, which have no place in a VPN range', () => {
    expect(thrown(() => parseAddress('fe80::1%eth0')).exitCode).toBe(3);
  });
});

describe('formatAddress', () => {
  it.each([
    // RFC 5952 section 4 examples
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['fd77:77:0:0:0:0:0:5', 'fd77:77::5'],
  ])('%s -> %s', (input, expected) => {
    expect(formatAddress(6, parseAddress(input).value)).toBe(expected);
  });

  it('agrees with the WHATWG URL serializer (RFC 5952 compression) on random addresses', () => {
    let seed = 12345n;
    for (let i = 0; i < 500; i++) {
      let value = 0n;
      for (let g = 0; g < 8; g++) {
        seed = (seed * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
        // Zero groups often, so that runs of zeros of every length appear.
        const group = seed % 3n === 0n ? 0n : (seed >> 20n) & 0xffffn;
        value = (value << 16n) | group;
      }
      const groups = Array.from({ length: 8 }, (_, g) => ((value >> BigInt((7 - g) * 16)) & 0xffffn).toString(16));
      const expected = new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
      expect(formatAddress(6, value)).toBe(expected);
    }
  });

  it('writes IPv4 as dotted quads', () => {
    expect(formatAddress(4, 0x0a4d00ffn)).toBe('10.77.0.255');
  });
});

describe('parseCidr', () => {
  it.each([
    ['10.77.0.0/24', { family: 4, network: 0x0a4d0000n, prefix: 24, bits: 32 }],
    ['0.0.0.0/0', { family: 4, network: 0n, prefix: 0, bits: 32 }],
    ['10.77.0.5/32', { family: 4, network: 0x0a4d0005n, prefix: 32, bits: 32 }],
    ['fd77:77::/64', { family: 6, network: 0xfd770077000000000000000000000000n, prefix: 64, bits: 128 }],
    ['::/0', { family: 6, network: 0n, prefix: 0, bits: 128 }],
  ])('%s', (text, expected) => {
    expect(parseCidr(text)).toEqual(expected);
  });

  it.each(['10.77.0.0', '10.77.0.0/33', '10.77.0.0/', '10.77.0.0/024', '10.77.0.0/-1', 'fd77::/129', 'x/24', '10.77.0.0/24/1'])('refuses %j', (text) => {
    expect(thrown(() => parseCidr(text)).exitCode).toBe(3);
  });

  it('refuses host bits in a network definition and names the network meant', () => {
    const e = thrown(() => parseCidr('10.77.0.1/24'));
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain('10.77.0.0/24');
    expect(thrown(() => parseCidr('fd77:77::1/64')).message).toContain('fd77:77::/64');
  });

  it('accepts host bits and bare addresses when asked', () => {
    expect(parseCidr('10.77.0.1/24', { strict: false }).network).toBe(0x0a4d0000n);
    expect(parseCidr('10.77.0.9', { allowBareAddress: true })).toEqual({ family: 4, network: 0x0a4d0009n, prefix: 32, bits: 32 });
  });
});

describe('cidrsOverlap / cidrContains', () => {
  it.each([
    ['10.77.0.0/24', '10.77.0.0/24', true],
    ['10.77.0.0/24', '10.77.0.128/25', true],
    ['10.77.0.0/16', '10.77.200.0/24', true],
    ['10.77.0.0/24', '10.77.1.0/24', false],
    ['10.77.0.0/25', '10.77.0.128/25', false],
    ['0.0.0.0/0', '192.0.2.1/32', true],
    ['fd77:77::/64', 'fd77:77::/48', true],
    ['fd77:77::/64', 'fd77:78::/64', false],
    ['10.77.0.0/24', 'fd77:77::/64', false],
  ])('%s vs %s -> %s', (a, b, expected) => {
    expect(cidrsOverlap(a, b)).toBe(expected);
    expect(cidrsOverlap(b, a)).toBe(expected);
  });

  it('contains', () => {
    expect(cidrContains('10.77.0.0/24', '10.77.0.255')).toBe(true);
    expect(cidrContains('10.77.0.0/24', '10.77.1.0')).toBe(false);
    expect(cidrContains('fd77:77::/64', 'fd77:77::ffff')).toBe(true);
    expect(cidrContains('10.77.0.0/24', 'fd77:77::1')).toBe(false);
  });
});

describe('hostRange', () => {
  it.each([
    ['10.77.0.0/24', '10.77.0.1', '10.77.0.254'],
    ['10.77.0.0/30', '10.77.0.1', '10.77.0.2'],
    ['10.77.0.0/31', '10.77.0.0', '10.77.0.1'],
    ['10.77.0.7/32', '10.77.0.7', '10.77.0.7'],
    ['fd77:77::/126', 'fd77:77::1', 'fd77:77::3'],
    ['fd77:77::/127', 'fd77:77::', 'fd77:77::1'],
  ])('%s: %s .. %s', (cidr, first, last) => {
    const c = parseCidr(cidr);
    const r = hostRange(c);
    expect(formatAddress(c.family, r.first)).toBe(first);
    expect(formatAddress(c.family, r.last)).toBe(last);
  });
});

describe('allocate', () => {
  it.each([
    ['empty network: the first host', '10.77.0.0/24', [], '10.77.0.1/32'],
    ['after reserved and peers', '10.77.0.0/24', ['10.77.0.1', '10.77.0.2/32', '10.77.0.3/32'], '10.77.0.4/32'],
    ['the lowest gap', '10.77.0.0/24', ['10.77.0.1', '10.77.0.3/32', '10.77.0.4/32'], '10.77.0.2/32'],
    ['other family and other networks are ignored', '10.77.0.0/24', ['fd77:77::1/128', '10.78.0.1/32', '10.77.0.1'], '10.77.0.2/32'],
    ['a peer holding a range takes all of it', '10.77.0.0/24', ['10.77.0.0/28', '10.77.0.16/32'], '10.77.0.17/32'],
    ['host bits in a taken range are tolerated', '10.77.0.0/24', ['10.77.0.1/30'], '10.77.0.4/32'],
    ['the last host before broadcast', '10.77.0.0/30', ['10.77.0.1'], '10.77.0.2/32'],
    ['RFC 3021 /31 uses both addresses', '10.77.0.0/31', [], '10.77.0.0/32'],
    ['RFC 3021 /31, second address', '10.77.0.0/31', ['10.77.0.0/32'], '10.77.0.1/32'],
    ['/32 is a single address', '10.77.0.9/32', [], '10.77.0.9/32'],
    ['IPv6 skips the subnet-router address', 'fd77:77::/64', [], 'fd77:77::1/128'],
    ['IPv6 after reserved and peers', 'fd77:77::/64', ['fd77:77::1', 'FD77:77:0::2/128', 'fd77:77::3/128'], 'fd77:77::4/128'],
    ['IPv6 crosses a group boundary', 'fd77:77::/64', ['fd77:77::/112'], 'fd77:77::1:0/128'],
  ])('%s', (_label, network, taken, expected) => {
    expect(allocate(network, taken)).toBe(expected);
  });

  it('a full network is a clear error with a fix', () => {
    const e = thrown(() => allocate('10.77.0.0/30', ['10.77.0.1', '10.77.0.2/32'], { networkName: 'meet' }));
    expect(e.exitCode).toBe(3);
    expect(e.message).toBe('network meet (10.77.0.0/30) is full: 2 of 2 addresses in use');
    expect(e.hint).toContain('infra vpn list --network meet');
    expect(e.hint).toContain('ipv4');
  });

  it('a full IPv6 network names ipv6 in the hint', () => {
    const e = thrown(() => allocate('fd77:77::/126', ['fd77:77::1', 'fd77:77::2', 'fd77:77::3'], { networkName: 'meet' }));
    expect(e.message).toBe('network meet (fd77:77::/126) is full: 3 of 3 addresses in use');
    expect(e.hint).toContain('ipv6');
  });

  it('refuses a taken entry that is not an address', () => {
    expect(thrown(() => allocate('10.77.0.0/24', ['10.77.0.x'])).exitCode).toBe(3);
    expect(thrown(() => allocate('fd77:77::/64', ['fd77:77::g/128'])).exitCode).toBe(3);
  });

  it('finds the one free address among 50,000 peers in a /16', () => {
    const hostAddress = (n: number) => `10.0.${n >> 8}.${n & 255}`;
    const gap = 31337;
    const taken: string[] = [];
    for (let n = 50000; n >= 1; n--) if (n !== gap) taken.push(`${hostAddress(n)}/32`);
    expect(allocate('10.0.0.0/16', taken)).toBe(`${hostAddress(gap)}/32`);
    taken.push(hostAddress(gap));
    expect(allocate('10.0.0.0/16', taken)).toBe(`${hostAddress(50001)}/32`);
  });

  it('fills a /16 to the broadcast address and then reports it full', () => {
    const taken: string[] = [];
    for (let n = 1; n < 65534; n++) taken.push(`10.0.${n >> 8}.${n & 255}`);
    expect(allocate('10.0.0.0/16', taken)).toBe('10.0.255.254/32');
    taken.push('10.0.255.254');
    expect(thrown(() => allocate('10.0.0.0/16', taken)).message).toBe('network 10.0.0.0/16 is full: 65534 of 65534 addresses in use');
  });
});
