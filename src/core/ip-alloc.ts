/**
 * IPv4/IPv6 address math and peer address allocation. Both families are handled as BigInt
 * so one code path serves /24 and /64 networks alike; no dependency.
 */
import { invalid } from '../lib/errors.js';
import { shellQuote } from '../lib/shell-quote.js';

export type Family = 4 | 6;

export interface Address {
  family: Family;
  value: bigint;
}

export interface Cidr {
  family: Family;
  network: bigint;
  prefix: number;
  bits: 32 | 128;
}

const bitsOf = (family: Family): 32 | 128 => (family === 4 ? 32 : 128);


const IPV4_RE = /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/;

function parseIpv4(s: string): bigint | undefined {
  // Leading zeros are refused: some tools read them as octal.
  const m = IPV4_RE.exec(s);
  if (!m) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return BigInt(value);
}

const HEX_GROUP_RE = /^[0-9a-fA-F]{1,4}$/;

function parseIpv6(s: string): bigint | undefined {
  if (s.length === 0 || s.length > 45) return undefined;
  let text = s;
  // An embedded IPv4 address (::ffff:192.0.2.1) stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.slice(lastColon + 1).includes('.')) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const rest = halves.length === 2 && halves[1] !== '' ? halves[1].split(':') : [];
  if (halves.length === 2 ? head.length + rest.length > 7 : head.length !== 8) return undefined; // '::' stands for at least one zero group
  const groups = [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  if (!groups.every((g) => HEX_GROUP_RE.test(g))) return undefined;
  // One BigInt from 32 hex digits is much cheaper than eight shifts.
  return BigInt(`0x${groups.map((g) => g.padStart(4, '0')).join('')}`);
}

/** Parses a bare IPv4 or IPv6 address; throws InfraError 3 when it is neither. */
export function parseAddress(s: string): Address {
  const v4 = parseIpv4(s);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = s.includes(':') ? parseIpv6(s) : undefined;
  if (v6 !== undefined) return { family: 6, value: v6 };
  throw invalid(`not an IP address: ${JSON.stringify(s)}`, 'write an IPv4 address like 10.77.0.1 or an IPv6 address like fd77:77::1');
}

export function isIpAddress(s: string): boolean {
  return parseIpv4(s) !== undefined || (s.includes(':') && parseIpv6(s) !== undefined);
}

export interface ParseCidrOptions {
  /** Network definitions must not have host bits set (10.77.0.1/24 is almost surely a typo). Default true. */
  strict?: boolean;
  /** Accept a bare address as a host route (/32 or /128). Default false. */
  allowBareAddress?: boolean;
}

export function parseCidr(s: string, options: ParseCidrOptions = {}): Cidr {
  const { strict = true, allowBareAddress = false } = options;
  const slash = s.indexOf('/');
  if (slash < 0 && !allowBareAddress) {
    throw invalid(`not a CIDR range: ${JSON.stringify(s)} has no /prefix`, 'write a range like 10.77.0.0/24 or fd77:77::/64');
  }
  const addressText = slash < 0 ? s : s.slice(0, slash);
  const prefixText = slash < 0 ? undefined : s.slice(slash + 1);
  let address: Address;
  try {
    address = parseAddress(addressText);
  } catch {
    throw invalid(`not a CIDR range: ${JSON.stringify(s)}`, 'write a range like 10.77.0.0/24 or fd77:77::/64');
  }
  const bits = bitsOf(address.family);
  let prefix: number = bits;
  if (prefixText !== undefined) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
      throw invalid(`not a CIDR range: ${JSON.stringify(s)} (the prefix must be 0 to ${bits})`, 'write a range like 10.77.0.0/24 or fd77:77::/64');
    }
    prefix = Number(prefixText);
  }
  const network = address.value & prefixMask(bits, prefix);
  if (strict && network !== address.value) {
    const suggestion = `${formatAddress(address.family, network)}/${prefix}`;
    throw invalid(`${s} has host bits set; the network is ${suggestion}`, `write ${suggestion}`);
  }
  return { family: address.family, network, prefix, bits };
}

const masks = new Map<number, bigint>();
function prefixMask(bits: number, prefix: number): bigint {
  const key = bits * 256 + prefix;
  let mask = masks.get(key);
  if (mask === undefined) {
    const all = (1n << BigInt(bits)) - 1n;
    mask = all ^ ((1n << BigInt(bits - prefix)) - 1n);
    masks.set(key, mask);
  }
  return mask;
}

