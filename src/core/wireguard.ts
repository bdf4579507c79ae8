/**
 * WireGuard keys, endpoints, wg-quick device configs, server peer lists and network validation.
 * Deterministic: randomness is passed in, nothing touches fs, network or clock.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { invalid, type Problem } from '../lib/errors.js';
import { NAME_RE, type Member, type VpnNetwork } from './types.js';
import { cidrContains, cidrsOverlap, isIpAddress, parseAddress, parseCidr, type Cidr } from './ip-alloc.js';

const KEY_BYTES = 32;

/** A key as `wg genkey` makes it: 32 random bytes clamped for X25519 (RFC 7748), canonical base64. */
export function generatePrivateKey(randomBytes: (n: number) => Buffer): string {
  const bytes = Buffer.from(randomBytes(KEY_BYTES));
  if (bytes.length !== KEY_BYTES) throw new Error(`randomBytes returned ${bytes.length} bytes, expected ${KEY_BYTES}`);
  bytes[0] &= 248;
  bytes[31] &= 127;
  bytes[31] |= 64;
  return bytes.toString('base64');
}

/** True when `b64` decodes to exactly 32 bytes and is written the one way base64 allows (what wg accepts). */
export function isWgKey(b64: string): boolean {
  if (typeof b64 !== 'string' || b64.length !== 44 || !/^[A-Za-z0-9+/]{43}=$/.test(b64)) return false;
  const bytes = Buffer.from(b64, 'base64');
  return bytes.length === KEY_BYTES && bytes.toString('base64') === b64;
}

/** Throws InfraError 3 unless `b64` is a WireGuard key. The value is never echoed: it may be a private key. */
export function checkWgKey(b64: string, field: string): void {
  if (isWgKey(b64)) return;
  const what = typeof b64 !== 'string' ? 'not text' : b64.length !== 44 ? `${b64.length} characters long` : 'not canonical base64 of 32 bytes';
  throw invalid(
    `${field}: not a WireGuard key (${what}; a key is 44 characters of base64 ending in "=", as \`wg genkey\` and \`wg pubkey\` print)`,
    'copy the key again from `wg pubkey < privatekey` on the device',
  );
}

/**
 * True when a key has the bits X25519 clamping gives every private key (as `wg genkey` makes them): the
 * low three bits of byte 0 clear, and in byte 31 bit 6 set and bit 7 clear. One public key in 32 has
 * them by chance, so this is grounds for a warning, never for a refusal.
 */
export function hasPrivateKeyBits(b64: string): boolean {
  if (!isWgKey(b64)) return false;
  const bytes = Buffer.from(b64, 'base64');
  return (bytes[0] & 0b111) === 0 && (bytes[31] & 0b1100_0000) === 0b0100_0000;
}

// PKCS#8 wrapping of a raw X25519 private key (RFC 8410): node:crypto imports keys only in a container format.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** The public key of a private key, identical to `wg pubkey`. */
export function publicKeyOf(privateKeyB64: string): string {
  checkWgKey(privateKeyB64, 'private key');
  const raw = Buffer.from(privateKeyB64, 'base64');
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return Buffer.from(spki.subarray(spki.length - KEY_BYTES)).toString('base64');
}

const HOSTNAME_LABEL_RE = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

function isHostname(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  const labels = (host.endsWith('.') ? host.slice(0, -1) : host).split('.');
  if (!labels.every((l) => HOSTNAME_LABEL_RE.test(l))) return false;
  // All-numeric names are IPv4 addresses or typos of one (10.77.0.300).
  return !labels.every((l) => /^[0-9]+$/.test(l));
}

const ENDPOINT_HINT = 'write the endpoint as host:port, e.g. vpn.example.org:51820, 192.0.2.1:51820 or [2001:db8::1]:51820';

