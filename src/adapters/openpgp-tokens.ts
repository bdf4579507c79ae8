/**
 * Token values at rest: one OpenPGP message encrypted to every admin at once (any admin's key reads it,
 * `gpg --decrypt` included), and decryption with one admin's private key. openpgp is imported lazily.
 */
import { ExitCode, InfraError, type Problem } from '../lib/errors.js';
import { chooseCertificate, readCertificates, readPrivateKeys } from './pgp-certs.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface AdminKey {
  handle: string;
  /** The armored public key from keys/<handle>/pgp.asc; undefined when the admin has none. */
  armoredKey: string | undefined;
}

const keyFile = (handle: string) => `keys/${handle}/pgp.asc`;
const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

type OpenPgp = typeof import('openpgp');

/** Why this admin's key cannot take the token, or the usable certificate (the one of the file that can encrypt now, as gpg picks it). */
async function usableKey(openpgp: OpenPgp, admin: AdminKey, now: Date): Promise<{ key?: import('openpgp').Key; problem?: string }> {
  if (!admin.armoredKey) return { problem: 'the admin has no OpenPGP key, so tokens cannot be encrypted to them' };
  const certificates = await readCertificates(openpgp, admin.armoredKey);
  if (!certificates.length) {
    const reason = await openpgp.readKey({ armoredKey: admin.armoredKey }).then(() => 'unreadable', firstLine);
    return { problem: `not an armored OpenPGP public key (${reason})` };
  }
  if (certificates.some((k) => k.isPrivate())) return { problem: 'holds a PRIVATE key; only the public key belongs in the registry' };
  const { key, problem } = await chooseCertificate(certificates, now);
  return key ? { key } : { problem };
}

/** Who a message is encrypted to: each admin by handle and the fingerprint of the certificate used. */
export interface Recipient {
  handle: string;
  fingerprint: string;
}

/**
 * One armored message that each admin's key decrypts. Every admin whose key is missing, unreadable,
 * private, revoked, expired or without an encryption subkey is reported at once (exit 3).
 */
export async function encryptToAdmins(text: string, admins: AdminKey[], now: Date): Promise<string> {
  return (await encryptToAdminsNamed(text, admins, now)).armored;
}

/** encryptToAdmins, also naming each recipient by handle and fingerprint (tokens reencrypt prints them). */
export async function encryptToAdminsNamed(text: string, admins: AdminKey[], now: Date): Promise<{ armored: string; recipients: Recipient[] }> {
  if (admins.length === 0)
    throw new InfraError(ExitCode.invalid, 'infra.yml names no admins, so the token could not be encrypted to anyone', { hint: 'add admins: [HANDLE, ...] to infra.yml' });
  const openpgp = await import('openpgp');
  const keys: import('openpgp').Key[] = [];
  const recipients: Recipient[] = [];
  const problems: Problem[] = [];
  for (const admin of admins) {
    const { key, problem } = await usableKey(openpgp, admin, now);
    if (key) {
      keys.push(key);
      recipients.push({ handle: admin.handle, fingerprint: key.getFingerprint().toUpperCase() });
    } else problems.push({ file: keyFile(admin.handle), field: '(key)', message: problem! });
  }
  if (problems.length) {
    const handles = admins.filter((a) => problems.some((p) => p.file === keyFile(a.handle))).map((a) => a.handle);
    const head = problems.length === 1 ? `${problems[0].file}: ${problems[0].message}` : `${problems.length} admin keys cannot be used: ${problems.map((p) => p.file).join(', ')}`;
    throw new InfraError(ExitCode.invalid, head, {
      problems,
      hint: `give ${handles.length === 1 ? 'the admin' : 'each admin'} a current key that can encrypt: \`infra members edit ${shellQuote(handles[0])} --pgp NEW-KEY.asc\` (export it with \`gpg --export --armor EMAIL > NEW-KEY.asc\`)`,
    });
  }
  const message = await openpgp.createMessage({ text });
  const armored = (await openpgp.encrypt({ message, encryptionKeys: keys, date: now, format: 'armored' })) as string;
  return { armored, recipients };
}

export interface DecryptOptions {
  /** Where the message came from and where the key came from, for messages (e.g. keys/roobot/tokens/github.asc, --key admin.asc). */
  messageFile?: string;
  keyFile?: string;
}

