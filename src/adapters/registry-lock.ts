/**
 * One writer per registry: the lock file, taken over when its holder is gone, and waited for when not.
 */
import { shellQuote } from '../lib/shell-quote.js';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { ExitCode, InfraError } from '../lib/errors.js';
import { pidAlive, removeAbandonedTemps, tempName } from './temp-files.js';
import { testPausePoint } from './test-pause.js';

export const LOCK_FILE = '.infra.lock';

// ---------------------------------------------------------------- lock

interface LockInfo {
  pid: number;
  host: string;
  command: string;
  started: string;
}

export const LOCK_WAIT_ENV = 'INFRA_LOCK_WAIT_MS';
const DEFAULT_LOCK_WAIT_MS = 10_000;
/**
 * A lock file that is empty or not a lock this long after it last changed was left by a crash: infra writes
 * a lock's content before the file appears, so a held lock is never empty. (Older infra wrote it after.)
 */
export const ABANDONED_LOCK_MS = 5_000;

/** How long a writer waits for the lock: INFRA_LOCK_WAIT_MS (milliseconds), 10 s when unset. */
export function lockWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[LOCK_WAIT_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_LOCK_WAIT_MS;
  if (!/^\d{1,10}$/.test(raw.trim()))
    throw new InfraError(ExitCode.usage, `${LOCK_WAIT_ENV}=${JSON.stringify(raw.slice(0, 40))} is not a number of milliseconds`, {
      hint: `set it to a whole number of milliseconds (e.g. export ${LOCK_WAIT_ENV}=30000), or unset it to wait the default 10 s`,
    });
  return Number(raw.trim());
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo> | null;
    if (v && typeof v === 'object' && Number.isSafeInteger(v.pid) && (v.pid as number) > 0 && typeof v.host === 'string') return v as LockInfo;
  } catch {
    // not JSON: a crashed writer's leftovers
  }
  return undefined;
}


/**
 * Create the lock holding `content`, or return false when it exists. The content goes to a temporary file
 * first, which is then hard-linked into place (atomic, and fails when the lock exists): another process never
 * sees a lock file that is empty or half written, so an empty one can only be a crash's leftover.
 */
async function createLock(lockPath: string, content: string): Promise<boolean> {
  const tmp = tempName(lockPath, 'tmp');
  await fs.writeFile(tmp, content, { flag: 'wx', mode: 0o644 });
  try {
    await fs.link(tmp, lockPath);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
    // A file system without hard links: create exclusively and write (the short empty moment is covered by ABANDONED_LOCK_MS).
    try {
      await fs.writeFile(lockPath, content, { flag: 'wx', mode: 0o644 });
      return true;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e2;
    }
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/**
 * Remove an abandoned lock (`staleText` is what it held when judged) without racing another process doing the
 * same: the lock is renamed away (atomic, so only one process gets that file) and put back if it holds
 * something else, i.e. a fresh lock someone took in the meantime.
 */
async function breakStaleLock(lockPath: string, staleText: string): Promise<void> {
  const aside = tempName(lockPath, 'stale');
  try {
    await fs.rename(lockPath, aside);
  } catch {
    return; // someone else moved it first
  }
  try {
    const content = await fs.readFile(aside, 'utf8').catch(() => staleText);
    if (content !== staleText) await fs.link(aside, lockPath).catch(() => undefined);
  } finally {
    await fs.rm(aside, { force: true });
  }
}

/**
 * The locks one command takes in turn (a token rotation records each step under its own lock). Once it has
 * removed killed writers' temporary files, its later locks need not walk the whole tree again: a writer killed
 * while holding the lock leaves the lock behind, and whoever takes that lock over walks it. (Temporary files
 * left outside the lock are removed by the next command.)
 */
export interface LockSession {
  tempsRemoved: boolean;
}

/**
 * One writer per registry. A lock left by a dead process on this host, or left empty or unreadable by a crash
 * (older than ABANDONED_LOCK_MS), is taken over. A live holder is waited for (up to INFRA_LOCK_WAIT_MS,
 * default 10 s), then refused. Once held, temporary files that killed writers left behind are removed (see
 * LockSession for when a later lock of the same command skips that).
 */
export async function withLock<T>(root: string, command: string, fn: (cleanedTemps: string[]) => Promise<T>, waitMs?: number, session?: LockSession): Promise<T> {
  const wait = waitMs ?? lockWaitMs();
  if (!Number.isFinite(wait) || wait < 0) throw new Error(`withLock: waitMs must be a finite number >= 0, not ${wait}`);
  const lockPath = path.join(root, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, host: hostname(), command, started: new Date().toISOString() };
  const deadline = Date.now() + wait;
  let tookOver = false;
  for (;;) {
    if (await createLock(lockPath, JSON.stringify(mine) + '\n')) break;
    let text: string;
    let changed: number;
    try {
      text = await fs.readFile(lockPath, 'utf8');
      changed = (await fs.stat(lockPath)).mtimeMs;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released just now: try again
      throw e;
    }
    const holder = parseLock(text);
    const abandoned = holder ? holder.host === mine.host && !pidAlive(holder.pid) : Date.now() - changed > ABANDONED_LOCK_MS;
    if (abandoned) {
      await breakStaleLock(lockPath, text);
      tookOver = true;
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder
        ? `process ${holder.pid} on ${holder.host} (\`infra ${holder.command}\`, since ${holder.started})`
        : `another process (the lock file is ${text.trim() ? 'not a lock infra wrote' : 'empty'}; it is taken over ${ABANDONED_LOCK_MS / 1000} s after its last change)`;
      throw new InfraError(ExitCode.invalid, `the registry is locked by ${who}: ${lockPath}`, {
        hint: `wait for it to finish and run the command again; if that process is gone, remove the lock: rm ${shellQuote(lockPath)}`,
      });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    await testPausePoint('locked', lockPath);
    const cleaned = session?.tempsRemoved && !tookOver ? [] : await removeAbandonedTemps(root);
    if (session) session.tempsRemoved = true;
    return await fn(cleaned);
  } finally {
    await fs.rm(lockPath, { force: true });
  }
}

