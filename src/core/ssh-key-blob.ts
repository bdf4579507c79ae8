/**
 * SSH public keys as OpenSSH reads them: the wire-format key blob inside the base64 (RFC 4253 §6.6,
 * PROTOCOL.certkeys, PROTOCOL.u2f), its canonical encoding and fingerprint, and the safe echoing of
 * untrusted text in messages. Pure: no fs, no clock. node:crypto is used for SHA-256 and to check that
 * an ECDSA point lies on its curve (OpenSSH refuses keys whose point does not, so we do too).
 *
 * Error messages never echo key material or raw input: whatever the user wrote reaches a
 * message only through `excerpt`, which is short and printable-ASCII only.
 */
import * as crypto from 'node:crypto';
import { ECDH, createHash } from 'node:crypto';
import { ExitCode, InfraError } from '../lib/errors.js';

export type KeyFamily = 'ed25519' | 'ed25519-sk' | 'ecdsa' | 'ecdsa-sk' | 'rsa' | 'dsa';

export interface PublicKey {
  type: string; // e.g. ssh-ed25519, as in the line and inside the blob
  family: KeyFamily | 'certificate';
  /** The canonical encoding (as ssh-keygen would write it); a certificate's as written (it is signed). */
  base64: string;
  blob: Buffer;
  bits: number; // for a certificate: the certified key's size, as ssh-keygen prints it
  fingerprint: string; // SHA256:... ; for a certificate that of the certified key, as ssh-keygen prints
  comment: string; // as written (CR and surrounding blanks removed); use safeComment to render it
  /** For a certificate: the family of the key it certifies. */
  certifiedFamily?: KeyFamily;
  /** Set when the key data was written in a non-canonical encoding (padded mpints): what was written. `base64` and `blob` are canonical. */
  writtenBase64?: string;
}

export class KeyParseError extends InfraError {
  constructor(message: string, hint?: string) {
    super(ExitCode.invalid, message, { hint });
    this.name = 'KeyParseError';
  }
}

/**
 * What the internal parsers throw: a plain object, because an Error captures a stack trace, and
 * millions of junk lines (a 10 MB paste) would spend most of their time there. The exported
 * functions turn it into a KeyParseError.
 */
export class Refusal {
  constructor(
    readonly message: string,
    readonly hint?: string,
  ) {}
}

export function publicError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof Refusal) throw new KeyParseError(e.message, e.hint);
    throw e;
  }
}

export interface PlainType {
  family: KeyFamily;
  label: string; // ssh-keygen's name for the type, printed in parentheses
  curve?: 'nistp256' | 'nistp384' | 'nistp521';
}

export const PLAIN_TYPES: Record<string, PlainType> = {
  'ssh-ed25519': { family: 'ed25519', label: 'ED25519' },
  'sk-ssh-ed25519@openssh.com': { family: 'ed25519-sk', label: 'ED25519-SK' },
  'ecdsa-sha2-nistp256': { family: 'ecdsa', label: 'ECDSA', curve: 'nistp256' },
  'ecdsa-sha2-nistp384': { family: 'ecdsa', label: 'ECDSA', curve: 'nistp384' },
  'ecdsa-sha2-nistp521': { family: 'ecdsa', label: 'ECDSA', curve: 'nistp521' },
  'sk-ecdsa-sha2-nistp256@openssh.com': { family: 'ecdsa-sk', label: 'ECDSA-SK', curve: 'nistp256' },
  'ssh-rsa': { family: 'rsa', label: 'RSA' },
  'ssh-dss': { family: 'dsa', label: 'DSA' },
};

const CERT_SUFFIX = '-cert-v01@openssh.com';

export const KEY_TYPES: readonly string[] = Object.keys(PLAIN_TYPES);

const CERT_TYPES: ReadonlyMap<string, string> = new Map(
  KEY_TYPES.map((plain) => [`${plain.replace('@openssh.com', '')}${CERT_SUFFIX}`, plain] as const),
);
const ALL_TYPES: ReadonlySet<string> = new Set([...KEY_TYPES, ...CERT_TYPES.keys()]);