/** The text of `armoredMessage`, decrypted with one admin's private key (unlocked with `passphrase` when it is protected). */
export async function decryptWithKey(armoredMessage: string, armoredPrivateKey: string, passphrase?: string, options: DecryptOptions = {}): Promise<string> {
  const openpgp = await import('openpgp');
  const keyName = options.keyFile ?? 'the key';
  const messageName = options.messageFile ?? 'the encrypted token';
  let privateKeys;
  try {
    privateKeys = await readPrivateKeys(openpgp, armoredPrivateKey);
  } catch (e) {
    const isPublic = /BEGIN PGP PUBLIC KEY BLOCK/.test(armoredPrivateKey);
    throw new InfraError(ExitCode.invalid, `${keyName}: ${isPublic ? 'this is a public key; decrypting needs your private key' : `not an armored OpenPGP private key (${firstLine(e)})`}`, {
      hint: 'export your private key: gpg --export-secret-keys --armor EMAIL > admin.asc (keep it out of the registry)',
    });
  }
  let message;
  try {
    message = await openpgp.readMessage({ armoredMessage });
  } catch (e) {
    throw corrupted(messageName, firstLine(e));
  }
  const recipients = message.getEncryptionKeyIDs().map((id) => id.toHex());
  // A file may hold several secret keys (gpg --export-secret-keys of a user id with two): try each one the
  // message names, as gpg, sq and rnp do. A wildcard (anonymous) recipient is all zeros: then only trying tells.
  const anonymous = !recipients.length || recipients.includes('0000000000000000');
  const candidates = privateKeys.filter((k) => anonymous || k.getKeys().some((sub) => recipients.includes(sub.getKeyID().toHex())));
  if (!candidates.length)
    throw new InfraError(ExitCode.invalid, `${keyName} (${privateKeys.map((k) => k.getFingerprint().toUpperCase()).join(', ')}) is not one ${messageName} was encrypted to (recipients: ${recipients.join(', ')})`, {
      hint: 'use the private key of a current admin; after an admin change run `infra tokens reencrypt`',
    });
  let lastError: unknown;
  for (const candidate of candidates) {
    let privateKey = candidate;
    if (!privateKey.isDecrypted()) {
      if (passphrase === undefined || passphrase === '')
        throw new InfraError(ExitCode.invalid, `${keyName} is protected by a passphrase and none was given`, { hint: 'type it at the prompt, or set INFRA_PGP_PASSPHRASE' });
      try {
        privateKey = await openpgp.decryptKey({ privateKey, passphrase });
      } catch {
        if (candidates.length === 1) throw new InfraError(ExitCode.invalid, `${keyName}: wrong passphrase (the key could not be unlocked)`, { hint: 'try again; the passphrase is the one gpg asks for this key' });
        lastError = new InfraError(ExitCode.invalid, `${keyName}: wrong passphrase for ${privateKey.getFingerprint().toUpperCase()}`, { hint: 'try again; the passphrase is the one gpg asks for this key' });
        continue;
      }
    }
    try {
      const { data } = await openpgp.decrypt({ message, decryptionKeys: privateKey, format: 'utf8' });
      return data as string;
    } catch (e) {
      lastError = corrupted(messageName, firstLine(e));
    }
  }
  throw lastError;
}

function corrupted(messageName: string, reason: string): InfraError {
  return new InfraError(ExitCode.invalid, `${messageName} is damaged and cannot be decrypted (${reason})`, {
    hint: 'restore it from git (`git checkout -- FILE`), or rotate the token to write a new one',
  });
}

/** The key IDs (hex) a message is encrypted to: lets `reencrypt` and the audit see who can read a value without decrypting it. */
export async function messageRecipients(armoredMessage: string): Promise<string[]> {
  const openpgp = await import('openpgp');
  const message = await openpgp.readMessage({ armoredMessage });
  return message.getEncryptionKeyIDs().map((id) => id.toHex().toUpperCase());
}

/** Whether an armored private key is locked by a passphrase (so one must be asked for); false for anything unreadable (decryptWithKey says why). */
export async function privateKeyIsLocked(armoredPrivateKey: string): Promise<boolean> {
  const openpgp = await import('openpgp');
  try {
    return (await readPrivateKeys(openpgp, armoredPrivateKey)).some((k) => !k.isDecrypted());
  } catch {
    return false;
  }
}

/** The primary key fingerprints (upper-case hex) of every certificate in an armored key file, public or private; [] when unreadable. */
export async function keyFingerprints(armoredKey: string): Promise<string[]> {
  const openpgp = await import('openpgp');
  return (await readCertificates(openpgp, armoredKey)).map((k) => k.getFingerprint().toUpperCase());
}

/** The primary key fingerprint (upper-case hex) of an armored key, public or private; undefined when unreadable. */
export async function keyFingerprint(armoredKey: string): Promise<string | undefined> {
  const openpgp = await import('openpgp');
  try {
    return (await openpgp.readKey({ armoredKey })).getFingerprint().toUpperCase();
  } catch {
    return undefined;
  }
}
