/**
 * What makes `infra render` a no-op, recorded when a render found nothing to write or remove: the
 * registry's stamp (infra.yml and every member file, see Loaded.stamp), the environments rendered, every
 * entry under each environment's inventory folder with its size, mtime, ctime and inode (inventories,
 * group_vars, host_vars, the generated files themselves), and the code that renders. A later render that
 * finds the same stamp has nothing to do either, and reads no inventory or generated file. The stamp is
 * taken before anything it covers is read, so a file changed meanwhile never matches it. A symbolic link
 * anywhere in a folder, a registry without a stamp, or a folder deeper than render looks: no stamp.
 */
import { createHash } from 'node:crypto';
import { promises as fs, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDerived, removeDerived, writeDerived } from './derived-state.js';
import type { Loaded } from './registry-load.js';
import { statKey } from './file-stamps.js';

/** Kept as derived state (derived-state.ts): outside the registry, authenticated. */
const STAMP_FILE = 'render.json';
const MAX_DEPTH = 10;

class NoStamp extends Error {}

/** Every entry under `rel` (depth-first, sorted), as `path type stat` lines; throws NoStamp on a link. */
async function treeLines(root: string, rel: string, depth: number, out: string[]): Promise<void> {
  let stat: BigIntStats;
  try {
    stat = await fs.lstat(path.join(root, rel), { bigint: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return void out.push(`${rel} absent`);
    throw e;
  }
  if (stat.isSymbolicLink() || depth > MAX_DEPTH) throw new NoStamp();
  out.push(`${rel} ${stat.isDirectory() ? 'd' : 'f'} ${statKey(stat, true)}`);
  if (!stat.isDirectory()) return;
  const names = (await fs.readdir(path.join(root, rel))).sort();
  const lines = await Promise.all(
    names.map(async (name) => {
      const sub: string[] = [];
      await treeLines(root, rel === '.' ? name : `${rel}/${name}`, depth + 1, sub);
      return sub;
    }),
  );
  for (const sub of lines) out.push(...sub);
}

/** The code render runs (this build's core, adapters, services, lib): another build, another stamp. */
let codeStamp: Promise<string> | undefined;
function renderCode(): Promise<string> {
  codeStamp ??= (async () => {
    const base = fileURLToPath(new URL('..', import.meta.url));
    // this module's own file: the whole CLI when it runs from the bundle (dist/bundle/infra.cjs)
    const lines = [`self ${statKey(await fs.stat(fileURLToPath(import.meta.url), { bigint: true }), true)}`];
    for (const dir of ['core', 'adapters', 'services', 'lib']) await treeLines(base, dir, 0, lines).catch(() => lines.push(`${dir} unreadable`));
    return lines.join('\n');
  })();
  return codeStamp;
}

/**
 * The stamp of rendering `environments` of `loaded` whose inventory folders (every environment's, since
 * render reads all their vars files) are `folders`, or undefined when there is none to trust.
 */
export async function renderStamp(root: string, loaded: Loaded, environments: readonly string[], folders: readonly string[]): Promise<string | undefined> {
  if (!loaded.stamp) return undefined;
  const lines = [`registry ${loaded.stamp}`, `environments ${environments.join(',')}`, await renderCode()];
  try {
    for (const folder of [...new Set(folders)].sort()) {
      if (folder === '.' || folder.startsWith('..') || path.isAbsolute(folder)) return undefined; // the registry's own files move under it
      await treeLines(root, folder, 0, lines);
    }
  } catch (e) {
    if (e instanceof NoStamp) return undefined;
    throw e;
  }
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

export interface RecordedRender {
  stamp: string;
  unchanged: number;
}

export async function readRenderStamp(root: string): Promise<RecordedRender | undefined> {
  try {
    const text = await readDerived(root, STAMP_FILE);
    if (text === undefined) return undefined;
    const data = JSON.parse(text) as Partial<RecordedRender>;
    return typeof data.stamp === 'string' && typeof data.unchanged === 'number' ? { stamp: data.stamp, unchanged: data.unchanged } : undefined;
  } catch {
    return undefined;
  }
}

/** Best effort: without it the next render does the whole work, as it would anyway. */
export async function writeRenderStamp(root: string, recorded: RecordedRender | undefined): Promise<void> {
  if (!recorded) return removeDerived(root, STAMP_FILE);
  await writeDerived(root, STAMP_FILE, JSON.stringify(recorded));
}