/** Certificate type name -> the plain type it certifies (ssh-ed25519-cert-v01@openssh.com -> ssh-ed25519). */
export function certifiedTypeOf(certType: string): string | undefined {
  return CERT_TYPES.get(certType);
}

export function isKnownKeyType(type: string): boolean {
  return ALL_TYPES.has(type);
}

/** `prime`: the field prime p (FIPS 186-4 D.1.2), as big-endian hex of the coordinate's length. */
export const CURVES = {
  nistp256: { openssl: 'prime256v1', pointBytes: 65, orderBits: 256, prime: 'ffffffff00000001000000000000000000000000ffffffffffffffffffffffff' },
  nistp384: {
    openssl: 'secp384r1',
    pointBytes: 97,
    orderBits: 384,
    prime: 'fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff',
  },
  nistp521: { openssl: 'secp521r1', pointBytes: 133, orderBits: 521, prime: '01' + 'ff'.repeat(65) },
} as const;

/** OpenSSH refuses larger moduli (SSHBUF_MAX_BIGNUM); the base64 cap keeps hostile input cheap. */
const MAX_BIGNUM_BITS = 16384;
const MAX_BASE64_CHARS = 64 * 1024;

export const HINT_RECOPY = 'copy the whole line of the .pub file again, e.g. the output of `cat ~/.ssh/id_ed25519.pub`';
export const HINT_NEW_KEY = 'generate a supported key with `ssh-keygen -t ed25519` and use its .pub file';
export const HINT_PRIVATE =
  'give the public key instead: the .pub file next to it, or what `ssh-keygen -y -f PRIVATE_KEY_FILE` prints; a private key that was pasted somewhere should be replaced';
export const HINT_RFC4716 = 'convert it to OpenSSH format with `ssh-keygen -i -f FILE` and use that line';

// ---------------------------------------------------------------------------------------------
// Safe echoing

/** A short, printable-ASCII rendering of untrusted text for error messages: no controls, quotes or backslashes. */
export function excerpt(text: string, max = 24): string {
  // Printable ASCII except the quote characters and backslash.
  const shown = text.slice(0, max).replace(/[^\x20\x21\x23-\x26\x28-\x5b\x5d-\x5f\x61-\x7e]/g, '?');
  return `"${shown}${text.length > max ? '...' : ''}"`;
}

/**
 * `^[A-Za-z0-9+/]+={0,2}$` as a loop: V8's regex engine can overflow its stack on a line of megabytes
 * (a hostile file), and this check runs on every line that is not a key.
 */
export function isBase64Line(text: string): boolean {
  let end = text.length;
  let pad = 0;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */ && pad < 2) {
    end--;
    pad++;
  }
  if (end === 0) return false;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const ok = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
    if (!ok) return false;
  }
  return true;
}

const HARMLESS_WORD_RE = /^[A-Za-z][A-Za-z-]{0,19}$/; // short, letters only: a word, not a token

/**
 * Describes an unparseable line without echoing what might be secret: a line that is not a key may be
 * a pasted token, a WireGuard `PrivateKey = ...` or a private key's body. Only a leading word that
 * looks like a name (no digits-and-symbols soup, no `=`) is shown.
 */
export function describeNonKey(text: string): string {
  if (text.length >= 16 && isBase64Line(text)) return 'a line of bare base64 (not shown: it may be part of a private key)';
  const first = text.trimStart().slice(0, 80).split(/\s+/)[0] ?? ''; // only the first word is shown: never split megabytes
  const shown = HARMLESS_WORD_RE.test(first) ? `starts with "${first}", ` : '';
  return `${shown}${text.length} characters (the rest is not shown: it may be secret)`;
}

/** What of a comment may appear in a rendered line: one line, no controls, no quotes or backslashes, single spaces. */
export function safeComment(comment: string): string {
  return comment
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Cn}"'`\\]/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim()
    .slice(0, 128)
    .trim();
}

// ---------------------------------------------------------------------------------------------
// Private keys

