/** A private copy of the repository's example registry, and a fingerprint of a whole tree to prove "nothing changed". */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function copyExample(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-example-'));
  for (const part of ['infra.yml', 'keys', 'inventories', 'schema', 'vault', 'allowed_signers']) await fs.cp(path.join(REPO_ROOT, part), path.join(dir, part), { recursive: true });
  return dir;
}

/** sha256 over every file's relative path, mode and bytes (sorted): equal before and after means nothing was touched. */
export async function treeDigest(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (rel: string): Promise<void> => {
    const entries = (await fs.readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) await walk(r);
      else {
        const st = await fs.stat(path.join(dir, r));
        hash.update(`${r}\0${st.mode}\0`).update(await fs.readFile(path.join(dir, r)));
      }
    }
  };
  await walk('.');
  return hash.digest('hex');
}

export async function tempDir(prefix = 'infra-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}
