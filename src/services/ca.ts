/**
 * The registry's SSH user CA (docs/reference.md "Shift access"): `ca init` makes it, `ca rotate` replaces it.
 * The private key is made here from ctx.random, written only inside an OpenPGP message to every admin
 * (ca/user_ca.asc, as a token value is), and never printed.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CA_ASC, CA_PUB, readCaFiles, retiredFile } from '../adapters/ca-files.js';
import type { Loaded } from '../adapters/registry-load.js';
import { trustedCas } from '../core/certs.js';
import { encodeOpensshEd25519 } from '../core/openssh-private-key.js';
import { caFromSeed } from '../core/ssh-cert.js';
import { parsePublicKey } from '../core/ssh-key.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { type Context } from './context.js';
import { currentCaKey, decryptCa, unlockAdminKey } from './ca-key.js';

export interface CaResult {
  public_key: string;
  fingerprint: string;
  /** Admins the private key is encrypted to. */
  encrypted_to: string[];
  /** rotate: the CA replaced, and whether hosts keep trusting it (a certificate it signed is still in force). */
  retired?: { fingerprint: string; file?: string; trusted_until?: string };
  written: string[];
}

/** A new CA: its public line and its private key encrypted to every admin. */
async function makeCa(ctx: Context, loaded: Loaded): Promise<{ line: string; fingerprint: string; armored: string }> {
  const seed = Buffer.from(ctx.random(32));
  const ca = caFromSeed(seed);
  const checkInt = Buffer.from(ctx.random(4)).readUInt32BE(0);
  const text = encodeOpensshEd25519(seed, ca.publicBlob.subarray(-32), 'infra user CA', checkInt);
  const { encryptToAdmins } = await import('../adapters/openpgp-tokens.js');
  const admins = await Promise.all(
    loaded.registry.config.admins.map(async (handle) => ({ handle, armoredKey: await fs.readFile(path.join(loaded.registry.root, `keys/${handle}/pgp.asc`), 'utf8').catch(() => undefined) })),
  );
  const armored = await encryptToAdmins(text, admins, ctx.now());
  const line = `ssh-ed25519 ${ca.publicBlob.toString('base64')}`;
  return { line, fingerprint: parsePublicKey(line).fingerprint, armored };
}

const exists = (file: string) => fs.lstat(file).then(() => true, () => false);

export async function initCa(ctx: Context): Promise<CaResult> {
  const root = await ctx.store.root();
  const already = async () => {
    for (const rel of [CA_PUB, CA_ASC])
      if (await exists(path.join(root, rel)))
        throw new InfraError(ExitCode.invalid, `${rel} exists: this registry has a user CA already`, { hint: 'to replace it: infra ca rotate --ca-key YOUR-KEY.asc' });
  };
  await already();
  const made = await makeCa(ctx, await ctx.store.load());
  const { result, written } = await ctx.store.mutate('ca init', async (tx) => {
    await already(); // under the lock: two inits never both write
    tx.writeFile(CA_PUB, `${made.line} infra-user-ca\n`, 0o644);
    tx.writeFile(CA_ASC, made.armored, 0o644);
    return { public_key: made.line, fingerprint: made.fingerprint, encrypted_to: [...tx.registry.config.admins] };
  });
  return { ...result, written };
}

/**
 * A new CA in place of the current one. The old public key moves to ca/retired-<id>.pub, which render keeps
 * on hosts while a certificate it signed is still in force; its private key is deleted. Retired CAs with
 * nothing left in force are removed. With --ca-key, the old private key is first checked to decrypt and to
 * match ca/user_ca.pub (the only way to see that ca/user_ca.asc was swapped).
 */
export async function rotateCa(ctx: Context, input: { caKey?: string }): Promise<CaResult & { checked_old_key: boolean }> {
  const loaded = await ctx.store.load();
  const root = loaded.registry.root;
  const old = await currentCaKey(root);
  if (input.caKey !== undefined) await decryptCa(loaded, await unlockAdminKey(ctx, loaded, input.caKey), old);
  const made = await makeCa(ctx, loaded);
  const now = Math.floor(ctx.now().getTime() / 1000);
  const { result, written } = await ctx.store.mutate('ca rotate', async (tx) => {
    const files = await readCaFiles(root);
    if (files.current?.fingerprint !== old.fingerprint) throw new InfraError(ExitCode.invalid, `${CA_PUB} changed while infra was working: nothing was written`, { hint: 'run the command again' });
    // Which retired CAs (the old one included) hosts must still trust after the rotation.
    const stillTrusted = new Set(trustedCas(undefined, [...files.retired, old], tx.registry.members, now).map((c) => c.fingerprint));
    for (const [fingerprint, rel] of files.retiredFiles) if (!stillTrusted.has(fingerprint)) tx.removeFile(rel);
    let oldFile: string | undefined;
    if (stillTrusted.has(old.fingerprint)) {
      oldFile = retiredFile(old.blob);
      tx.writeFile(oldFile, `${old.line} infra-user-ca-retired\n`, 0o644);
    }
    tx.writeFile(CA_PUB, `${made.line} infra-user-ca\n`, 0o644);
    tx.writeFile(CA_ASC, made.armored, 0o644);
    const until = tx.registry.members
      .flatMap((m) => (m.status === 'active' ? (m.certificates ?? []) : []))
      .filter((c) => c.ca === old.fingerprint && !c.revoked)
      .map((c) => c.valid_before)
      .sort()
      .at(-1);
    return {
      public_key: made.line,
      fingerprint: made.fingerprint,
      encrypted_to: [...tx.registry.config.admins],
      retired: { fingerprint: old.fingerprint, ...(oldFile ? { file: oldFile, ...(until ? { trusted_until: until } : {}) } : {}) },
      checked_old_key: input.caKey !== undefined,
    };
  });
  return { ...result, written };
}
