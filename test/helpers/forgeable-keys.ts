/**
 * Public keys anyone can sign for, built by hand in SSH wire format (independent of src/), and the
 * Edwards-curve arithmetic to show independently that a point has small order.
 */
import { sshString } from './keys.js';
import { rsaPublicParts } from './rsa-keys.js';

const mpint = (b: Buffer) => sshString(b.length > 0 && b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
const bytesOf = (n: bigint) => (n === 0n ? Buffer.alloc(0) : Buffer.from(n.toString(16).padStart(Math.ceil(n.toString(16).length / 2) * 2, '0'), 'hex'));

/** An ssh-rsa line with the given exponent and modulus. */
export function rsaLineOf(e: bigint, n: bigint, comment = 'forged'): string {
  return `ssh-rsa ${Buffer.concat([sshString('ssh-rsa'), mpint(bytesOf(e)), mpint(bytesOf(n))]).toString('base64')} ${comment}`;
}

/** The modulus of a real RSA key whose private half was never kept (its factors unknown to anyone): test/helpers/rsa-keys.ts. */
export function realModulus(bits: number): bigint {
  return BigInt(`0x${rsaPublicParts(bits).n.toString('hex')}`);
}

export function ed25519LineOf(point: Buffer, comment = 'forged'): string {
  return `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(point)]).toString('base64')} ${comment}`;
}

export function skEd25519LineOf(point: Buffer, comment = 'forged'): string {
  const type = 'sk-ssh-ed25519@openssh.com';
  return `${type} ${Buffer.concat([sshString(type), sshString(point), sshString('ssh:')]).toString('base64')} ${comment}`;
}

export const P25519 = (1n << 255n) - 19n;
const D = (((-121665n * modInverse(121666n)) % P25519) + P25519) % P25519;

function mod(a: bigint): bigint {
  const r = a % P25519;
  return r < 0n ? r + P25519 : r;
}
function modPow(b: bigint, e: bigint): bigint {
  let r = 1n;
  let x = mod(b);
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) r = mod(r * x);
    x = mod(x * x);
  }
  return r;
}
function modInverse(a: bigint): bigint {
  return modPowRaw(a, P25519 - 2n);
}
function modPowRaw(b: bigint, e: bigint): bigint {
  let r = 1n;
  let x = ((b % P25519) + P25519) % P25519;
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) r = (r * x) % P25519;
    x = (x * x) % P25519;
  }
  return r;
}

/** The 32-byte little-endian encoding of y with the sign bit of x. */
export function encodePoint(y: bigint, xSign: 0 | 1): Buffer {
  const out = Buffer.alloc(32);
  let v = y;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  out[31] = (out[31] & 0x7f) | (xSign << 7);
  return out;
}

/** Decodes as RFC 8032 §5.1.3 (y reduced mod p, as lenient decoders do); undefined off the curve. */
function decode(bytes: Buffer): [bigint, bigint] | undefined {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? bytes[i] & 0x7f : bytes[i]);
  y = mod(y);
  const sign = bytes[31] >> 7;
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * modPow(v, 3n) * modPow(u * modPow(v, 7n), (P25519 - 5n) / 8n));
  if (mod(v * x * x) !== u) {
    if (mod(v * x * x) !== mod(-u)) return undefined;
    x = mod(x * modPow(2n, (P25519 - 1n) / 4n));
  }
  if (Number(x & 1n) !== sign) x = mod(-x);
  return [x, y];
}

function add([x1, y1]: [bigint, bigint], [x2, y2]: [bigint, bigint]): [bigint, bigint] {
  const t = mod(D * x1 * x2 * y1 * y2);
  return [mod((x1 * y2 + y1 * x2) * modPow(1n + t, P25519 - 2n)), mod((y1 * y2 + x1 * x2) * modPow(1n - t, P25519 - 2n))];
}

/** The order of the encoded point when it is at most 8, else undefined (computed, not looked up). */
export function smallOrder(bytes: Buffer): number | undefined {
  const p = decode(bytes);
  if (!p) return undefined;
  let q = p;
  for (let k = 1; k <= 8; k++) {
    if (q[0] === 0n && q[1] === 1n) return k;
    q = add(q, p);
  }
  return undefined;
}

/**
 * The y of the points of order 8, solved for, not copied: the order-4 points are (±sqrt(-1), 0), and P of
 * order 8 has [2]P among them, so y([2]P) = (y^2 + x^2)/(1 - d x^2 y^2) = 0: x^2 = -y^2, and the curve
 * equation -x^2 + y^2 = 1 + d x^2 y^2 becomes d y^4 + 2 y^2 - 1 = 0.
 */
export function order8Ys(): bigint[] {
  const disc = mod(4n + 4n * D); // b^2 - 4ac with a = d, b = 2, c = -1
  const roots: bigint[] = [];
  const s = sqrt(disc);
  if (s === undefined) return roots;
  for (const r of [s, mod(-s)]) {
    const y2 = mod((mod(-2n + r)) * modPow(mod(2n * D), P25519 - 2n));
    const y = sqrt(y2);
    if (y !== undefined) roots.push(y, mod(-y));
  }
  return roots;
}

function sqrt(a: bigint): bigint | undefined {
  let x = modPow(a, (P25519 + 3n) / 8n);
  if (mod(x * x) !== mod(a)) x = mod(x * modPow(2n, (P25519 - 1n) / 4n));
  return mod(x * x) === mod(a) ? x : undefined;
}
