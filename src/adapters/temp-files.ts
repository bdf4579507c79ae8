/**
 * infra's temporary files: their names, and the sweep that removes those killed writers left behind.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';


export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Names of infra's own temporary files: `.<name>.<pid>.<8 hex>.tmp` (writes), `<lock>.<pid>.<8 hex>.stale` (lock take-over). */
export const TEMP_NAME_RE = /^\..*\.(\d+)\.[0-9a-f]{8}\.(tmp|stale)$/;
export const tempName = (file: string, suffix: 'tmp' | 'stale') => path.join(path.dirname(file), `${path.basename(file).startsWith('.') ? '' : '.'}${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.${suffix}`);

/** A temporary file older than this is abandoned even when its writer's pid now belongs to a live process. */
const ABANDONED_TEMP_MS = 60 * 60 * 1000;

/**
 * Remove the temporary files of writers that were killed (their pid is gone, or the file is an hour old): a
 * killed render's temporary file holds authorized keys and must not be picked up by `git add -A`. Only infra's
 * own temp names are touched; links are not followed; .git and node_modules are skipped.
 */
export async function removeAbandonedTemps(root: string, maxDepth = 8): Promise<string[]> {
  const removed: string[] = [];
  // Folders are listed synchronously: a registry of thousands of members is thousands of folders, and a
  // promise per listing costs several times the system call (this runs on every edit).
  const found: string[] = [];
  const list = (rel: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name !== '.git' && e.name !== 'node_modules' && depth < maxDepth) list(r, depth + 1);
        continue;
      }
      const m = e.isFile() ? TEMP_NAME_RE.exec(e.name) : null;
      if (m && Number(m[1]) !== process.pid) found.push(r);
    }
  };
  list('', 0);
  for (const r of found) {
    const pid = Number(TEMP_NAME_RE.exec(path.basename(r))![1]);
    const st = await fs.stat(path.join(root, r)).catch(() => undefined);
    if (!st) continue;
    if (pidAlive(pid) && Date.now() - st.mtimeMs < ABANDONED_TEMP_MS) continue;
    await fs.rm(path.join(root, r), { force: true });
    removed.push(r);
  }
  return removed.sort();
}

