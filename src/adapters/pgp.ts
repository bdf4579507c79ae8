/** OpenPGP (openpgp.js, imported lazily): reading members' public keys. */
import { ExitCode, InfraError } from '../lib/errors.js';

export interface PgpKeyInfo {
  fingerprint: string;
  userIds: string[];
  armored: string;
  canEncrypt: boolean;
}

/** Accepts an armored or binary public key (as `gpg --export [--armor]` writes it). A private key is refused without echoing it. */
export async function readPublicKey(data: Uint8Array, file: string): Promise<PgpKeyInfo> {
  const openpgp = await import('openpgp');
  const text = Buffer.from(data).toString('utf8');
  if (/PGP PRIVATE KEY BLOCK-----/.test(text)) // the armor header of a secret key
    throw new InfraError(ExitCode.invalid, `${file}: this is a PRIVATE key; infra only takes public keys (nothing of it was stored or printed)`, {
      hint: 'export the public half: gpg --export --armor YOUR@EMAIL > pub.asc',
    });
  let key;
  try {
    key = text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----') ? await openpgp.readKey({ armoredKey: text }) : await openpgp.readKey({ binaryKey: data });
  } catch (e) {
    throw new InfraError(ExitCode.invalid, `${file}: not an OpenPGP public key (${(e as Error).message.split('\n')[0]})`, {
      hint: 'export it with: gpg --export --armor YOUR@EMAIL > pub.asc',
    });
  }
  if (key.isPrivate())
    throw new InfraError(ExitCode.invalid, `${file}: this is a PRIVATE key; infra only takes public keys (nothing of it was stored or printed)`, {
      hint: 'export the public half: gpg --export --armor YOUR@EMAIL > pub.asc',
    });
  const canEncrypt = Boolean(await key.getEncryptionKey().catch(() => undefined));
  return { fingerprint: key.getFingerprint().toUpperCase(), userIds: key.getUserIDs(), armored: key.armor(), canEncrypt };
}
