/**
 * SSH public keys as OpenSSH reads them: authorized_keys lines (options, comments, CRLF),
 * the wire-format key blob inside the base64, fingerprints and the line `ssh-keygen -l` prints.
 * Pure: no fs, no clock. node:crypto is used for SHA-256 and to check that an ECDSA point lies
 * on its curve (OpenSSH refuses keys whose point does not, so we do too).
 *
 * Error messages never echo key material or raw input: whatever the user wrote reaches a
 * message only through `excerpt`, which is short and printable-ASCII only.
 */
import * as crypto from 'node:crypto';
import { ECDH, createHash } from 'node:crypto';
import { ExitCode, InfraError } from '../lib/errors.js';
import { isIpAddress, parseCidr } from './ip-alloc.js';
import type { SshPolicy } from './types.js';

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

export interface AuthorizedKeyLine extends PublicKey {
  options: string[]; // each option as written, e.g. from="10.0.0.0/8"
  certAuthority: boolean;
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
class Refusal {
  constructor(
    readonly message: string,
    readonly hint?: string,
  ) {}
}

function publicError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof Refusal) throw new KeyParseError(e.message, e.hint);
    throw e;
  }
}

interface PlainType {
  family: KeyFamily;
  label: string; // ssh-keygen's name for the type, printed in parentheses
  curve?: 'nistp256' | 'nistp384' | 'nistp521';
}

