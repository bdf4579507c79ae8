/**
 * Reads the admin-held secrets of a registry for the pure catalog (src/core/secrets.ts): lists each kind's
 * folder, reads every message's recipients (never decrypting anything), every member's pgp.asc key ids,
 * the history record `tokens reencrypt` keeps beside a file, and a kind's date file. Every file here is
 * hostile input: links, oversized files and non-messages are noted, never followed or trusted.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { buildCatalog, SECRET_KINDS, secretKindOf, type CatalogEntry, type KeyringEntry, type SecretFileFacts } from '../core/secrets.js';
import type { IsoDate, Member } from '../core/types.js';
import { isIsoDate } from '../core/validate.js';
import { certificateIdsIn } from './pgp-certs.js';
import { messageRecipients } from './openpgp-tokens.js';

const MAX_SECRET_BYTES = 1024 * 1024;

/** Where `tokens reencrypt` records who could read a value before it was re-encrypted: beside the file. */
export const historyFile = (rel: string) => rel.replace(/\.asc$/, '.readers.yml');

/** A regular file's text (not a link, not oversized), else undefined with why. */
async function readRegular(root: string, rel: string): Promise<{ text?: string; why?: string }> {
  const file = path.join(root, rel);
  let st;
  try {
    st = await fs.lstat(file);
  } catch {
    return {};
  }
  if (st.isSymbolicLink()) return { why: 'is a symbolic link (refused: it could point anywhere)' };
  if (!st.isFile()) return { why: 'is not a regular file' };
  if (st.size > MAX_SECRET_BYTES) return { why: `is larger than ${MAX_SECRET_BYTES} bytes` };
  return { text: await fs.readFile(file, 'utf8') };
}

/** Folders matching a kind's `folder` (a `*` segment is any one name, links not followed). */
async function expandFolder(root: string, pattern: string): Promise<string[]> {
  let folders = [''];
  for (const segment of pattern.split('/')) {
    const next: string[] = [];
    for (const f of folders) {
      if (segment !== '*') {
        next.push(f ? `${f}/${segment}` : segment);
        continue;
      }
      const entries = await fs.readdir(path.join(root, f), { withFileTypes: true }).catch(() => []);
      for (const e of entries) if (e.isDirectory()) next.push(f ? `${f}/${e.name}` : e.name);
    }
    folders = next;
  }
  return folders;
}

/** Every file of the registry that is an admin-held secret, relative to the root. */
export async function secretFiles(root: string): Promise<string[]> {
  const out = new Set<string>();
  for (const folder of new Set(SECRET_KINDS.map((k) => k.folder)))
    for (const f of await expandFolder(root, folder)) {
      const entries = await fs.readdir(path.join(root, f)).catch(() => [] as string[]);
      for (const name of entries) if (secretKindOf(`${f}/${name}`)) out.add(`${f}/${name}`);
    }
  return [...out].sort();
}

async function readYaml(root: string, rel: string): Promise<Record<string, unknown> | undefined> {
  const { text } = await readRegular(root, rel);
  if (text === undefined) return undefined;
  try {
    const data = parseYaml(text, { maxAliasCount: 100 });
    return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What is known of one secret file without decrypting it. */
export async function secretFacts(root: string, rel: string): Promise<SecretFileFacts> {
  const { text, why } = await readRegular(root, rel);
  const digest = createHash('sha256').update(text ?? '').digest('hex');
  const facts: SecretFileFacts = { path: rel, digest };
  if (text === undefined) facts.unreadable = why ?? 'is missing';
  else
    try {
      facts.recipients = await messageRecipients(text);
    } catch (e) {
      facts.unreadable = `is not an OpenPGP message (${(e as Error).message.split('\n')[0]})`;
    }
  const history = await readYaml(root, historyFile(rel));
  if (history && typeof history.ciphertext_sha256 === 'string' && Array.isArray(history.readable_by))
    facts.history = { ciphertext_sha256: history.ciphertext_sha256, readable_by: history.readable_by.filter((h): h is string => typeof h === 'string') };
  const dateFile = secretKindOf(rel)?.entry.dateFile;
  if (dateFile) {
    const data = await readYaml(root, dateFile);
    const at = data?.rotated_at instanceof Date ? data.rotated_at.toISOString().slice(0, 10) : data?.rotated_at;
    if (typeof at === 'string' && isIsoDate(at)) facts.rotated_at = at as IsoDate;
  }
  return facts;
}

/** Every member's OpenPGP certificates as ids: how a message's recipients are named. */
export async function readKeyring(root: string, members: readonly Member[]): Promise<KeyringEntry[]> {
  const out: KeyringEntry[] = [];
  for (const m of members) {
    if (!m.has_pgp) continue;
    const { text } = await readRegular(root, `keys/${m.handle}/pgp.asc`);
    if (text !== undefined) out.push({ handle: m.handle, certificates: await certificateIdsIn(text) });
  }
  return out;
}

/** The catalog of every admin-held secret in the registry at `root`. */
export async function readSecretCatalog(root: string, members: readonly Member[]): Promise<CatalogEntry[]> {
  const files = await secretFiles(root);
  if (!files.length) return []; // no secret: no key needs reading (a large registry's audit stays fast)
  const facts = await Promise.all(files.map((rel) => secretFacts(root, rel)));
  return buildCatalog(facts, members, await readKeyring(root, members));
}
