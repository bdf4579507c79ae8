/**
 * The CA's private key, for `certs sign` and `ca rotate`: ca/user_ca.asc decrypted with an admin's private
 * OpenPGP key (--ca-key; its passphrase from INFRA_PGP_PASSPHRASE or a hidden prompt), then checked against
 * ca/user_ca.pub. The key never leaves memory: no file, no output.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CA_ASC, CA_PUB, parseCaKey, readCaText } from '../adapters/ca-files.js';
import type { Loaded } from '../adapters/registry-load.js';
import type { CaKey } from '../core/certs.js';
import { parseOpensshEd25519 } from '../core/openssh-private-key.js';
import type { Ed25519Ca } from '../core/ssh-cert.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { readArg, say, type Context } from './context.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface UnlockedAdminKey {
  file: string;
  armored: string;
  passphrase?: string;
  /** The admin whose keys/<handle>/pgp.asc is this key's public half. */
  admin: string;
}

/** --ca-key read, matched to an admin (refused naming the admins whose keys were tried), its passphrase asked when locked. */
export async function unlockAdminKey(ctx: Context, loaded: Loaded, file: string): Promise<UnlockedAdminKey> {
  const armored = await readArg(ctx, file);
  if (file !== '-') {
    const { warnIfReadableByOthers } = await import('../adapters/secret-files.js');
    await warnIfReadableByOthers(path.resolve(ctx.cwd, file), (w) => say(ctx, `warning: ${w}`), 'private key file');
  }
  const { keyFingerprint, privateKeyIsLocked } = await import('../adapters/openpgp-tokens.js');
  if (!armored.includes(`-----BEGIN PGP ${'PRIVATE'} KEY BLOCK-----`))
    throw new InfraError(ExitCode.invalid, `--ca-key ${file}: ${/BEGIN PGP PUBLIC KEY BLOCK/.test(armored) ? 'this is a public key; signing needs your private key' : 'not an armored OpenPGP private key'}`, {
      hint: 'export your private key: gpg --export-secret-keys --armor EMAIL > admin.asc (keep it out of the registry)',
    });
  const mine = await keyFingerprint(armored);
  const { admins } = loaded.registry.config;
  let admin: string | undefined;
  for (const a of admins) {
    const pub = await fs.readFile(path.join(loaded.registry.root, `keys/${a}/pgp.asc`), 'utf8').catch(() => undefined);
    if (mine && pub && (await keyFingerprint(pub)) === mine) admin = a;
  }
  if (!admin)
    throw new InfraError(ExitCode.invalid, `--ca-key ${file}${mine ? ` (${mine})` : ''} is not the key of an admin (tried the keys of ${admins.length ? admins.join(', ') : 'nobody: infra.yml names no admins'})`, {
      hint: 'use your own private key as an admin listed in infra.yml `admins:` (its public half is keys/<handle>/pgp.asc)',
    });
  let passphrase = ctx.env.INFRA_PGP_PASSPHRASE;
  if (passphrase === undefined && ctx.prompter && (await privateKeyIsLocked(armored))) passphrase = await ctx.prompter.password({ message: `Passphrase of ${file}` });
  return { file, armored, passphrase, admin };
}

/** The current CA's public key; none yet is the error that names `ca init`. */
export async function currentCaKey(root: string): Promise<CaKey> {
  const text = await readCaText(root, CA_PUB);
  if (text === undefined) throw new InfraError(ExitCode.invalid, `${CA_PUB} does not exist: the registry has no user CA yet`, { hint: 'infra ca init (a protected change: a second admin approves it)' });
  return parseCaKey(CA_PUB, text);
}

/** The CA's private key, decrypted and checked against ca/user_ca.pub. */
export async function decryptCa(loaded: Loaded, key: UnlockedAdminKey, pub: CaKey): Promise<Ed25519Ca> {
  const armored = await readCaText(loaded.registry.root, CA_ASC);
  if (armored === undefined)
    throw new InfraError(ExitCode.invalid, `${CA_ASC} is missing, so nothing can be signed with ${CA_PUB}`, { hint: `restore it from git (git checkout -- ${shellQuote(CA_ASC)}), or make a new CA: infra ca rotate` });
  const { decryptWithKey } = await import('../adapters/openpgp-tokens.js');
  const text = await decryptWithKey(armored, key.armored, key.passphrase, { messageFile: CA_ASC, keyFile: `--ca-key ${key.file}` });
  const ca = parseOpensshEd25519(text);
  if (!ca.publicBlob.equals(pub.blob))
    throw new InfraError(ExitCode.invalid, `${CA_ASC} does not match ${CA_PUB} (${pub.fingerprint}): one of them was replaced`, {
      hint: `restore both from git (git log -- ca/), or make a new CA: infra ca rotate`,
    });
  return ca;
}
