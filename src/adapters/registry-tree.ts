/**
 * Every file in the registry tree, read for private keys (core/private-material.ts). Never .git or
 * node_modules; never through a symbolic link (a link could point anywhere on the machine, and it is
 * the link, not the target, that git commits); never a FIFO or device (opening one could block or read
 * a device). Each file is read only up to the registry's file limit, and the walk stops after
 * MAX_SCANNED_FILES files, saying so, so a huge tree costs a bounded time.
 */
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { privateMaterialIn, type PrivateMaterial } from '../core/private-material.js';
import { MAX_REGISTRY_FILE_BYTES } from './yaml-load.js';

export const MAX_SCANNED_FILES = 20_000;
const SKIPPED_FOLDERS = new Set(['.git', 'node_modules']);

export interface TreeScan {
  found: PrivateMaterial[];
  /** Set when the walk stopped at the file limit: the rest of the tree was not read. */
  truncated?: string;
}

/** The first `limit` bytes of a regular file, opened without following a link; undefined for anything else. */
async function head(file: string, limit: number): Promise<string | undefined> {
  let handle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined; // gone, a link swapped in, or unreadable: nothing to judge
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return undefined;
    const buffer = Buffer.alloc(Math.min(st.size, limit));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

export async function scanForPrivateKeys(root: string, options: { maxFiles?: number; maxBytes?: number } = {}): Promise<TreeScan> {
  const maxFiles = options.maxFiles ?? MAX_SCANNED_FILES;
  const maxBytes = options.maxBytes ?? MAX_REGISTRY_FILE_BYTES;
  const found: PrivateMaterial[] = [];
  let files = 0;
  const folders = [''];
  while (folders.length) {
    const rel = folders.shift()!;
    const entries = await fs.readdir(path.join(root, rel), { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!SKIPPED_FOLDERS.has(e.name)) folders.push(child);
        continue;
      }
      if (!e.isFile()) continue; // links, FIFOs, sockets, devices
      if (++files > maxFiles) return { found, truncated: `looked for private keys in the first ${maxFiles} files only; the registry tree holds more` };
      const text = await head(path.join(root, child), maxBytes);
      const hit = text === undefined ? undefined : privateMaterialIn(child, text);
      if (hit) found.push(hit);
    }
  }
  return { found };
}
