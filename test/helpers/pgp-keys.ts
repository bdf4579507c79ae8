/** OpenPGP test keys made with openpgp's generateKey (type 'ecc': ed25519 + cv25519, which GnuPG 2.2 reads). */
import * as openpgp from 'openpgp';

/** Test keys are made at a fixed past instant, so tests can pass their own `now` whatever the machine clock says. */
export const KEY_DATE = new Date('2026-01-01T00:00:00Z');

export interface TestAdmin {
  handle: string;
  publicKey: string;
  privateKey: string;
  passphrase?: string;
}

export async function makeAdmin(handle: string, options: { passphrase?: string; date?: Date; keyExpirationTime?: number; signOnly?: boolean } = {}): Promise<TestAdmin> {
  const { publicKey, privateKey } = await openpgp.generateKey({
    type: 'ecc',
    userIDs: [{ name: handle, email: `${handle}@coop.example` }],
    // A passphrase-protected test key hashes 64 KiB per unlock (count byte 96, GnuPG's smallest s2k-count) instead of
    // openpgp's default 16 MiB: every unlock of bob's key cost a tenth of a second of CPU. How a key is unlocked is
    // the key's own parameter, so what the tests prove about passphrases is unchanged.
    ...(options.passphrase ? { passphrase: options.passphrase, config: { s2kIterationCountByte: 96 } } : {}),
    date: options.date ?? KEY_DATE,
    ...(options.keyExpirationTime ? { keyExpirationTime: options.keyExpirationTime } : {}),
    ...(options.signOnly ? { subkeys: [{ sign: true }] } : {}),
    format: 'armored',
  });
  return { handle, publicKey, privateKey, ...(options.passphrase ? { passphrase: options.passphrase } : {}) };
}

/** The same key with a revocation signature on it (public part). */
export async function revoked(admin: TestAdmin): Promise<string> {
  const privateKey = await openpgp.readPrivateKey({ armoredKey: admin.privateKey });
  const unlocked = admin.passphrase ? await openpgp.decryptKey({ privateKey, passphrase: admin.passphrase }) : privateKey;
  const { publicKey } = await openpgp.revokeKey({ key: unlocked, format: 'armored' });
  return publicKey;
}
