/**
 * OpenPGP certificates as GnuPG reads them (openpgp.js, imported lazily): a file may hold several
 * certificates (`gpg --export --armor USER` of a user id with two keys), and the one to encrypt to is
 * the one that can encrypt now, as gpg picks it; a key the library cannot encrypt to is refused with
 * the real reason (its algorithm, curve or size), not a guess. See docs/reference.md "OpenPGP keys".
 */
import type { Key, PrivateKey } from 'openpgp';

type OpenPgp = typeof import('openpgp');

/** Curves openpgp.js encrypts to and verifies with the modules infra ships (brainpool and secp256k1 need an extra module). */
const SUPPORTED_CURVES = new Set(['curve25519', 'curve25519Legacy', 'ed25519', 'ed25519Legacy', 'x25519', 'x448', 'ed448', 'nistP256', 'nistP384', 'nistP521', 'p256', 'p384', 'p521']);
const MIN_RSA_BITS = 2047; // openpgp.js's config.minRSABits: what it refuses to use as too weak

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];
const upper = (s: string) => s.toUpperCase();

export interface CertificateChoice {
  key?: Key;
  /** Why no certificate of the file can take a message (absent when `key` is set). */
  problem?: string;
  /** Other certificates in the file that were passed over, with why (a note for the user). */
  skipped: string[];
}

/** Every certificate of an armored or binary key file (public or private); [] when none parses. */
export async function readCertificates(openpgp: OpenPgp, data: string | Uint8Array): Promise<Key[]> {
  try {
    return typeof data === 'string' ? await openpgp.readKeys({ armoredKeys: data }) : await openpgp.readKeys({ binaryKeys: data });
  } catch {
    return [];
  }
}

/** The algorithm of one (sub)key, named as gpg lists it: rsa1024, dsa2048, elg2048, brainpoolP256r1, cv25519. */
function algorithmName(info: { algorithm: string; bits?: number; curve?: string }): string {
  if (info.curve) return info.curve === 'curve25519Legacy' ? 'cv25519' : info.curve === 'ed25519Legacy' ? 'ed25519' : info.curve;
  const short: Record<string, string> = { rsaEncryptSign: 'rsa', rsaEncrypt: 'rsa', rsaSign: 'rsa', dsa: 'dsa', elgamal: 'elg' };
  return `${short[info.algorithm] ?? info.algorithm}${info.bits ?? ''}`;
}

/** Why the library will not use this (sub)key, when the reason is its algorithm, curve or size. */
function algorithmProblem(info: { algorithm: string; bits?: number; curve?: string }, role: string): string | undefined {
  const name = algorithmName(info);
  if (info.curve && !SUPPORTED_CURVES.has(info.curve)) return `its ${role} uses the curve ${name}, which infra cannot encrypt to (accepted: cv25519/ed25519, NIST P-256/384/521, RSA of 2048 bits or more)`;
  if (info.algorithm.startsWith('rsa') && info.bits !== undefined && info.bits < MIN_RSA_BITS) return `its ${role} is ${name}: RSA below 2048 bits is refused as too weak`;
  if (info.algorithm === 'dsa') return `its ${role} is ${name}: DSA is refused as too weak (and its ElGamal encryption subkey with it)`;
  if (info.algorithm === 'elgamal') return `its ${role} is ${name}: ElGamal encryption is not accepted`;
  return undefined;
}

/** Why this one certificate cannot take a message now, or undefined when it can. */
export async function certificateProblem(key: Key, now: Date): Promise<string | undefined> {
  const fingerprint = upper(key.getFingerprint());
  if (await key.isRevoked(undefined, undefined, now).catch(() => false)) return `key ${fingerprint} is revoked`;
  const primary = algorithmProblem(key.getAlgorithmInfo(), 'primary key');
  if (primary) return `key ${fingerprint}: ${primary}`;
  const expires = await key.getExpirationTime().catch(() => null);
  if (expires instanceof Date && expires.getTime() <= now.getTime()) return `key ${fingerprint} expired on ${expires.toISOString().slice(0, 10)}`;
  try {
    await key.getEncryptionKey(undefined, now);
    return undefined;
  } catch (e) {
    const sub = key.getSubkeys().map((s) => algorithmProblem(s.getAlgorithmInfo(), `subkey ${upper(s.getKeyID().toHex())}`)).find(Boolean);
    if (sub) return `key ${fingerprint}: ${sub}`;
    return `key ${fingerprint} has no usable encryption subkey (${firstLine(e)})`;
  }
}

/**
 * The certificate of a file to encrypt to, as gpg picks one: the one that can encrypt now. Several that
 * can is ambiguous (two people's keys, or an old and a new one both valid): refused with every fingerprint.
 */
export async function chooseCertificate(keys: readonly Key[], now: Date): Promise<CertificateChoice> {
  if (!keys.length) return { problem: 'holds no OpenPGP certificate', skipped: [] };
  const judged = await Promise.all(keys.map(async (key) => ({ key, problem: await certificateProblem(key, now) })));
  const usable = judged.filter((j) => !j.problem);
  const skipped = judged.filter((j) => j.problem).map((j) => j.problem!);
  if (usable.length === 1) return { key: usable[0].key, skipped };
  if (usable.length > 1)
    return {
      problem: `holds ${usable.length} certificates that can encrypt (${usable.map((u) => upper(u.key.getFingerprint())).join(', ')}): keep only the admin's own (gpg --export --armor FINGERPRINT)`,
      skipped,
    };
  return { problem: skipped.join('; '), skipped: [] };
}

/** One certificate's identity: its fingerprint and the key ids of its primary key and every subkey (what a message's recipients name). */
export interface CertificateIds {
  fingerprint: string;
  keyIds: string[];
}

export function certificateIds(key: Key): CertificateIds {
  return { fingerprint: upper(key.getFingerprint()), keyIds: key.getKeys().map((k) => upper(k.getKeyID().toHex())) };
}

/** Every certificate's ids in an armored key file; [] when nothing parses (the registry check reports that file). */
export async function certificateIdsIn(armored: string): Promise<CertificateIds[]> {
  const openpgp = await import('openpgp');
  return (await readCertificates(openpgp, armored)).map(certificateIds);
}

/** Every private key of a file (`gpg --export-secret-keys --armor USER` may give several). */
export async function readPrivateKeys(openpgp: OpenPgp, armored: string): Promise<PrivateKey[]> {
  return openpgp.readPrivateKeys({ armoredKeys: armored });
}
