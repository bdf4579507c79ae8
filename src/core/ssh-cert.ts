/**
 * OpenSSH user certificates (PROTOCOL.certkeys) signed by an Ed25519 CA, encoded and signed here with
 * node:crypto. Pure: the nonce and the CA's private key come in as arguments; Ed25519 signatures are
 * deterministic, so the same input gives the same certificate.
 *
 * A certificate is the certified key's fields wrapped with a nonce, serial, type, key id, principals,
 * validity, critical options and extensions, then the CA's public key and its signature over all of it.
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { ExitCode, InfraError } from '../lib/errors.js';
import type { PublicKey } from './ssh-key.js';

/** The extensions OpenSSH's ssh-keygen grants by default, which sshd understands. */
export const DEFAULT_EXTENSIONS = ['permit-X11-forwarding', 'permit-agent-forwarding', 'permit-port-forwarding', 'permit-pty', 'permit-user-rc'] as const;
export type CertExtension = (typeof DEFAULT_EXTENSIONS)[number];

/** Certificate type names, by the plain key type they certify (PROTOCOL.certkeys, PROTOCOL.u2f). */
const CERT_TYPES: Readonly<Record<string, string>> = {
  'ssh-ed25519': 'ssh-ed25519-cert-v01@openssh.com',
  'ssh-rsa': 'ssh-rsa-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256': 'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384': 'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521': 'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'sk-ssh-ed25519@openssh.com': 'sk-ssh-ed25519-cert-v01@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com': 'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com',
};

export const SSH_CERT_USER = 1;

/** An SSH wire-format string: 4-byte big-endian length, then the bytes. */
export function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

export function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export function uint64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** The certificate type for a plain key type; undefined for a type that has none (DSA is never certified). */
export function certTypeFor(keyType: string): string | undefined {
  return Object.hasOwn(CERT_TYPES, keyType) ? CERT_TYPES[keyType] : undefined;
}

/** The Ed25519 CA as node:crypto keys and its SSH public blob. */
export interface Ed25519Ca {
  privateKey: KeyObject;
  /** `string "ssh-ed25519" string pk(32)` */
  publicBlob: Buffer;
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A CA from its 32-byte Ed25519 seed. */
export function caFromSeed(seed: Buffer): Ed25519Ca {
  if (seed.length !== 32) throw new InfraError(ExitCode.invalid, 'the CA private key is damaged (an Ed25519 seed is 32 bytes)');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const raw = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32);
  return { privateKey, publicBlob: Buffer.concat([sshString('ssh-ed25519'), sshString(raw)]) };
}

export interface CertificateInput {
  /** The certified key (a member's registered key, parsed). */
  key: Pick<PublicKey, 'type' | 'blob'>;
  serial: number;
  keyId: string;
  principals: readonly string[];
  /** Seconds since the epoch. */
  validAfter: number;
  validBefore: number;
  extensions: readonly string[];
  /** 32 random bytes (PROTOCOL.certkeys: makes chosen-prefix attacks on the signature impractical). */
  nonce: Buffer;
}

/** The certificate blob, signed by `ca`. */
export function encodeCertificate(input: CertificateInput, ca: Ed25519Ca): Buffer {
  const certType = certTypeFor(input.key.type);
  if (!certType) throw new InfraError(ExitCode.invalid, `a ${input.key.type} key cannot be certified`, { hint: 'sign an Ed25519, ECDSA, RSA or security-key key' });
  if (!Number.isSafeInteger(input.serial) || input.serial < 1) throw new InfraError(ExitCode.invalid, `certificate serial ${input.serial} is not a positive integer`);
  if (!(input.validAfter < input.validBefore)) throw new InfraError(ExitCode.invalid, 'the certificate window ends before it starts');
  // The certified key's fields are the plain blob without its type string.
  const typeLen = input.key.blob.readUInt32BE(0);
  const keyFields = input.key.blob.subarray(4 + typeLen);
  // Extensions are sorted by name, each with empty data (flags), as sshd requires.
  const extensions = [...new Set(input.extensions)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const body = Buffer.concat([
    sshString(certType),
    sshString(input.nonce),
    keyFields,
    uint64(input.serial),
    uint32(SSH_CERT_USER),
    sshString(input.keyId),
    sshString(Buffer.concat(input.principals.map((p) => sshString(p)))),
    uint64(input.validAfter),
    uint64(input.validBefore),
    sshString(Buffer.alloc(0)), // critical options: none (from= lives in the principals file)
    sshString(Buffer.concat(extensions.flatMap((e) => [sshString(e), sshString(Buffer.alloc(0))]))),
    sshString(Buffer.alloc(0)), // reserved
    sshString(ca.publicBlob),
  ]);
  const signature = cryptoSign(null, body, ca.privateKey);
  return Buffer.concat([body, sshString(Buffer.concat([sshString('ssh-ed25519'), sshString(signature)]))]);
}

/** The `-cert.pub` line: `<cert type> <base64> <comment>`. */
export function certificateLine(blob: Buffer, comment: string): string {
  const typeLen = blob.readUInt32BE(0);
  const type = blob.subarray(4, 4 + typeLen).toString('latin1');
  return `${type} ${blob.toString('base64')} ${comment}`;
}
