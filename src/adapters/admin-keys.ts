/**
 * Which admin a private key file belongs to, without decrypting anything: the key IDs of the secret
 * key(s) in the file against each admin's keys/<handle>/pgp.asc. Lets a command say whose keys it tried.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface TriedAdmin {
  handle: string;
  /** Primary key fingerprint of keys/<handle>/pgp.asc; undefined when the admin has no readable key. */
  fingerprint?: string;
}

async function keyIds(armored: string, secret: boolean): Promise<{ fingerprint: string; ids: string[] }[]> {
  const openpgp = await import('openpgp');
  try {
    const keys = secret ? await openpgp.readPrivateKeys({ armoredKeys: armored }) : await openpgp.readKeys({ armoredKeys: armored });
    return keys.map((k) => ({ fingerprint: k.getFingerprint().toUpperCase(), ids: k.getKeys().map((s) => s.getKeyID().toHex().toUpperCase()) }));
  } catch {
    return [];
  }
}

/** The admin whose public key is (one of) the secret keys in `armoredPrivate`, and every admin tried. */
export async function matchAdmin(root: string, admins: readonly string[], armoredPrivate: string): Promise<{ handle?: string; tried: TriedAdmin[] }> {
  const mine = new Set((await keyIds(armoredPrivate, true)).flatMap((k) => k.ids));
  const tried: TriedAdmin[] = [];
  let handle: string | undefined;
  for (const a of admins) {
    const pub = await fs.readFile(path.join(root, `keys/${a}/pgp.asc`), 'utf8').catch(() => undefined);
    const keys = pub ? await keyIds(pub, false) : [];
    tried.push({ handle: a, ...(keys[0] ? { fingerprint: keys[0].fingerprint } : {}) });
    if (!handle && keys.some((k) => k.ids.some((id) => mine.has(id)))) handle = a;
  }
  return { handle, tried };
}

/** `alice (0123…CDEF), bob (no key)`: the admins tried, for a message. */
export const describeTried = (tried: readonly TriedAdmin[]): string => tried.map((t) => `${t.handle} (${t.fingerprint ?? 'no readable keys/' + t.handle + '/pgp.asc'})`).join(', ') || 'none (infra.yml names no admins)';

/**
 * Who among `handles` (by keys/<handle>/pgp.asc) holds each recipient key ID of a message; a recipient no
 * one holds is named by its key ID.
 */
export async function recipientHolders(root: string, handles: readonly string[], recipientIds: readonly string[]): Promise<string[]> {
  const owners = new Map<string, string>();
  for (const h of handles) {
    const pub = await fs.readFile(path.join(root, `keys/${h}/pgp.asc`), 'utf8').catch(() => undefined);
    for (const k of pub ? await keyIds(pub, false) : []) for (const id of k.ids) owners.set(id, h);
  }
  return [...new Set(recipientIds.map((id) => owners.get(id.toUpperCase()) ?? `key ${id.toUpperCase()}`))];
}