const OPENSSH_PRIVATE_BODY = 'b3BlbnNzaC1rZXktdjE'; // base64 of "openssh-key-v1", the body of every new-format private key

export function looksLikePrivateKey(text: string): boolean {
  return (
    (text.includes('PRIVATE KEY') && text.includes('-----BEGIN')) ||
    text.includes('PuTTY-User-Key-File-') ||
    text.includes('SSH PRIVATE KEY FILE FORMAT') ||
    text.includes(OPENSSH_PRIVATE_BODY)
  );
}

export function privateKeyError(): Refusal {
  return new Refusal('this is a private key, not a public key (its content is not shown)', HINT_PRIVATE);
}


// ---------------------------------------------------------------------------------------------
// The key blob (RFC 4253 §6.6, PROTOCOL.certkeys, PROTOCOL.u2f)

export type CurveName = 'nistp256' | 'nistp384' | 'nistp521';

/**
 * What a public key is, independent of how it was encoded: the fields sshd compares. Integers are
 * minimal big-endian magnitudes (no leading zero bytes). Two keys are the same key exactly when their
 * type and components are equal, which is when their canonical blobs are.
 */
export type KeyComponents =
  | { family: 'ed25519'; publicKey: Buffer }
  | { family: 'ed25519-sk'; publicKey: Buffer; application: string }
  | { family: 'ecdsa'; curve: CurveName; point: Buffer }
  | { family: 'ecdsa-sk'; curve: CurveName; point: Buffer; application: string }
  | { family: 'rsa'; e: Buffer; n: Buffer }
  | { family: 'dsa'; p: Buffer; q: Buffer; g: Buffer; y: Buffer };

/** OpenSSH's SSHBUF_MAX_BIGNUM: an mpint may take 2048 bytes, plus one zero byte for the sign. */
const MAX_MPINT_BYTES = MAX_BIGNUM_BITS / 8 + 1;
/** OpenSSH's SSH_RSA_MINIMUM_MODULUS_SIZE: sshd and ssh-keygen refuse smaller RSA keys outright. */
const MIN_RSA_BITS = 1024;

class BlobReader {
  private offset = 0;
  /** Set when an mpint carried leading zero bytes it does not need: the blob is then not canonical. */
  padded = false;
  constructor(private readonly buf: Buffer) {}

  get position(): number {
    return this.offset;
  }

  private truncated(what: string): Refusal {
    return new Refusal(`key data is truncated: ${what} is missing or cut short`, HINT_RECOPY);
  }

  uint32(what: string): number {
    if (this.buf.length - this.offset < 4) throw this.truncated(what);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  skip(bytes: number, what: string): void {
    if (this.buf.length - this.offset < bytes) throw this.truncated(what);
    this.offset += bytes;
  }

  string(what: string): Buffer {
    const len = this.uint32(what);
    if (len > this.buf.length - this.offset) throw this.truncated(what);
    const s = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return s;
  }

  /** A string that must not hold NUL, as OpenSSH's sshbuf_get_cstring. */
  cstring(what: string): string {
    const s = this.string(what);
    if (s.includes(0)) throw new Refusal(`key data is damaged: ${what} contains a NUL byte`, HINT_RECOPY);
    return s.toString('latin1');
  }

  /**
   * A non-negative mpint as OpenSSH's sshbuf_get_bignum2 reads it: negative refused, at most 2049 bytes
   * (so thousands of leading zeros are refused, as sshd refuses them), leading zeros dropped.
   * Returns the minimal magnitude.
   */
  mpint(what: string): Buffer {
    const s = this.string(what);
    if (s.length > 0 && (s[0] & 0x80) !== 0) throw new Refusal(`key data is damaged: ${what} is negative`, HINT_RECOPY);
    if (s.length > MAX_MPINT_BYTES || (s.length === MAX_MPINT_BYTES && s[0] !== 0)) {
      const bits = bitLength(s);
      const why = bits > MAX_BIGNUM_BITS ? `has ${bits} bits` : `is encoded in ${s.length} bytes (${s.length - Math.ceil(bits / 8)} of them leading zeros)`;
      throw new Refusal(`key data is damaged: ${what} ${why}, more than OpenSSH accepts (${MAX_BIGNUM_BITS} bits, ${MAX_MPINT_BYTES} bytes)`, HINT_NEW_KEY);
    }
    let i = 0;
    while (i < s.length && s[i] === 0) i++;
    const magnitude = s.subarray(i);
    // Canonical: no zero byte, except one before a magnitude whose high bit is set.
    const canonicalLength = magnitude.length + (magnitude.length > 0 && (magnitude[0] & 0x80) !== 0 ? 1 : 0);
    if (s.length !== canonicalLength) this.padded = true;
    return magnitude;
  }

  end(): void {
    const left = this.buf.length - this.offset;
    if (left !== 0) throw new Refusal(`key data is damaged: ${left} unexpected byte${left === 1 ? '' : 's'} after the key`, HINT_RECOPY);
  }
}

export function bitLength(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]));
}

