/**
 * Who the admin-held secret files (vault/password.asc, ca/*.asc) were encrypted to, before and after each
 * commit since a revision: their PKESK recipients named by the members' pgp.asc as they were at that commit.
 * Only recipient key ids are read; nothing is decrypted.
 */
import { secretReadersChanged, type Change } from '../core/changes.js';
import { namedReaders, type KeyringEntry } from '../core/secrets.js';
import { commitsSince, readFilesAt, runGit, type GitOptions } from './git.js';
import { messageRecipients } from './openpgp-tokens.js';
import { certificateIdsIn } from './pgp-certs.js';

const isHeldSecret = (f: string) => f === 'vault/password.asc' || /^ca\/[^/\n]+\.asc$/.test(f);

/** Every member's certificate ids as the registry held them at `commit` (a pgp.asc that does not parse names nobody). */
async function keyringAt(root: string, commit: string, options: GitOptions): Promise<KeyringEntry[]> {
  const r = await runGit(root, ['ls-tree', '-r', '-z', '--name-only', commit, '--', 'keys'], options);
  if (r.code !== 0) return [];
  const paths = r.stdout.toString('utf8').split('\0').filter((f) => /^keys\/[^/\n]+\/pgp\.asc$/.test(f));
  const out: KeyringEntry[] = [];
  for (const [rel, text] of await readFilesAt(root, commit, paths, options)) {
    const certificates = await certificateIdsIn(text).catch(() => undefined);
    if (certificates) out.push({ handle: rel.split('/')[1], certificates });
  }
  return out;
}

/** The readers of each secret file at `commit`: handles, or `key <ID>`; absent files are left out, a file that is not a message is undefined. */
async function readersAt(root: string, commit: string, files: readonly string[], options: GitOptions): Promise<Map<string, string[] | undefined>> {
  const texts = await readFilesAt(root, commit, files, options);
  const out = new Map<string, string[] | undefined>();
  if (texts.size === 0) return out;
  const keyring = await keyringAt(root, commit, options);
  for (const [rel, text] of texts) {
    const recipients = await messageRecipients(text).catch(() => undefined);
    out.set(rel, recipients && namedReaders(recipients, keyring).map((r) => r.handle ?? `key ${r.key_id}`));
  }
  return out;
}

/** A readers-changed change for each commit since `since` that re-encrypts a held secret to other readers. */
export async function secretReaderChanges(root: string, since: string, options: GitOptions = {}): Promise<Change[]> {
  const out: Change[] = [];
  for (const c of await commitsSince(root, since, options, ['vault/password.asc', 'ca'])) {
    const files = c.files.filter(isHeldSecret);
    if (!files.length) continue;
    const after = await readersAt(root, c.commit, files, options);
    const before = c.parent ? await readersAt(root, c.parent, files, options) : new Map<string, string[] | undefined>();
    for (const f of files) {
      // a file that is not a readable message (either side) tells nothing of its readers: no change claimed
      if ((before.has(f) && !before.get(f)) || (after.has(f) && !after.get(f))) continue;
      const change = secretReadersChanged({ commit: c.short, date: c.date }, f, before.get(f), after.get(f));
      if (change) out.push(change);
    }
  }
  return out;
}
