import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CACHE_DIR } from '../../src/adapters/store.js';

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

/** The peer index's folder, relative to the registry root. */
export const PEERS = path.join(CACHE_DIR, 'peers');

/** inode and mtime of every file of the peer index (shards and head): which of them an edit rewrote. */
export async function indexFiles(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await fs.readdir(path.join(root, PEERS))).sort()) {
    const s = await fs.stat(path.join(root, PEERS, f), { bigint: true });
    out[f] = `${s.ino}:${s.mtimeNs}`;
  }
  return out;
}