function readEcPoint(r: BlobReader, curve: CurveName, typeName: string): Buffer {
  const curveName = r.cstring('the curve name');
  if (curveName !== curve) throw new Refusal(`key data is damaged: curve ${excerpt(curveName)} does not match type ${typeName}`, HINT_RECOPY);
  const spec = CURVES[curve];
  const q = r.string('the public point');
  // Only the uncompressed form, at the curve's exact length (OpenSSH's get_ec): one encoding per point.
  if (q.length !== spec.pointBytes || q[0] !== 0x04)
    throw new Refusal(`key data is damaged: the ${curve} public point is malformed (${q.length} bytes; an uncompressed ${curve} point has ${spec.pointBytes})`, HINT_RECOPY);
  // A coordinate >= p is another encoding of a smaller number: OpenSSL (and so sshd) refuses it; so do we,
  // without relying on the OpenSSL version node was built with.
  const half = (spec.pointBytes - 1) / 2;
  const x = q.subarray(1, 1 + half);
  const y = q.subarray(1 + half);
  const prime = Buffer.from(spec.prime, 'hex');
  if (x.compare(prime) >= 0 || y.compare(prime) >= 0) throw new Refusal(`key data is damaged: a coordinate of the ${curve} public point is not below the field prime`, HINT_RECOPY);
  try {
    ECDH.convertKey(q, spec.openssl, undefined, undefined, 'uncompressed');
  } catch {
    throw new Refusal(`key data is damaged: the public point is not on curve ${curve}`, HINT_RECOPY);
  }
  // OpenSSH (sshkey_ec_validate_public) also refuses coordinates shorter than half the order.
  if (bitLength(x) <= spec.orderBits / 2 || bitLength(y) <= spec.orderBits / 2) throw new Refusal(`key data is damaged: the ${curve} public point is invalid`, HINT_RECOPY);
  return q;
}

/** Reads the key fields of a plain type (everything after the type string, for certs after the nonce). */
function readKeyFields(r: BlobReader, typeName: string, info: PlainType): { bits: number; components: KeyComponents } {
  switch (info.family) {
    case 'ed25519':
    case 'ed25519-sk': {
      const publicKey = r.string('the ed25519 public key');
      if (publicKey.length !== 32) throw new Refusal(`key data is damaged: an ed25519 public key must be 32 bytes, not ${publicKey.length}`, HINT_RECOPY);
      if (info.family === 'ed25519') return { bits: 256, components: { family: 'ed25519', publicKey } };
      return { bits: 256, components: { family: 'ed25519-sk', publicKey, application: r.cstring('the security key application') } };
    }
    case 'ecdsa':
    case 'ecdsa-sk': {
      const curve = info.curve!;
      const point = readEcPoint(r, curve, typeName);
      const bits = CURVES[curve].orderBits;
      if (info.family === 'ecdsa') return { bits, components: { family: 'ecdsa', curve, point } };
      return { bits, components: { family: 'ecdsa-sk', curve, point, application: r.cstring('the security key application') } };
    }
    case 'rsa': {
      const e = r.mpint('the RSA exponent');
      const n = r.mpint('the RSA modulus');
      const bits = bitLength(n);
      if (bits < MIN_RSA_BITS) throw new Refusal(`an RSA key of ${bits} bits: OpenSSH refuses RSA keys under ${MIN_RSA_BITS} bits`, HINT_NEW_KEY);
      return { bits, components: { family: 'rsa', e, n } };
    }
    case 'dsa': {
      const p = r.mpint('the DSA prime p');
      const q = r.mpint('the DSA q');
      const g = r.mpint('the DSA g');
      const y = r.mpint('the DSA public value');
      return { bits: bitLength(p), components: { family: 'dsa', p, q, g, y } };
    }
  }
}

