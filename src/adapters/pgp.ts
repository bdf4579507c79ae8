/** OpenPGP (openpgp.js, imported lazily): reading members' public keys. */
import { ExitCode, InfraError } from '../lib/errors.js';
import { certificateProblem, chooseCertificate } from './pgp-certs.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface PgpKeyInfo {
  fingerprint: string;
  userIds: string[];
  armored: string;
  canEncrypt: boolean;
  /** Why it cannot encrypt, named (revoked, expired, an algorithm or size refused, no encryption subkey). */
  encryptProblem?: string;
  /** Other certificates of the file passed over, with why (a file of several: the usable one is kept, as gpg picks it). */
  skipped?: string[];
}

/** Accepts an armored or binary public key (as `gpg --export [--armor]` writes it). A private key is refused without echoing it. */
export async function readPublicKey(data: Uint8Array, file: string): Promise<PgpKeyInfo> {
  const openpgp = await import('openpgp');
  const text = Buffer.from(data).toString('utf8');
  if (/PGP PRIVATE KEY BLOCK-----/.test(text)) // the armor header of a secret key
    throw new InfraError(ExitCode.invalid, `${file}: this is a PRIVATE key; infra only takes public keys (nothing of it was stored or printed)`, {
      hint: 'export the public half: gpg --export --armor YOUR@EMAIL > pub.asc',
    });
  let keys;
  try {
    keys = text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----') ? await openpgp.readKeys({ armoredKeys: text }) : await openpgp.readKeys({ binaryKeys: data });
  } catch (e) {
    throw new InfraError(ExitCode.invalid, `${file}: not an OpenPGP public key (${(e as Error).message.split('\n')[0]})`, {
      hint: 'export it with: gpg --export --armor YOUR@EMAIL > pub.asc',
    });
  }
  if (keys.some((k) => k.isPrivate()))
    throw new InfraError(ExitCode.invalid, `${file}: this is a PRIVATE key; infra only takes public keys (nothing of it was stored or printed)`, {
      hint: 'export the public half: gpg --export --armor YOUR@EMAIL > pub.asc',
    });
  const now = new Date();
  if (keys.length > 1) {
    // several certificates (gpg --export of a user id with two keys): keep the one that can encrypt, as gpg picks it
    const choice = await chooseCertificate(keys, now);
    if (choice.key) return info(choice.key, undefined, choice.skipped);
    const usable = (await Promise.all(keys.map(async (k) => ((await certificateProblem(k, now)) ? undefined : k.getFingerprint().toUpperCase())))).filter(Boolean);
    if (usable.length > 1)
      throw new InfraError(ExitCode.invalid, `${file}: holds ${usable.length} certificates that can encrypt (${usable.join(', ')}); infra keeps one key per person`, {
        hint: `export only yours: gpg --export --armor ${shellQuote(usable[0]!)} > pub.asc`,
      });
    return info(keys[0], choice.problem);
  }
  return info(keys[0], await certificateProblem(keys[0], now));
}

function info(key: import('openpgp').Key, encryptProblem: string | undefined, skipped: string[] = []): PgpKeyInfo {
  return {
    fingerprint: key.getFingerprint().toUpperCase(),
    userIds: key.getUserIDs(),
    armored: key.armor(),
    canEncrypt: !encryptProblem,
    ...(encryptProblem ? { encryptProblem } : {}),
    ...(skipped.length ? { skipped } : {}),
  };
}
