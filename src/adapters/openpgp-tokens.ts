/**
 * Token values at rest: one OpenPGP message encrypted to every admin at once (any admin's key reads it,
 * `gpg --decrypt` included), and decryption with one admin's private key. openpgp is imported lazily.
 */
import { ExitCode, InfraError, type Problem } from '../lib/errors.js';

export interface AdminKey {
  handle: string;
  /** The armored public key from keys/<handle>/pgp.asc; undefined when the admin has none. */
  armoredKey: string | undefined;
}

const keyFile = (handle: string) => `keys/${handle}/pgp.asc`;
const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

type OpenPgp = typeof import('openpgp');

/** Why this admin's key cannot take the token, or the usable key. */
async function usableKey(openpgp: OpenPgp, admin: AdminKey, now: Date): Promise<{ key?: import('openpgp').Key; problem?: string }> {
  if (!admin.armoredKey) return { problem: 'the admin has no OpenPGP key, so tokens cannot be encrypted to them' };
  let key;
  try {
    key = await openpgp.readKey({ armoredKey: admin.armoredKey });
  } catch (e) {
    return { problem: `not an armored OpenPGP public key (${firstLine(e)})` };
  }
  if (key.isPrivate()) return { problem: 'holds a PRIVATE key; only the public key belongs in the registry' };
  const fingerprint = key.getFingerprint().toUpperCase();
  if (await key.isRevoked(undefined, undefined, now).catch(() => false)) return { problem: `key ${fingerprint} is revoked` };
  const expires = await key.getExpirationTime().catch(() => null);
  if (expires instanceof Date && expires.getTime() <= now.getTime()) return { problem: `key ${fingerprint} expired on ${expires.toISOString().slice(0, 10)}` };
  try {
    await key.getEncryptionKey(undefined, now);
  } catch (e) {
    return { problem: `key ${fingerprint} has no usable encryption subkey (${firstLine(e)})` };
  }
  return { key };
}

/**
 * One armored message that each admin's key decrypts. Every admin whose key is missing, unreadable,
 * private, revoked, expired or without an encryption subkey is reported at once (exit 3).
 */
export async function encryptToAdmins(text: string, admins: AdminKey[], now: Date): Promise<string> {
  if (admins.length === 0)
    throw new InfraError(ExitCode.invalid, 'infra.yml names no admins, so the token could not be encrypted to anyone', { hint: 'add admins: [HANDLE, ...] to infra.yml' });
  const openpgp = await import('openpgp');
  const keys: import('openpgp').Key[] = [];
  const problems: Problem[] = [];
  for (const admin of admins) {
    const { key, problem } = await usableKey(openpgp, admin, now);
    if (key) keys.push(key);
    else problems.push({ file: keyFile(admin.handle), field: '(key)', message: problem! });
  }
  if (problems.length) {
    const handles = admins.filter((a) => problems.some((p) => p.file === keyFile(a.handle))).map((a) => a.handle);
    const head = problems.length === 1 ? `${problems[0].file}: ${problems[0].message}` : `${problems.length} admin keys cannot be used: ${problems.map((p) => p.file).join(', ')}`;
    throw new InfraError(ExitCode.invalid, head, {
      problems,
      hint: `give ${handles.length === 1 ? 'the admin' : 'each admin'} a current key that can encrypt: \`infra members edit ${handles[0]} --pgp NEW-KEY.asc\` (export it with \`gpg --export --armor EMAIL > NEW-KEY.asc\`)`,
    });
  }
  const message = await openpgp.createMessage({ text });
  return (await openpgp.encrypt({ message, encryptionKeys: keys, date: now, format: 'armored' })) as string;
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
  let privateKey;
  try {
    privateKey = await openpgp.readPrivateKey({ armoredKey: armoredPrivateKey });
  } catch (e) {
    const isPublic = /BEGIN PGP PUBLIC KEY BLOCK/.test(armoredPrivateKey);
    throw new InfraError(ExitCode.invalid, `${keyName}: ${isPublic ? 'this is a public key; decrypting needs your private key' : `not an armored OpenPGP private key (${firstLine(e)})`}`, {
      hint: 'export your private key: gpg --export-secret-keys --armor EMAIL > admin.asc (keep it out of the registry)',
    });
  }
  if (!privateKey.isDecrypted()) {
    if (passphrase === undefined || passphrase === '')
      throw new InfraError(ExitCode.invalid, `${keyName} is protected by a passphrase and none was given`, { hint: 'type it at the prompt, or set INFRA_PGP_PASSPHRASE' });
    try {
      privateKey = await openpgp.decryptKey({ privateKey, passphrase });
    } catch {
      throw new InfraError(ExitCode.invalid, `${keyName}: wrong passphrase (the key could not be unlocked)`, { hint: 'try again; the passphrase is the one gpg asks for this key' });
    }
  }
  let message;
  try {
    message = await openpgp.readMessage({ armoredMessage });
  } catch (e) {
    throw corrupted(messageName, firstLine(e));
  }
  const recipients = message.getEncryptionKeyIDs().map((id) => id.toHex());
  const ours = privateKey.getKeys().map((k) => k.getKeyID().toHex());
  // A wildcard (anonymous) recipient is all zeros: then only trying tells.
  if (recipients.length && !recipients.includes('0000000000000000') && !recipients.some((r) => ours.includes(r)))
    throw new InfraError(ExitCode.invalid, `${keyName} (${privateKey.getFingerprint().toUpperCase()}) is not one ${messageName} was encrypted to (recipients: ${recipients.join(', ')})`, {
      hint: 'use the private key of a current admin; after an admin change run `infra tokens reencrypt`',
    });
  try {
    const { data } = await openpgp.decrypt({ message, decryptionKeys: privateKey, format: 'utf8' });
    return data as string;
  } catch (e) {
    throw corrupted(messageName, firstLine(e));
  }
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
    return !(await openpgp.readPrivateKey({ armoredKey: armoredPrivateKey })).isDecrypted();
  } catch {
    return false;
  }
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