const PLAIN_TYPES: Record<string, PlainType> = {
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
function certifiedTypeOf(certType: string): string | undefined {
  return CERT_TYPES.get(certType);
}

export function isKnownKeyType(type: string): boolean {
  return ALL_TYPES.has(type);
}

const CURVES = {
  nistp256: { openssl: 'prime256v1', pointBytes: 65, orderBits: 256 },
  nistp384: { openssl: 'secp384r1', pointBytes: 97, orderBits: 384 },
  nistp521: { openssl: 'secp521r1', pointBytes: 133, orderBits: 521 },
} as const;

/** OpenSSH refuses larger moduli (SSHBUF_MAX_BIGNUM); the base64 cap keeps hostile input cheap. */
const MAX_BIGNUM_BITS = 16384;
const MAX_BASE64_CHARS = 64 * 1024;

const HINT_RECOPY = 'copy the whole line of the .pub file again, e.g. the output of `cat ~/.ssh/id_ed25519.pub`';
const HINT_NEW_KEY = 'generate a supported key with `ssh-keygen -t ed25519` and use its .pub file';
const HINT_PRIVATE =
  'give the public key instead: the .pub file next to it, or what `ssh-keygen -y -f PRIVATE_KEY_FILE` prints; a private key that was pasted somewhere should be replaced';
const HINT_RFC4716 = 'convert it to OpenSSH format with `ssh-keygen -i -f FILE` and use that line';

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
function isBase64Line(text: string): boolean {
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
function describeNonKey(text: string): string {
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

function privateKeyError(): Refusal {
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

function bitLength(bytes: Buffer): number {
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
  try {
    ECDH.convertKey(q, spec.openssl, undefined, undefined, 'uncompressed');
  } catch {
    throw new Refusal(`key data is damaged: the public point is not on curve ${curve}`, HINT_RECOPY);
  }
  // OpenSSH (sshkey_ec_validate_public) also refuses coordinates shorter than half the order.
  const half = (spec.pointBytes - 1) / 2;
  const x = q.subarray(1, 1 + half);
  const y = q.subarray(1 + half);
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

interface ParsedBlob {
  type: string;
  family: KeyFamily | 'certificate';
  bits: number;
  components: KeyComponents; // for a certificate: the certified key's
  /** Set when the blob as written is not canonical (a plain key only: a certificate's bytes are signed). */
  canonicalBlob?: Buffer;
  certifiedFamily?: KeyFamily;
  certifiedBlob?: Buffer; // canonical
}

function parseBlob(blob: Buffer, allowCertificate = true): ParsedBlob {
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
function decodeBase64(text: string): Buffer {
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
function keyFromParts(type: string, base64: string, comment: string): PublicKey {
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

// ---------------------------------------------------------------------------------------------
// authorized_keys lines (sshd(8) AUTHORIZED_KEYS FILE FORMAT; values checked as auth-options.c does)

/** Flags sshd knows (opt_flag); the negatable ones also take a `no-` prefix. cert-authority and restrict do not. */
const FLAG_OPTIONS = new Set(['cert-authority', 'restrict']);
const NEGATABLE_FLAGS = new Set(['agent-forwarding', 'port-forwarding', 'pty', 'user-rc', 'x11-forwarding', 'touch-required', 'verify-required']);
const VALUE_OPTIONS = new Set(['command', 'environment', 'expiry-time', 'from', 'permitlisten', 'permitopen', 'principals', 'tunnel']);
/** sshd refuses a second clause of these ("multiple \"command\" clauses"). */
const SINGLE_OPTIONS = new Set(['command', 'from', 'principals']);
/** auth-options.h: SSH_AUTHOPT_ENV_MAX, SSH_AUTHOPT_PERMIT_MAX. */
const ENV_MAX = 1024;
const PERMIT_MAX = 4096;
/** ssh.h: SSH_TUNID_MAX. */
const TUNID_MAX = 0x7fffffff - 2;
const NI_MAXHOST = 1025;

function isOptionName(name: string): boolean {
  const n = name.toLowerCase();
  return FLAG_OPTIONS.has(n) || VALUE_OPTIONS.has(n) || NEGATABLE_FLAGS.has(n) || (n.startsWith('no-') && NEGATABLE_FLAGS.has(n.slice(3)));
}

const isBlank = (c: string) => c === ' ' || c === '\t';

/** End of the token starting at `from`: the first unquoted blank (sshkey_advance_past_options; `\"` does not toggle quoting). */
function tokenEnd(line: string, from: number): { end: number; unterminatedQuote: boolean } {
  let quoted = false;
  let i = from;
  for (; i < line.length; i++) {
    const c = line[i];
    if (!quoted && isBlank(c)) break;
    if (c === '\\' && line[i + 1] === '"') i++;
    else if (c === '"') quoted = !quoted;
  }
  return { end: i, unterminatedQuote: quoted };
}

function skipBlanks(line: string, from: number): number {
  let i = from;
  while (i < line.length && isBlank(line[i])) i++;
  return i;
}

const HINT_OPTIONS = 'fix or remove the option: sshd ignores the whole line when one option is wrong (see "AUTHORIZED_KEYS FILE FORMAT" in `man sshd`)';

/** OpenBSD strtonum(s, min, max) in base 10: optional leading white space and sign, then digits only. */
function strtonum(s: string, min: number, max: number): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)0*(\d+)$/.exec(s);
  if (!m || m[2].length > 15) return undefined;
  const v = Number(m[2]) * (m[1] === '-' ? -1 : 1);
  return v < min || v > max ? undefined : v;
}

/** misc.c a2port, without service names (which depend on the host's /etc/services): a port 1-65535. */
function validPort(s: string): boolean {
  return (strtonum(s, 0, 65535) ?? 0) > 0;
}

/** misc.c parse_absolute_time: YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, optionally ending in Z or UTC. */
function validExpiryTime(value: string): boolean {
  let s = value;
  if (s.length > 1 && /z$/i.test(s)) s = s.slice(0, -1);
  else if (s.length > 3 && /utc$/i.test(s)) s = s.slice(0, -3);
  if (!/^\d+$/.test(s) || (s.length !== 8 && s.length !== 12 && s.length !== 14)) return false;
  const n = (from: number) => Number(s.slice(from, from + 2));
  const year = Number(s.slice(0, 4));
  // strptime's ranges (the day is not checked against the month: sshd accepts 20300231 as 3 March),
  // and a time before 1970 is refused (mktime < 0, or 0 which means "no expiry").
  return year >= 1970 && n(4) >= 1 && n(4) <= 12 && n(6) >= 1 && n(6) <= 31 && (s.length < 12 || (n(8) <= 23 && n(10) <= 59)) && (s.length < 14 || n(12) <= 60) && s !== '19700101';
}

/** auth-options.c handle_permit with misc.c hpdelim2: `host:port` (host may be [bracketed]), port a number or *. */
function permitProblem(value: string, allowBarePort: boolean): string | undefined {
  const opt = allowBarePort && !value.includes(':') ? `*:${value}` : value;
  let delim: number;
  if (opt.startsWith('[')) {
    const close = opt.indexOf(']');
    if (close < 0) return 'has an unclosed [ around the host';
    delim = close + 1;
  } else {
    const colon = opt.indexOf(':');
    const slash = opt.indexOf('/');
    delim = colon < 0 ? slash : slash < 0 ? colon : Math.min(colon, slash);
    if (delim < 0) delim = opt.length;
  }
  if (delim < opt.length && opt[delim] !== ':' && opt[delim] !== '/') return 'must be host:port (something follows the ] of the host)';
  if (delim >= NI_MAXHOST) return 'has a host name that is too long';
  if (delim === opt.length) return allowBarePort ? 'must be [host:]port' : 'must be host:port (the port is missing)';
  const port = opt.slice(delim + 1);
  if (port !== '*' && !validPort(port)) return 'must end in a port number (1-65535) or * (infra does not resolve service names)';
  return undefined;
}

/** What is wrong with one option's value, as sshauthopt_parse would refuse it; undefined when sshd accepts it. */
function optionValueProblem(name: string, value: string, seen: { env: Set<string>; permitopen: number; permitlisten: number }): string | undefined {
  switch (name) {
    case 'tunnel':
      return value.toLowerCase() === 'any' || strtonum(value, 0, TUNID_MAX) !== undefined ? undefined : `must be a tun device number (0-${TUNID_MAX}) or "any"`;
    case 'expiry-time':
      return validExpiryTime(value) ? undefined : 'must be a time YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS (optionally ending in Z or UTC), from 1970 on';
    case 'environment': {
      if (seen.env.size > ENV_MAX) return `more than ${ENV_MAX} environment options`;
      const eq = value.indexOf('=');
      if (eq < 0) return 'must be NAME=value';
      const envName = value.slice(0, eq);
      if (!/^[A-Za-z0-9_]+$/.test(envName)) return 'must be NAME=value with a NAME of letters, digits and _';
      seen.env.add(envName);
      return undefined;
    }
    case 'permitopen':
    case 'permitlisten': {
      if (seen[name] > PERMIT_MAX) return `more than ${PERMIT_MAX} ${name} options`;
      seen[name]++;
      return permitProblem(value, name === 'permitlisten');
    }
    case 'from':
      return fromProblem(value);
    default:
      return undefined; // command, principals: any text
  }
}

/**
 * from= is matched when a client connects (addrmatch.c addr_match_list); sshd then denies the key to
 * everyone when an entry is empty or is an address/prefix that is not a network. Refused here, so that
 * a reviewed line never silently locks its owner out.
 */
function fromProblem(value: string): string | undefined {
  for (const raw of value.split(',')) {
    const entry = raw.startsWith('!') ? raw.slice(1) : raw;
    if (entry === '') return 'has an empty entry (sshd then refuses the key from every address)';
    const slash = entry.indexOf('/');
    if (slash < 0 || entry.length >= 64) continue;
    const address = entry.slice(0, slash);
    const prefix = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > 128 || !isIpAddress(address)) continue; // sshd matches it as a host name pattern
    try {
      parseCidr(entry);
    } catch {
      return `has ${excerpt(entry, 48)}, which is not a network (prefix too long, or host bits set): sshd then refuses the key from every address`;
    }
  }
  return undefined;
}

/** The value of a quoted option as opt_dequote reads it: `\"` is a quote, every other character as is. */
function dequote(quoted: string): string {
  return quoted.includes('\\"') ? quoted.replace(/\\"/g, '"') : quoted;
}

/** Splits an options token as sshd's sshauthopt_parse would, returning each option's text as written. */
function parseOptions(token: string): { options: string[]; certAuthority: boolean } {
  const options: string[] = [];
  let certAuthority = false;
  const once = new Set<string>();
  const seen = { env: new Set<string>(), permitopen: 0, permitlisten: 0 };
  let i = 0;
  while (i < token.length) {
    const start = i;
    while (i < token.length && token[i] !== '=' && token[i] !== ',') i++;
    const name = token.slice(start, i);
    const lower = name.toLowerCase();
    if (!isOptionName(name)) throw new Refusal(`unsupported option ${excerpt(name)} (sshd ignores the whole line)`, 'see "AUTHORIZED_KEYS FILE FORMAT" in `man sshd` for the options sshd knows');
    if (token[i] === '=') {
      if (!VALUE_OPTIONS.has(lower)) throw new Refusal(`option ${lower} takes no value (sshd ignores the whole line)`, `write it as just \`${lower}\``);
      i++;
      if (token[i] !== '"') throw new Refusal(`option ${lower} needs a value in double quotes, e.g. ${lower}="..."`, 'quote the value: sshd ignores the whole line otherwise');
      i++;
      const valueStart = i;
      while (i < token.length && token[i] !== '"') i += token[i] === '\\' && token[i + 1] === '"' ? 2 : 1;
      if (i >= token.length) throw new Refusal(`option ${lower} has no closing quote`, 'close the quoted value: sshd ignores the whole line otherwise');
      const value = dequote(token.slice(valueStart, i));
      i++;
      if (SINGLE_OPTIONS.has(lower)) {
        if (once.has(lower)) throw new Refusal(`option ${lower} is given twice (sshd refuses multiple "${lower}" clauses and ignores the whole line)`, `keep one ${lower}="..."`);
        once.add(lower);
      }
      const problem = optionValueProblem(lower, value, seen);
      if (problem) throw new Refusal(`option ${lower}=${excerpt(value)} ${problem} (sshd ignores the whole line)`, HINT_OPTIONS);
    } else if (VALUE_OPTIONS.has(lower)) {
      throw new Refusal(`option ${lower} needs a value, e.g. ${lower}="..."`, 'give the option its value: sshd ignores the whole line otherwise');
    }
    options.push(token.slice(start, i));
    if (lower === 'cert-authority') certAuthority = true;
    if (i < token.length) {
      if (token[i] !== ',') throw new Refusal(`options must be separated by commas, found ${excerpt(token.slice(i, i + 8))}`, 'separate options with "," and no spaces outside quotes');
      i++;
      if (i === token.length) throw new Refusal('the options end with a comma', 'remove the trailing comma');
    }
  }
  return { options, certAuthority };
}

const TYPE_LIKE_RE = /^[A-Za-z0-9][A-Za-z0-9.@_-]*$/;

/** Normalises one line: drops a trailing CR and surrounding blanks; refuses what cannot be one line. */
function cleanLine(line: string): string | Refusal {
  let s = line;
  if (s.endsWith('\n')) s = s.slice(0, -1);
  if (s.endsWith('\r')) s = s.slice(0, -1);
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  if (s.includes('\n') || s.includes('\r')) return new Refusal('a key must be on one line: this text contains a line break', 'give one key per line');
  if (s.includes('\0')) return new Refusal('the line contains a NUL byte', HINT_RECOPY);
  // Loops, not /[ \t]+$/: that regex is quadratic on a long run of blanks followed by something else.
  let end = s.length;
  while (end > 0 && isBlank(s[end - 1])) end--;
  return s.slice(skipBlanks(s, 0), end);
}

export function parseAuthorizedKeyLine(line: string): AuthorizedKeyLine {
  return publicError(() => parseLine(line));
}

/** Line-level refusals are returned, not thrown: junk lines by the million must stay cheap. */
function parseLineOrRefusal(line: string): AuthorizedKeyLine | Refusal {
  if (looksLikePrivateKey(line)) return privateKeyError();
  const s = cleanLine(line);
  if (s instanceof Refusal) return s;
  if (s === '') return new Refusal('the line is empty', HINT_RECOPY);
  if (s.startsWith('---- BEGIN SSH2 PUBLIC KEY')) return new Refusal('this is an RFC 4716 (SSH2) public key, not OpenSSH format', HINT_RFC4716);

  const first = tokenEnd(s, 0);
  let firstToken = s.slice(0, first.end);
  let optionsToken = '';
  let typeStart = 0;
  let typeEnd = first.end;
  if (!isKnownKeyType(firstToken)) {
    const next = skipBlanks(s, first.end);
    const secondEnd = tokenEnd(s, next).end;
    const looksLikeType = s.startsWith('AAAA', next) && TYPE_LIKE_RE.test(firstToken) && !isOptionName(firstToken);
    if (looksLikeType) return new Refusal(`unsupported key type ${excerpt(firstToken, 40)}`, HINT_NEW_KEY);
    if (first.unterminatedQuote) return new Refusal('the options have an unterminated double quote', 'close the quoted option value');
    if (next >= s.length) return new Refusal(`not an SSH public key: ${describeNonKey(s)}`, HINT_RECOPY);
    optionsToken = firstToken;
    typeStart = next;
    typeEnd = secondEnd;
    firstToken = s.slice(typeStart, typeEnd);
    if (!isKnownKeyType(firstToken)) {
      if (TYPE_LIKE_RE.test(firstToken) && s.startsWith('AAAA', skipBlanks(s, typeEnd)))
        return new Refusal(`unsupported key type ${excerpt(firstToken, 40)}`, HINT_NEW_KEY);
      return new Refusal(`not an SSH public key: ${describeNonKey(s)}`, HINT_RECOPY);
    }
  }
  const type = firstToken;
  const dataStart = skipBlanks(s, typeEnd);
  if (dataStart >= s.length) return new Refusal(`the ${type} key has no key data after its type`, HINT_RECOPY);
  let dataEnd = dataStart;
  while (dataEnd < s.length && !isBlank(s[dataEnd])) dataEnd++;
  const comment = s.slice(skipBlanks(s, dataEnd));
  try {
    const key = keyFromParts(type, s.slice(dataStart, dataEnd), comment);
    const { options, certAuthority } = optionsToken ? parseOptions(optionsToken) : { options: [], certAuthority: false };
    return { ...key, options, certAuthority };
  } catch (e) {
    if (e instanceof Refusal) return e;
    throw e;
  }
}

function parseLine(line: string): AuthorizedKeyLine {
  const parsed = parseLineOrRefusal(line);
  if (parsed instanceof Refusal) throw parsed;
  return parsed;
}

/** One member key: `type base64 [comment]`, no options, no certificate. */
export function parsePublicKey(text: string): PublicKey {
  return publicError(() => parseMemberKey(text));
}

function parseMemberKeyOrRefusal(text: string): PublicKey | Refusal {
  const parsed = parseLineOrRefusal(text);
  if (parsed instanceof Refusal) return parsed;
  if (parsed.options.length > 0)
    return new Refusal('a member key is just `type base64 [comment]`: authorized_keys options are not allowed here', 'remove the options before the key type; infra adds from= and expiry-time itself');
  if (parsed.family === 'certificate')
    return new Refusal(`a certificate (${parsed.type}) is not a member key`, 'add the plain public key (e.g. id_ed25519.pub), not the certificate (id_ed25519-cert.pub)');
  const { options: _o, certAuthority: _c, ...key } = parsed;
  return key;
}

function parseMemberKey(text: string): PublicKey {
  const parsed = parseMemberKeyOrRefusal(text);
  if (parsed instanceof Refusal) throw parsed;
  return parsed;
}

/** Two keys are the same key when their blobs are (comments and options do not matter). */
export function sameKey(a: PublicKey, b: PublicKey): boolean {
  return a.blob.equals(b.blob);
}

// ---------------------------------------------------------------------------------------------
// What ssh-keygen -l prints

/** ssh-keygen's name for the type: ED25519, ED25519-SK, ECDSA, ECDSA-SK, RSA, DSA, with -CERT for certificates. */
export function sshKeygenTypeName(k: Pick<PublicKey, 'type'>): string {
  const plain = Object.hasOwn(PLAIN_TYPES, k.type) ? PLAIN_TYPES[k.type] : undefined;
  if (plain) return plain.label;
  const certified = certifiedTypeOf(k.type);
  return certified ? `${PLAIN_TYPES[certified].label}-CERT` : 'unknown';
}

const NOT_PRINTABLE_RE = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}\p{Cn}]/u;

/**
 * The comment as ssh-keygen's mprintf shows it in a UTF-8 locale: printable characters as they are,
 * tab/CR kept, every other byte as a three-digit octal escape (\033); a NUL ends the comment.
 */
function sshKeygenVis(comment: string): string {
  const nul = comment.indexOf('\0');
  const text = nul >= 0 ? comment.slice(0, nul) : comment;
  let out = '';
  for (const ch of text) {
    if (ch === '\t' || ch === '\r' || ch === '\n' || !NOT_PRINTABLE_RE.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return out;
}

/** Exactly the line `ssh-keygen -lf` prints for the key, e.g. `256 SHA256:... alice@laptop (ED25519)`. */
export function sshKeygenLine(k: Pick<PublicKey, 'bits' | 'fingerprint' | 'comment' | 'type'>): string {
  const comment = sshKeygenVis(k.comment);
  return `${k.bits} ${k.fingerprint} ${comment === '' ? 'no comment' : comment} (${sshKeygenTypeName(k)})`;
}

// ---------------------------------------------------------------------------------------------
// Policy

export function policyProblems(k: Pick<PublicKey, 'family' | 'type' | 'bits'>, policy: SshPolicy): string[] {
  if (k.family === 'certificate') return [`a certificate (${k.type}) is not a member key`];
  if (k.family === 'dsa') return ['ssh-dss (DSA) keys are never allowed: they are limited to 1024 bits and OpenSSH has dropped them'];
  const problems: string[] = [];
  if (!policy.allowed_types.includes(k.family))
    problems.push(`key type ${k.family} (${k.type}) is not allowed by policy (allowed: ${policy.allowed_types.join(', ') || 'none'})`);
  if (k.family === 'rsa' && k.bits < policy.min_rsa_bits) problems.push(`RSA key of ${k.bits} bits is below the policy minimum of ${policy.min_rsa_bits} bits`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Whole files

export interface KeysCheckReport {
  keys: Array<{ line: number; type: string; bits: number; fingerprint: string; comment: string; options: string[]; ok: boolean; problems: string[] }>;
  errors: Array<{ line: number; problem: string }>;
}

type Block = { kind: 'private' | 'rfc4716'; start: number };

const BLOCK_PROBLEM = {
  private: { what: 'a private key, not a public key (its content is not shown)', hint: HINT_PRIVATE },
  rfc4716: { what: 'an RFC 4716 (SSH2) public key, not OpenSSH format', hint: HINT_RFC4716 },
} as const;

function blockEnds(kind: Block['kind'], line: string): boolean {
  return kind === 'private' ? line.includes('-----END') || line.startsWith('Private-MAC:') : line.includes('---- END SSH2 PUBLIC KEY');
}

type KeyLineItem = { line: number; text: string } | { line: number; problem: string; hint: string };

/**
 * Walks the non-blank, non-# lines of a text, folding multi-line blocks (a pasted private key,
 * an RFC 4716 public key) into one problem so that their lines are never parsed or echoed one by one.
 */
function eachKeyLine(text: string, visit: (item: KeyLineItem) => void): void {
  const lines = text.split('\n');
  let block: Block | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const lineNo = i + 1;
    if (!block) {
      let at = 0;
      while (at < raw.length && (raw[at] === ' ' || raw[at] === '\t' || raw[at] === '\uFEFF')) at++;
      if (at === raw.length || raw[at] === '#') continue;
      if (raw.charCodeAt(at) <= 0x20 && raw.trim() === '') continue; // e.g. a lone CR of a CRLF blank line
      if ((raw.startsWith('-----BEGIN', at) && raw.includes('PRIVATE KEY')) || raw.startsWith('PuTTY-User-Key-File-', at)) block = { kind: 'private', start: lineNo };
      else if (raw.startsWith('---- BEGIN SSH2 PUBLIC KEY', at)) block = { kind: 'rfc4716', start: lineNo };
      else {
        visit({ line: lineNo, text: raw });
        continue;
      }
      // A block pasted onto one line (its newlines lost) ends where it starts.
      const afterBegin = raw.slice(raw.indexOf('BEGIN') + 5);
      if (!blockEnds(block.kind, afterBegin) && i < lines.length - 1) continue;
    } else if (startsWithKeyType(raw)) {
      // A block whose end line is missing stops at the next public key: that line is parsed as usual.
      visitBlock(block, lineNo - 1);
      block = undefined;
      i--;
      continue;
    } else if (!blockEnds(block.kind, raw) && i < lines.length - 1) continue;
    visitBlock(block, lineNo);
    block = undefined;
  }

  function visitBlock(b: Block, last: number): void {
    const span = b.start === last ? `line ${last}` : `lines ${b.start}-${last}`;
    visit({ line: b.start, problem: `${span}: ${BLOCK_PROBLEM[b.kind].what}`, hint: BLOCK_PROBLEM[b.kind].hint });
  }
}

function startsWithKeyType(line: string): boolean {
  const start = skipBlanks(line, 0);
  let end = start;
  while (end < line.length && !isBlank(line[end])) end++;
  return end > start && isKnownKeyType(line.slice(start, end));
}

export function checkAuthorizedKeys(text: string, policy: SshPolicy, opts: { maxErrors?: number } = {}): KeysCheckReport {
  const maxErrors = opts.maxErrors ?? 1000;
  const report: KeysCheckReport = { keys: [], errors: [] };
  let omitted = 0;
  let firstOmitted = 0;
  const addError = (line: number, problem: string) => {
    if (report.errors.length < maxErrors) report.errors.push({ line, problem });
    else if (omitted++ === 0) firstOmitted = line;
  };
  eachKeyLine(text, (item) => {
    if ('problem' in item) return addError(item.line, item.problem);
    const k = parseLineOrRefusal(item.text);
    if (k instanceof Refusal) return addError(item.line, k.message);
    const problems = policyProblems(k, policy);
    report.keys.push({ line: item.line, type: k.type, bits: k.bits, fingerprint: k.fingerprint, comment: k.comment, options: k.options, ok: problems.length === 0, problems });
  });
  if (omitted > 0) report.errors.push({ line: firstOmitted, problem: `${omitted} more line${omitted === 1 ? '' : 's'} from here on are not keys (not listed)` });
  return report;
}

/** A .pub file or lines pasted into `infra keys add`: each key line parsed as a member key. */
export function splitKeyText(text: string): Array<{ line: number; key?: PublicKey; problem?: string; hint?: string }> {
  const out: Array<{ line: number; key?: PublicKey; problem?: string; hint?: string }> = [];
  eachKeyLine(text, (item) => {
    if ('problem' in item) return void out.push({ line: item.line, problem: item.problem, hint: item.hint });
    const key = parseMemberKeyOrRefusal(item.text);
    if (key instanceof Refusal) out.push({ line: item.line, problem: key.message, ...(key.hint ? { hint: key.hint } : {}) });
    else out.push({ line: item.line, key });
  });
  return out;
}
