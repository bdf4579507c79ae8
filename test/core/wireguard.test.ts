import { thrown } from '../helpers/thrown.js';
import type { Member, VpnNetwork, VpnPeer } from '../../src/core/types.js';
import {
  checkWgKey,
  formatEndpoint,
  generatePrivateKey,
  isWgKey,
  parseEndpoint,
  publicKeyOf,
  renderDeviceConfig,
  serverPeers,
  validateNetwork,
} from '../../src/core/wireguard.js';


const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');

// RFC 7748 section 6.1 test vectors.
const ALICE_PRIVATE = b64('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
const ALICE_PUBLIC = b64('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
const BOB_PRIVATE = b64('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
const BOB_PUBLIC = b64('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Same bytes, but the two unused bits of the last character set: decoders accept it, wg does not. */
function nonCanonical(key: string): string {
  const last = BASE64_ALPHABET.indexOf(key[42]);
  return `${key.slice(0, 42)}${BASE64_ALPHABET[last | 1]}=`;
}

describe('keys', () => {
  it('derives the RFC 7748 public keys', () => {
    expect(publicKeyOf(ALICE_PRIVATE)).toBe(ALICE_PUBLIC);
    expect(publicKeyOf(BOB_PRIVATE)).toBe(BOB_PUBLIC);
  });

  it('generates a clamped key from the random bytes it is given', () => {
    const requested: number[] = [];
    const key = generatePrivateKey((n) => {
      requested.push(n);
      return Buffer.alloc(n, 0xff);
    });
    expect(requested).toEqual([32]);
    // f8 ff..ff 7f, base64 computed outside this code
    expect(key).toBe('+P///////////////////////////////////////38=');
  });

  it('keeps 251 random bits and sets the X25519 clamp bits', () => {
    let counter = 0;
    for (let i = 0; i < 20; i++) {
      const key = generatePrivateKey((n) => Buffer.from(Array.from({ length: n }, () => (counter = (counter * 73 + 41) % 256))));
      expect(isWgKey(key)).toBe(true);
      const bytes = Buffer.from(key, 'base64');
      expect(bytes[0] & 7).toBe(0);
      expect(bytes[31] & 0xc0).toBe(0x40);
      expect(publicKeyOf(key)).toHaveLength(44);
    }
  });

  it.each([
    ['a valid key', ALICE_PUBLIC, true],
    ['43 characters', ALICE_PUBLIC.slice(0, 43), false],
    ['45 characters', `${ALICE_PUBLIC}=`, false],
    ['no padding', `${ALICE_PUBLIC.slice(0, 43)}A`, false],
    ['non-canonical last character', nonCanonical(ALICE_PUBLIC), false],
    ['base64url alphabet', 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=', false],
    ['trailing newline', `${ALICE_PUBLIC}\n`, false],
    ['33 bytes', Buffer.alloc(33, 1).toString('base64'), false],
    ['empty', '', false],
  ])('checkWgKey: %s', (_label, key, ok) => {
    expect(isWgKey(key)).toBe(ok);
    if (ok) {
      expect(() => checkWgKey(key, 'public_key')).not.toThrow();
    } else {
      const e = thrown(() => checkWgKey(key, 'public_key'));
      expect(e.exitCode).toBe(3);
      expect(e.message).toContain('public_key');
      if (key.length > 8) expect(e.message).not.toContain(key.slice(0, 20));
    }
  });

  it('never echoes a private key it refuses', () => {
    const bad = nonCanonical(BOB_PRIVATE);
    const e = thrown(() => publicKeyOf(bad));
    expect(`${e.message} ${e.hint}`).not.toContain(bad.slice(0, 12));
  });
});

describe('endpoints', () => {
  it.each([
    ['vpn.meet.example:51820', 'vpn.meet.example', 51820],
    ['vpn:1', 'vpn', 1],
    ['192.0.2.1:65535', '192.0.2.1', 65535],
    ['[2001:db8::1]:51820', '2001:db8::1', 51820],
    ['[::ffff:192.0.2.1]:51820', '::ffff:192.0.2.1', 51820],
  ])('parses %s', (text, host, port) => {
    expect(parseEndpoint(text)).toEqual({ host, port });
    expect(formatEndpoint(host, port)).toBe(text);
  });

  it.each([
    ['', 'empty'],
    ['vpn.meet.example', 'no port'],
    ['vpn.meet.example:', 'the port'],
    ['vpn.meet.example:0', 'the port'],
    ['vpn.meet.example:65536', 'the port'],
    ['vpn.meet.example:051820', 'the port'],
    ['vpn.meet.example:51820x', 'the port'],
    ['2001:db8::1:51820', 'brackets'],
    ['2001:db8::1', 'brackets'],
    ['[2001:db8::1]', 'no port'],
    ['[2001:db8::1]51820', 'no port'],
    ['[2001:db8::1:51820', '"]"'],
    ['[2001:db8:::1]:51820', 'IPv6'],
    ['[192.0.2.1]:51820', 'IPv6'],
    ['10.77.0.300:51820', 'host name'],
    ['bad_host!:51820', 'host name'],
    ['-vpn.example:51820', 'host name'],
    ['vpn example:51820', 'host name'],
  ])('refuses %j (%s)', (text, why) => {
    const e = thrown(() => parseEndpoint(text));
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain(why);
    expect(e.hint).toContain('[2001:db8::1]:51820');
  });
});

describe('renderDeviceConfig', () => {
  it('writes a dual-stack wg-quick config', () => {
    const text = renderDeviceConfig({
      comment: 'alice/laptop on network meet',
      privateKey: ALICE_PRIVATE,
      addresses: ['10.77.0.5/32', 'fd77:77::5/128'],
      dns: ['10.77.0.1', 'fd77:77::1'],
      mtu: 1420,
      serverPublicKey: BOB_PUBLIC,
      endpoint: 'vpn.meet.example:51820',
      allowedIps: ['10.77.0.0/24', 'fd77:77::/64'],
      keepalive: 25,
    });
    expect(text).toBe(
      [
        '# alice/laptop on network meet',
        '[Interface]',
        `PrivateKey = ${ALICE_PRIVATE}`,
        'Address = 10.77.0.5/32, fd77:77::5/128',
        'DNS = 10.77.0.1, fd77:77::1',
        'MTU = 1420',
        '',
        '[Peer]',
        `PublicKey = ${BOB_PUBLIC}`,
        'Endpoint = vpn.meet.example:51820',
        'AllowedIPs = 10.77.0.0/24, fd77:77::/64',
        'PersistentKeepalive = 25',
        '',
      ].join('\n'),
    );
  });

  it('leaves the private key to a device that made its own, and omits what is not set', () => {
    const text = renderDeviceConfig({
      addresses: ['10.77.0.5/32'],
      serverPublicKey: BOB_PUBLIC,
      endpoint: '[2001:db8::1]:51820',
      allowedIps: ['10.77.0.0/24'],
      keepalive: 0,
    });
    expect(text).not.toMatch(/^PrivateKey\s*=/m);
    expect(text).toMatch(/^# .*private key/m);
    expect(text).toContain('Endpoint = [2001:db8::1]:51820\n');
    expect(text).not.toMatch(/^(DNS|MTU|PersistentKeepalive)/m);
  });

  it.each([
    ['a newline in a DNS entry', { dns: ['10.77.0.1\nPostUp = touch /tmp/owned'] }],
    ['a comment character in an allowed IP', { allowedIps: ['10.77.0.0/24 # x'] }],
    ['a non-canonical server key', { serverPublicKey: nonCanonical(BOB_PUBLIC) }],
    ['a bad endpoint', { endpoint: 'vpn.meet.example' }],
    ['no address', { addresses: [] }],
    ['an MTU that is not a number of bytes', { mtu: 14.5 }],
  ])('refuses %s', (_label, override) => {
    const base = { addresses: ['10.77.0.5/32'], serverPublicKey: BOB_PUBLIC, endpoint: 'vpn:51820', allowedIps: ['10.77.0.0/24'] };
    expect(thrown(() => renderDeviceConfig({ ...base, ...override })).exitCode).toBe(3);
  });

  it('cannot be tricked into a new line through the comment', () => {
    const text = renderDeviceConfig({
      comment: 'x\n[Interface]\nPostUp = rm -rf /',
      addresses: ['10.77.0.5/32'],
      serverPublicKey: BOB_PUBLIC,
      endpoint: 'vpn:51820',
      allowedIps: ['10.77.0.0/24'],
    });
    expect(text.split('\n').filter((l) => l.startsWith('[Interface]'))).toHaveLength(1);
    expect(text).not.toMatch(/^PostUp/m);
  });
});

function member(handle: string, status: 'active' | 'departed', peers: Array<Partial<VpnPeer> & { device: string }>): Member {
  return {
    handle,
    name: handle,
    kind: 'human',
    org: 'hypha',
    status,
    groups: [],
    ssh_keys: [],
    tokens: [],
    has_pgp: false,
    vpn_peers: peers.map((p) => ({ network: 'meet', public_key: ALICE_PUBLIC, addresses: ['10.77.0.9/32'], added: '2026-03-02', ...p })),
  };
}

describe('server peers', () => {
  const members = [
    member('carol', 'departed', [{ device: 'old', addresses: ['10.77.0.2/32'] }]),
    member('bob', 'active', [
      { device: 'phone', public_key: BOB_PUBLIC, addresses: ['10.77.0.4/32'] },
      { device: 'laptop', network: 'other', addresses: ['10.88.0.2/32'] },
    ]),
    member('alice', 'active', [{ device: 'laptop', addresses: ['10.77.0.5/32', 'fd77:77::5/128'] }]),
  ];

  it('lists active members devices on one network, sorted by name', () => {
    expect(serverPeers(members, 'meet')).toEqual([
      { name: 'alice/laptop', public_key: ALICE_PUBLIC, allowed_ips: ['10.77.0.5/32', 'fd77:77::5/128'] },
      { name: 'bob/phone', public_key: BOB_PUBLIC, allowed_ips: ['10.77.0.4/32'] },
    ]);
    expect(serverPeers(members, 'other').map((p) => p.name)).toEqual(['bob/laptop']);
    expect(serverPeers(members, 'none')).toEqual([]);
  });
});

describe('validateNetwork', () => {
  const meet: VpnNetwork = {
    name: 'meet',
    ipv4: '10.77.0.0/24',
    ipv6: 'fd77:77::/64',
    endpoint: 'vpn.meet.example:51820',
    server_public_key: BOB_PUBLIC,
    reserved: ['10.77.0.1', 'fd77:77::1'],
    dns: ['10.77.0.1', 'meet.internal'],
    allowed_ips: ['10.77.0.0/24', 'fd77:77::/64'],
    keepalive: 25,
    mtu: 1420,
    servers: 'vpn',
  };
  const other: VpnNetwork = { ...meet, name: 'other', ipv4: '10.88.0.0/24', ipv6: undefined, reserved: [], dns: undefined, allowed_ips: ['10.88.0.0/24'] };

  it('accepts a good network', () => {
    expect(validateNetwork(meet, [meet, other])).toEqual([]);
    expect(validateNetwork(other, [meet, other])).toEqual([]);
  });

  it.each([
    ['ipv4', { ipv4: '10.77.0.1/24' }, '10.77.0.0/24'],
    ['ipv4', { ipv4: 'fd00::/64' }, 'not an IPv4'],
    ['ipv6', { ipv6: '10.99.0.0/24' }, 'not an IPv6'],
    ['ipv4', { ipv4: '10.77.0.0/32' }, 'single address'],
    ['ipv4', { ipv4: undefined, ipv6: undefined, reserved: [] }, 'ipv4, ipv6 or both'],
    ['endpoint', { endpoint: '2001:db8::1:51820' }, 'brackets'],
    ['server_public_key', { server_public_key: nonCanonical(BOB_PUBLIC) }, 'not a WireGuard public key'],
    ['reserved[0]', { reserved: ['10.78.0.1'] }, 'outside'],
    ['reserved[1]', { reserved: ['10.77.0.1', '10.77.0.0/30'] }, 'range'],
    ['reserved[0]', { reserved: ['nope'] }, 'not'],
    ['dns[0]', { dns: ['bad dns!'] }, 'neither'],
    ['allowed_ips[1]', { allowed_ips: ['10.77.0.0/24', '10.77.0.0/33'] }, 'prefix'],
    ['allowed_ips', { allowed_ips: [] }, 'routes'],
    ['keepalive', { keepalive: -1 }, 'seconds'],
    ['mtu', { mtu: 1000 }, '1280'],
    ['servers', { servers: ' ' }, 'host pattern'],
    ['name', { name: 'bad name' }, 'letters'],
  ])('reports %s', (field, override, fragment) => {
    const net = { ...meet, ...override } as VpnNetwork;
    const problems = validateNetwork(net, [net]);
    expect(problems).toEqual([expect.objectContaining({ file: 'infra.yml', field: `vpn.${net.name}.${field}`, message: expect.stringContaining(fragment) })]);
  });

  it('reports ranges shared with another network, in both families', () => {
    const clash: VpnNetwork = { ...other, name: 'clash', ipv4: '10.77.0.128/25', ipv6: 'fd77:77::/48', reserved: [], allowed_ips: ['10.77.0.128/25'] };
    const problems = validateNetwork(meet, [meet, clash]);
    expect(problems.map((p) => [p.field, p.message])).toEqual([
      ['vpn.meet.ipv4', 'overlaps 10.77.0.128/25 of network clash'],
      ['vpn.meet.ipv6', 'overlaps fd77:77::/48 of network clash'],
    ]);
  });

  it('reports every problem at once', () => {
    const broken = { ...meet, ipv4: 'x', endpoint: 'nope', server_public_key: 'short', mtu: 10 };
    expect(validateNetwork(broken, [broken]).map((p) => p.field)).toEqual(['vpn.meet.ipv4', 'vpn.meet.endpoint', 'vpn.meet.server_public_key', 'vpn.meet.mtu']);
  });
});