function sshString(body: Buffer): Buffer[] {
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(body.length);
  return [len, body];
}

const textBytes = (text: string) => Buffer.from(text, 'latin1');
const ZERO = Buffer.from([0]);

function sshMpint(magnitude: Buffer): Buffer[] {
  if (magnitude.length > 0 && (magnitude[0] & 0x80) !== 0) {
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(magnitude.length + 1);
    return [len, ZERO, magnitude];
  }
  return sshString(magnitude);
}

/** The canonical blob of a key, as ssh-keygen serialises it (sshkey_to_blob): minimal mpints, nothing extra. */
export function encodeKeyBlob(type: string, c: KeyComponents): Buffer {
  const parts: Buffer[] = sshString(textBytes(type));
  switch (c.family) {
    case 'ed25519':
      parts.push(...sshString(c.publicKey));
      break;
    case 'ed25519-sk':
      parts.push(...sshString(c.publicKey), ...sshString(textBytes(c.application)));
      break;
    case 'ecdsa':
      parts.push(...sshString(textBytes(c.curve)), ...sshString(c.point));
      break;
    case 'ecdsa-sk':
      parts.push(...sshString(textBytes(c.curve)), ...sshString(c.point), ...sshString(textBytes(c.application)));
      break;
    case 'rsa':
      parts.push(...sshMpint(c.e), ...sshMpint(c.n));
      break;
    case 'dsa':
      parts.push(...sshMpint(c.p), ...sshMpint(c.q), ...sshMpint(c.g), ...sshMpint(c.y));
      break;
  }
  return Buffer.concat(parts);
}

export interface ParsedBlob {
  type: string;
  family: KeyFamily | 'certificate';
  bits: number;
  components: KeyComponents; // for a certificate: the certified key's
  /** Set when the blob as written is not canonical (a plain key only: a certificate's bytes are signed). */
  canonicalBlob?: Buffer;
  certifiedFamily?: KeyFamily;
  certifiedBlob?: Buffer; // canonical
}

export function parseBlob(blob: Buffer, allowCertificate = true): ParsedBlob {
  const r = new BlobReader(blob);
  const type = r.cstring('the key type');
  const plain = Object.hasOwn(PLAIN_TYPES, type) ? PLAIN_TYPES[type] : undefined;
  if (plain) {
    const { bits, components } = readKeyFields(r, type, plain);
    r.end();
    return { type, family: plain.family, bits, components, ...(r.padded ? { canonicalBlob: encodeKeyBlob(type, components) } : {}) };
  }
  const certified = certifiedTypeOf(type);
  if (certified && allowCertificate) {
    const info = PLAIN_TYPES[certified];
    r.string('the certificate nonce');
    const { bits, components } = readKeyFields(r, certified, info);
    // ssh-keygen fingerprints a certificate by the key it certifies, serialised canonically.
    const certifiedBlob = encodeKeyBlob(certified, components);
    r.skip(8, 'the certificate serial');
    const certKind = r.uint32('the certificate type');
    if (certKind !== 1 && certKind !== 2) throw new Refusal('key data is damaged: unknown certificate type (neither user nor host)', HINT_RECOPY);
    r.cstring('the certificate key id');
    r.string('the certificate principals');
    r.skip(16, 'the certificate validity');
    r.string('the certificate critical options');
    r.string('the certificate extensions');
    r.string('the certificate reserved field');
    parseBlob(r.string('the certificate signature key'), false);
    r.string('the certificate signature');
    r.end();
    return { type, family: 'certificate', bits, components, certifiedFamily: info.family, certifiedBlob };
  }
  throw new Refusal(`unsupported key type ${excerpt(type, 40)} inside the key data`, HINT_NEW_KEY);
}

