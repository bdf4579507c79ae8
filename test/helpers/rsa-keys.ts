/**
 * Real RSA public keys without the cost of making them. Generating a 3072- or 4096-bit key takes from a
 * tenth of a second to seconds of CPU, and the unit tests made dozens per run. test/fixtures/rsa-public-keys.json
 * holds real keys made once with node:crypto's generateKeyPairSync (public halves only: no private key was kept).
 * Each call hands out the next key of that size in this test file, so keys stay distinct as fresh ones were for the
 * first 24 (2048 bits), 12 (3072) or 4 (4096) calls; after that they come round again (a registry holding the same
 * key twice fails validation loudly, never silently). A size the fixture lacks makes a fresh key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

type Jwk = { e: string; n: string };
const FIXTURE = JSON.parse(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/rsa-public-keys.json'), 'utf8')) as Record<string, Jwk[]>;
const handedOut = new Map<number, number>();

/** The exponent and modulus (big-endian, no sign byte) of a real RSA public key of `bits`: the fixture's next one. */
export function rsaPublicParts(bits: number): { e: Buffer; n: Buffer } {
  const i = handedOut.get(bits) ?? 0;
  handedOut.set(bits, i + 1);
  const pool = FIXTURE[String(bits)];
  const jwk = pool ? pool[i % pool.length] : (generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' }) as Jwk);
  return { e: Buffer.from(jwk.e, 'base64url'), n: Buffer.from(jwk.n, 'base64url') };
}