/** `host:port` or `[ipv6]:port`, as wg-quick's Endpoint takes it. Throws InfraError 3 on anything else. */
export function parseEndpoint(s: string): { host: string; port: number } {
  const bad = (why: string) => invalid(`endpoint ${JSON.stringify(s)}: ${why}`, ENDPOINT_HINT);
  if (typeof s !== 'string' || s.length === 0) throw bad('empty');
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw bad('"[" without "]"');
    host = s.slice(1, close);
    if (s[close + 1] !== ':') throw bad('no port after "]"');
    portText = s.slice(close + 2);
    if (!host.includes(':') || !isIpAddress(host) || parseAddress(host).family !== 6) throw bad('not an IPv6 address inside [ ]');
  } else {
    const colons = s.split(':').length - 1;
    if (colons === 0) throw bad('no port');
    if (colons > 1) throw bad('an IPv6 address must be written in brackets, [addr]:port');
    [host, portText] = s.split(':');
    if (!isIpAddress(host) && !isHostname(host)) throw bad('not a host name or IPv4 address');
  }
  if (!/^[1-9][0-9]{0,4}$/.test(portText) || Number(portText) > 65535) throw bad('the port must be a number from 1 to 65535');
  return { host, port: Number(portText) };
}

/** Brackets IPv6 literals: `[2001:db8::1]:51820`. */
export function formatEndpoint(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface DeviceConfigInput {
  /** Absent when the device made its own key (`--public-key`): the line is left for the device to fill. */
  privateKey?: string;
  addresses: string[];
  dns?: string[];
  mtu?: number;
  serverPublicKey: string;
  endpoint: string;
  allowedIps: string[];
  keepalive?: number;
  /** Free text for a leading `#` comment, e.g. `alice/laptop on network meet`. */
  comment?: string;
}

/** Keeps anything a value holds from starting a new line or a new key in the config. */
function configValue(value: string, field: string): string {
  if (/[\x00-\x1f\x7f#=]/.test(value) || value.trim() !== value || value === '') {
    throw invalid(`${field}: ${JSON.stringify(value)} cannot be written into a WireGuard config`, 'fix the value in infra.yml, then run `infra check`');
  }
  return value;
}

// Controls, line separators and format characters (bidi overrides) become spaces: the config is printed to a terminal.
const commentLine = (text: string) => `# ${text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]+/gu, ' ')}`;

function checkInteger(value: number, field: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${field}: ${value} is not a whole number from ${min} to ${max}`, 'fix the value in infra.yml, then run `infra check`');
  }
  return value;
}

/** A wg-quick config for a device: `wg-quick strip` accepts it and `wg setconf` loads the result. */
export function renderDeviceConfig(c: DeviceConfigInput): string {
  checkWgKey(c.serverPublicKey, 'server_public_key');
  if (c.addresses.length === 0) throw invalid('a device config needs at least one address', 'allocate an address with `infra vpn join`');
  const endpoint = parseEndpoint(c.endpoint);
  const lines: string[] = [];
  if (c.comment) lines.push(commentLine(c.comment));
  lines.push('[Interface]');
  if (c.privateKey !== undefined) {
    checkWgKey(c.privateKey, 'private key');
    lines.push(`PrivateKey = ${c.privateKey}`);
  } else {
    lines.push('# PrivateKey: this device made its own key pair; put its private key here (it never left the device).');
  }
  lines.push(`Address = ${c.addresses.map((a) => configValue(a, 'address')).join(', ')}`);
  if (c.dns && c.dns.length > 0) lines.push(`DNS = ${c.dns.map((d) => configValue(d, 'dns')).join(', ')}`);
  if (c.mtu !== undefined) lines.push(`MTU = ${checkInteger(c.mtu, 'mtu', 576, 65535)}`);
  lines.push('');
  lines.push('[Peer]');
  lines.push(`PublicKey = ${c.serverPublicKey}`);
  lines.push(`Endpoint = ${formatEndpoint(endpoint.host, endpoint.port)}`);
  lines.push(`AllowedIPs = ${c.allowedIps.map((a) => configValue(a, 'allowed_ips')).join(', ')}`);
  if (c.keepalive !== undefined && c.keepalive > 0) lines.push(`PersistentKeepalive = ${checkInteger(c.keepalive, 'keepalive', 1, 65535)}`);
  return `${lines.join('\n')}\n`;
}

export interface ServerPeer {
  name: string; // handle/device
  public_key: string;
  allowed_ips: string[];
}

/** The peers a network's servers accept: every active member's devices on that network, sorted by name. */
export function serverPeers(members: readonly Member[], network: string): ServerPeer[] {
  const peers: ServerPeer[] = [];
  for (const member of members) {
    if (member.status !== 'active') continue;
    for (const peer of member.vpn_peers) {
      if (peer.network !== network) continue;
      peers.push({ name: `${member.handle}/${peer.device}`, public_key: peer.public_key, allowed_ips: [...peer.addresses] });
    }
  }
  return peers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const DNS_NAME_RE = /^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9_.])?$/;

/** Every problem with one `vpn:` network, including ranges it shares with another network in `all`. */
export function validateNetwork(net: VpnNetwork, all: readonly VpnNetwork[]): Problem[] {
  const problems: Problem[] = [];
  const base = `vpn.${net.name}`;
  const add = (field: string, message: string) => problems.push({ file: 'infra.yml', field: `${base}.${field}`, message });
  const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

  if (!NAME_RE.test(net.name)) add('name', `network name ${JSON.stringify(net.name)} must be letters, digits, '.', '_' or '-'`);

  const ranges: Cidr[] = [];
  const brokenFamilies = new Set<number>(); // their own problem is reported once, not again for each reserved address
  const checkRange = (field: 'ipv4' | 'ipv6', family: 4 | 6) => {
    const text = net[field];
    if (text === undefined) return;
    const before = problems.length;
    try {
      const c = parseCidr(text);
      if (c.family !== family) add(field, `${text} is not an IPv${family} range`);
      else if (c.bits - c.prefix < 1) add(field, `${text} holds a single address; peers need a range such as /24 or /64`);
      else ranges.push(c);
    } catch (e) {
      add(field, messageOf(e));
    }
    if (problems.length > before) brokenFamilies.add(family);
  };
  checkRange('ipv4', 4);
  checkRange('ipv6', 6);
  if (net.ipv4 === undefined && net.ipv6 === undefined) add('ipv4', 'a network needs ipv4, ipv6 or both');

  for (const other of all) {
    if (other.name === net.name) continue;
    for (const mine of ranges) {
      for (const theirs of [other.ipv4, other.ipv6]) {
        if (theirs === undefined) continue;
        let overlaps = false;
        try {
          overlaps = cidrsOverlap(mine, theirs);
        } catch {
          continue; // reported when the other network is validated
        }
        if (overlaps) add(mine.family === 4 ? 'ipv4' : 'ipv6', `overlaps ${theirs} of network ${other.name}`);
      }
    }
  }

  try {
    parseEndpoint(net.endpoint);
  } catch (e) {
    add('endpoint', messageOf(e));
  }

  if (!isWgKey(net.server_public_key)) {
    add('server_public_key', 'not a WireGuard public key (44 characters of base64 ending in "=", as `wg pubkey` prints)');
  }

  (net.reserved ?? []).forEach((r, i) => {
    let inside = false;
    try {
      const c = parseCidr(r, { allowBareAddress: true });
      if (c.prefix !== c.bits) {
        add(`reserved[${i}]`, `${r} is a range; list single addresses`);
        return;
      }
      inside = brokenFamilies.has(c.family) || ranges.some((range) => cidrContains(range, { family: c.family, value: c.network }));
    } catch (e) {
      add(`reserved[${i}]`, messageOf(e));
      return;
    }
    if (!inside) add(`reserved[${i}]`, `${r} is outside ${[net.ipv4, net.ipv6].filter(Boolean).join(' and ')}`);
  });

  (net.dns ?? []).forEach((d, i) => {
    if (!isIpAddress(d) && !DNS_NAME_RE.test(d)) add(`dns[${i}]`, `${JSON.stringify(d)} is neither an IP address nor a search domain`);
  });

  if (!net.allowed_ips || net.allowed_ips.length === 0) add('allowed_ips', 'list what a device routes into the tunnel, e.g. the network ranges');
  (net.allowed_ips ?? []).forEach((a, i) => {
    try {
      parseCidr(a);
    } catch (e) {
      add(`allowed_ips[${i}]`, messageOf(e));
    }
  });

  if (net.keepalive !== undefined && (!Number.isInteger(net.keepalive) || net.keepalive < 0 || net.keepalive > 65535)) {
    add('keepalive', 'must be a whole number of seconds from 0 (off) to 65535');
  }
  if (net.mtu !== undefined) {
    const min = net.ipv6 !== undefined ? 1280 : 576;
    if (!Number.isInteger(net.mtu) || net.mtu < min || net.mtu > 65535) {
      add('mtu', `must be a whole number from ${min}${net.ipv6 !== undefined ? ' (IPv6 needs at least 1280)' : ''} to 65535`);
    }
  }
  if (typeof net.servers !== 'string' || net.servers.trim() === '') add('servers', 'name the WireGuard servers with an Ansible host pattern, e.g. vpn');
  return problems;
}
