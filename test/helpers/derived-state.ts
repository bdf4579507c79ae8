import { promises as fs } from 'node:fs';
import path from 'node:path';
import { derivedStateDir, readDerived, writeDerived } from '../../src/adapters/derived-state.js';

/**
 * Registers hooks that make every test of the calling file run with INFRA_CACHE_MIN_MEMBERS=0, so that a
 * registry of a few members keeps derived state (.infra-cache) as a big one does, and restores the
 * variable after each test (a test may still set it to something else for itself).
 */
export function keepDerivedStateForSmallRegistries(): void {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.INFRA_CACHE_MIN_MEMBERS;
    process.env.INFRA_CACHE_MIN_MEMBERS = '0';
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.INFRA_CACHE_MIN_MEMBERS;
    else process.env.INFRA_CACHE_MIN_MEMBERS = saved;
  });
}

/** The absolute path of the registry's derived file `name` (members.json, render.json, peers/NN.json) in the user's cache folder. */
export async function derivedFile(root: string, name: string): Promise<string> {
  const dir = await derivedStateDir(root);
  if (!dir) throw new Error('derived state is off (INFRA_CACHE_MIN_MEMBERS=-1?)');
  return path.join(dir, name);
}

/** The peer index's folder (absolute). */
export const peersDir = (root: string) => derivedFile(root, 'peers');

/** The body of a derived file as infra wrote it (its authentication checked), or undefined. */
export const readDerivedBody = readDerived;

/**
 * Rewrites a derived file's body and signs it with this user's key: what infra itself would have written
 * (a stale entry, another validator), as opposed to a forgery, which cannot sign.
 */
export const rewriteDerived = writeDerived;

/** inode and mtime of every file of the peer index (shards and head): which of them an edit rewrote. */
export async function indexFiles(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const dir = await peersDir(root);
  for (const f of (await fs.readdir(dir)).sort()) {
    const s = await fs.stat(path.join(dir, f), { bigint: true });
    out[f] = `${s.ino}:${s.mtimeNs}`;
  }
  return out;
}

/** Deletes every derived file of the registry (as `rm -rf` of its folder in the cache would). */
export async function dropDerivedState(root: string): Promise<void> {
  const dir = await derivedStateDir(root);
  if (dir) await fs.rm(dir, { recursive: true, force: true });
}
