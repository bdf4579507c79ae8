/** Real public keys for tests, made with node:crypto and encoded in SSH wire format by hand (independent of src/). */
import { generateKeyPairSync } from 'node:crypto';
import { rsaPublicParts } from './rsa-keys.js';

/** An SSH wire-format string: a 4-byte big-endian length, then the bytes. */
export const sshString = (b: Buffer | string) => {
  const body = Buffer.isBuffer(b) ? b : Buffer.from(b);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
};
const mpint = (b: Buffer) => sshString(b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);

/** An ECDSA key line made from node:crypto (curve as OpenSSH names it). */
export function ecdsaLine(curve: 'nistp256' | 'nistp521', comment: string): string {
  const jwk = generateKeyPairSync('ec', { namedCurve: curve === 'nistp256' ? 'P-256' : 'P-521' }).publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  const type = `ecdsa-sha2-${curve}`;
  return `${type} ${Buffer.concat([sshString(type), sshString(curve), sshString(point)]).toString('base64')} ${comment}`;
}

export function ed25519Line(comment = ''): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const blob = Buffer.concat([sshString('ssh-ed25519'), sshString(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
}

/** A real RSA key line of `bits` (a fixture key, distinct from the file's earlier ones: test/helpers/rsa-keys.ts). */
export function rsaLine(bits: number, comment = ''): string {
  const { e, n } = rsaPublicParts(bits);
  const blob = Buffer.concat([sshString('ssh-rsa'), mpint(e), mpint(n)]);
  return `ssh-rsa ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
}

export const FAKE_PRIVATE_KEY = [
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  'QyNTUxOQAAACBTRUNSRVRTRUNSRVRTRUNSRVRTRUNSRVRTRUNSRVQAAAAA',
  '-----END OPENSSH PRIVATE KEY-----',
].join('\n');
