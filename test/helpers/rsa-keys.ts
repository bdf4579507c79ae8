/**
 * Real RSA public keys without the cost of making them. Generating a 3072- or 4096-bit key takes from a
 * tenth of a second to seconds of CPU, and the unit tests made dozens per run. test/fixtures/rsa-public-keys.json
 * holds real keys made once with node:crypto's generateKeyPairSync (public halves only: no private key was kept).
 * Each call hands out the next key of that size not yet handed out in this test file, so keys stay distinct as
 * fresh ones were; a size the fixture lacks, or more calls than it holds, makes a fresh key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

type Jwk = { e: string; n: string };
const FIXTURE = JSON.parse(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/rsa-public-keys.json'), 'utf8')) as Record<string, Jwk[]>;
const handedOut = new Map<number, number>();

/** The exponent and modulus (big-endian, no sign byte) of a real RSA public key of `bits`, distinct from every earlier call's. */
export function rsaPublicParts(bits: number): { e: Buffer; n: Buffer } {
  const i = handedOut.get(bits) ?? 0;
  handedOut.set(bits, i + 1);
  const jwk = FIXTURE[String(bits)]?.[i] ?? (generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' }) as Jwk);
  return { e: Buffer.from(jwk.e, 'base64url'), n: Buffer.from(jwk.n, 'base64url') };
}