/** crypto.hash (Node >= 20.12) hashes in one call, without a Hash object per key; createHash otherwise. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'base64') => string }).hash;

export function fingerprintOf(blob: Buffer): string {
  const digest = oneShotHash ? oneShotHash('sha256', blob, 'base64') : createHash('sha256').update(blob).digest('base64');
  return `SHA256:${digest.slice(0, 43)}`; // 32 bytes: 43 characters and one "=" of padding
}

const BASE64_VALUE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

/** Strict base64 as OpenSSH's b64_pton: padded, canonical (the bits after the last byte are zero). */
export function decodeBase64(text: string): Buffer {
  if (text.length > MAX_BASE64_CHARS) throw new Refusal(`key data is too long (${text.length} characters); no SSH public key is that large`, HINT_RECOPY);
  if (text.length % 4 !== 0 || !isBase64Line(text)) throw new Refusal('key data is not valid base64: it is truncated or damaged', HINT_RECOPY);
  // Checking the unused bits of the last character is what re-encoding and comparing would do, without the copy.
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (pad > 0) {
    const last = BASE64_VALUE[text.charCodeAt(text.length - pad - 1)];
    if ((last & (pad === 2 ? 0x0f : 0x03)) !== 0) throw new Refusal('key data is not valid base64: it is damaged', HINT_RECOPY);
  }
  return Buffer.from(text, 'base64');
}

/** A key from its type name and base64, checking the type inside the blob is the one named. */
export function keyFromParts(type: string, base64: string, comment: string): PublicKey {
  const written = decodeBase64(base64);
  const parsed = parseBlob(written);
  if (parsed.type !== type)
    throw new Refusal(`key type mismatch: the line says ${excerpt(type, 40)} but the key data is ${excerpt(parsed.type, 40)}`, HINT_RECOPY);
  const blob = parsed.canonicalBlob ?? written;
  return {
    type,
    family: parsed.family,
    base64: parsed.canonicalBlob ? blob.toString('base64') : base64,
    blob,
    bits: parsed.bits,
    fingerprint: fingerprintOf(parsed.certifiedBlob ?? blob),
    comment,
    ...(parsed.canonicalBlob ? { writtenBase64: base64 } : {}),
    ...(parsed.certifiedFamily ? { certifiedFamily: parsed.certifiedFamily } : {}),
  };
}

/** The components of a key (of the certified key, for a certificate). */
export function keyComponents(key: Pick<PublicKey, 'blob'>): KeyComponents {
  return publicError(() => parseBlob(key.blob).components);
}

/**
 * The canonical base64 of a member key line (`type base64 [comment]`) without the cost of a full parse:
 * what "one key, one principal" compares. Only RSA and DSA keys (mpints) have more than one encoding;
 * the other types are fixed-length fields, so their valid encoding is the only one. Text that does not
 * parse comes back as written (validation reports it).
 */
export function canonicalKeyData(text: string): string {
  const s = text.trim();
  const typeEnd = s.search(/\s/);
  if (typeEnd < 0) return '';
  const rest = s.slice(typeEnd).trimStart();
  const dataEnd = rest.search(/\s/);
  const data = dataEnd < 0 ? rest : rest.slice(0, dataEnd);
  const type = s.slice(0, typeEnd);
  if (type !== 'ssh-rsa' && type !== 'ssh-dss') return data;
  try {
    const parsed = parseBlob(decodeBase64(data), false);
    return parsed.type === type && parsed.canonicalBlob ? parsed.canonicalBlob.toString('base64') : data;
  } catch (e) {
    if (e instanceof Refusal) return data;
    throw e;
  }
}