/** Last address in the range. */
export function cidrEnd(c: Cidr): bigint {
  return c.network + (1n << BigInt(c.bits - c.prefix)) - 1n;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (≥2) of zero groups as '::', leftmost on ties. */
export function formatAddress(family: Family, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestLength < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

export function formatCidr(c: Pick<Cidr, 'family' | 'network' | 'prefix'>): string {
  return `${formatAddress(c.family, c.network)}/${c.prefix}`;
}

/**
 * The one way infra writes an address range: RFC 5952 for IPv6 (lowercase, no leading zeros, `::`), no
 * leading zeros in IPv4. `FD77:77::2/128` and `fd77:0077:0:0::2/128` both give `fd77:77::2/128`.
 * A bare address (no /prefix) gets /32 or /128. Throws InfraError 3 when `s` is not an address or range.
 */
export function canonicalCidr(s: string, options: { strict?: boolean } = {}): string {
  return formatCidr(parseCidr(s, { strict: options.strict ?? false, allowBareAddress: true }));
}

/** `canonicalCidr`, or undefined when `s` is not an address or range (for text read from untrusted files). */
export function tryCanonicalCidr(s: string): string | undefined {
  try {
    return canonicalCidr(s);
  } catch {
    return undefined;
  }
}

/** `family:value` of an address: equal exactly when two texts name the same address, however written. */
export function addressKey(a: Address): string {
  return `${a.family}:${a.value.toString(16)}`;
}

const asCidr = (c: string | Cidr): Cidr => (typeof c === 'string' ? parseCidr(c, { strict: false, allowBareAddress: true }) : c);

/** Ranges of different families never overlap. */
export function cidrsOverlap(a: string | Cidr, b: string | Cidr): boolean {
  const x = asCidr(a);
  const y = asCidr(b);
  if (x.family !== y.family) return false;
  return x.network <= cidrEnd(y) && y.network <= cidrEnd(x);
}

export function cidrContains(range: string | Cidr, address: string | Address): boolean {
  const r = asCidr(range);
  const a = typeof address === 'string' ? parseAddress(address) : address;
  return a.family === r.family && a.value >= r.network && a.value <= cidrEnd(r);
}

/** First and last address a peer may get: the network address is skipped, and in IPv4 the broadcast address; /31, /32, /127, /128 use every address (RFC 3021, RFC 6164). */
export function hostRange(c: Cidr): { first: bigint; last: bigint } {
  const end = cidrEnd(c);
  if (c.bits - c.prefix <= 1) return { first: c.network, last: end };
  return { first: c.network + 1n, last: c.family === 4 ? end - 1n : end };
}

export interface AllocateOptions {
  /** Network name for messages, e.g. `meet`. */
  networkName?: string;
  /** Single addresses also taken, as addressKey (e.g. every peer's, derived once and kept): no text to parse. */
  takenKeys?: ReadonlySet<string>;
  /**
   * Runs of addresses also taken, as pairs [offset from the network address, count], sorted by offset: a
   * peer index's compact numbers, walked alongside the candidate (a run is jumped over, not looked up).
   */
  takenRuns?: ArrayLike<number>;
}

/**
 * The lowest free host address of `networkCidr`, as a /32 or /128 CIDR.
 * `taken` holds addresses or CIDRs (a host route takes one address, a wider range takes all of it)
 * of every peer, the reserved addresses, and addresses still listed in rendered inventories.
 * Entries of the other family or outside the network are ignored.
 * Linear in |taken|: a Set of single addresses plus merged ranges, then one upward scan.
 */
export function allocate(networkCidr: string, taken: Iterable<string>, options: AllocateOptions = {}): string {
  const net = parseCidr(networkCidr, { strict: false });
  const { first, last } = hostRange(net);
  const singles = new Set<bigint>();
  const ranges: Array<[bigint, bigint]> = [];
  for (const entry of taken) {
    // Dual-stack lists hold both families; only IPv6 text has ':', so the other half costs no parsing.
    if (entry.includes(':') !== (net.family === 6)) continue;
    let c: Cidr;
    try {
      c = parseCidr(entry, { strict: false, allowBareAddress: true });
    } catch {
      throw invalid(`an address in use is not an IP address or range: ${JSON.stringify(entry)}`, 'run `infra check` to find and fix it');
    }
    if (c.family !== net.family) continue;
    if (c.prefix === c.bits) singles.add(c.network);
    else ranges.push([c.network, cidrEnd(c)]);
  }
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

  let candidate = first;
  let rangeIndex = 0;
  const runs = options.takenRuns ?? [];
  let runIndex = 0;
  while (candidate <= last) {
    while (rangeIndex < ranges.length && ranges[rangeIndex][1] < candidate) rangeIndex++;
    if (rangeIndex < ranges.length && ranges[rangeIndex][0] <= candidate) {
      candidate = ranges[rangeIndex][1] + 1n;
      continue;
    }
    if (runIndex < runs.length) {
      const offset = Number(candidate - net.network);
      while (runIndex < runs.length && runs[runIndex] + runs[runIndex + 1] <= offset) runIndex += 2;
      if (runIndex < runs.length && runs[runIndex] <= offset) {
        candidate = net.network + BigInt(runs[runIndex] + runs[runIndex + 1]);
        continue;
      }
    }
    if (singles.has(candidate) || options.takenKeys?.has(addressKey({ family: net.family, value: candidate }))) {
      candidate++;
      continue;
    }
    return `${formatAddress(net.family, candidate)}/${net.bits}`;
  }

  const usable = last - first + 1n;
  const name = options.networkName;
  const label = name ? `network ${name} (${formatCidr(net)})` : `network ${formatCidr(net)}`;
  const field = net.family === 4 ? 'ipv4' : 'ipv6';
  const listCommand = name ? `infra vpn list --network ${shellQuote(name)}` : 'infra vpn list';
  throw invalid(
    `${label} is full: ${usable} of ${usable} addresses in use`,
    `remove unused peers (see \`${listCommand}\`, then \`infra vpn leave HANDLE --device D\` and \`infra render\`), or widen ${field}${name ? ` of vpn.${name}` : ''} in infra.yml`,
  );
}
