/**
 * The other ways an address may be read: text infra refuses, or writes differently, that a tool still takes
 * for an address. `10.77.0.05` is refused (leading zeros), but inet_aton and some shells read a leading zero
 * as octal while most tools read decimal; `::ffff:10.77.0.2` is an IPv6 address that stands for the IPv4
 * one. The audit compares these readings with every other peer's address (vpn-address-conflict).
 */
import { parseAddress, type Address } from './ip-alloc.js';

export interface Reading {
  address: Address;
  /** How the text comes to mean it: "read as decimal", "read as octal, as inet_aton does", "IPv4-mapped". */
  how: string;
}

const OCTETS_RE = /^(\d{1,4})\.(\d{1,4})\.(\d{1,4})\.(\d{1,4})$/;
const MAPPED_MASK = 0xffffn << 32n;

function ipv4Of(octets: readonly number[]): Address | undefined {
  if (octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return undefined;
  return { family: 4, value: BigInt(octets.reduce((v, o) => v * 256 + o, 0)) };
}

/** Readings of `text` (an address, `/prefix` allowed) other than infra's own; [] when it has none. */
export function otherReadings(text: string): Reading[] {
  const bare = text.split('/')[0].trim();
  const out: Reading[] = [];
  const m = OCTETS_RE.exec(bare);
  if (m && m.slice(1).some((o) => o.length > 1 && o.startsWith('0'))) {
    const decimal = ipv4Of(m.slice(1).map((o) => Number.parseInt(o, 10)));
    if (decimal) out.push({ address: decimal, how: 'read as decimal' });
    const octal = m.slice(1).every((o) => !(o.length > 1 && o.startsWith('0')) || /^[0-7]+$/.test(o)) ? ipv4Of(m.slice(1).map((o) => (o.length > 1 && o.startsWith('0') ? Number.parseInt(o, 8) : Number.parseInt(o, 10)))) : undefined;
    if (octal && (!decimal || octal.value !== decimal.value)) out.push({ address: octal, how: 'read as octal, as inet_aton does' });
    return out;
  }
  let parsed: Address;
  try {
    parsed = parseAddress(bare);
  } catch {
    return out;
  }
  // ::ffff:a.b.c.d: an IPv6 socket given it reaches the IPv4 address.
  if (parsed.family === 6 && (parsed.value & ~0xffffffffn) === MAPPED_MASK) out.push({ address: { family: 4, value: parsed.value & 0xffffffffn }, how: 'IPv4-mapped' });
  return out;
}
