/**
 * Where derived state lives (the member cache, the peer index, render's stamp): outside the registry, in the
 * user's cache folder (`$XDG_CACHE_HOME/infra/`, else `~/.cache/infra/`), one folder per registry named by a
 * hash of the registry root's real path, and every file authenticated with an HMAC key kept in that cache
 * folder (docs/reference.md "Derived state"). Whoever can write the registry (a merged pull request, a
 * `git add -f`'d cache, a shared checkout) cannot write there, and a cache copied from another machine,
 * user or registry path fails its HMAC: derived state can then only ever be what this user's infra wrote for
 * this registry. Anything in doubt (a folder another user owns or others may write, a missing key, a bad
 * tag) reads as "no derived state", which only costs a full parse.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { constants as fsc, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runProgram } from './run-program.js';
import { shellQuote } from '../lib/shell-quote.js';

/** The folder older versions kept derived state in, inside the registry: never read, never written. */
export const LEGACY_CACHE_DIR = '.infra-cache';

const KEY_FILE = 'hmac.key';
const KEY_BYTES = 32;
const HEADER = 'infra-derived-state 1 ';

/**
 * INFRA_CACHE_MIN_MEMBERS: below this many members no derived state is written; -1 (or anything that is
 * not a number >= 0) means derived state is never read nor written.
 */
export function derivedStateMinMembers(env: NodeJS.ProcessEnv = process.env): number {
  return Number(env.INFRA_CACHE_MIN_MEMBERS ?? 50);
}

export function derivedStateEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return derivedStateMinMembers(env) >= 0;
}

/** The user's infra cache folder (not created). */
export function cacheBase(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  // XDG Base Directory: a relative value is invalid and ignored
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache'), 'infra');
}

interface Place {
  dir: string;
  realRoot: string;
  base: string;
}

const uid = () => (typeof process.getuid === 'function' ? process.getuid() : -1);

/** A folder only this user may write: made 0700 if it is ours and laxer; undefined if it is not ours or a link. */
async function privateDir(dir: string, create: boolean): Promise<boolean> {
  if (create) await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await fs.lstat(dir);
  if (!st.isDirectory() || (uid() >= 0 && st.uid !== uid())) return false;
  if ((st.mode & 0o077) !== 0) await fs.chmod(dir, 0o700);
  return true;
}

async function place(root: string, create: boolean): Promise<Place | undefined> {
  if (!derivedStateEnabled()) return undefined;
  try {
    const realRoot = await fs.realpath(root);
    const base = cacheBase();
    if (!(await privateDir(base, create))) return undefined;
    const dir = path.join(base, createHash('sha256').update(realRoot).digest('hex').slice(0, 32));
    if (!(await privateDir(dir, create))) return undefined;
    return { dir, realRoot, base };
  } catch {
    return undefined; // no home, a read-only home, a folder we may not use: no derived state
  }
}

/** The HMAC key, created (0600, never through a link) when `create`; undefined when absent or not trustworthy. */
async function hmacKey(base: string, create: boolean): Promise<Buffer | undefined> {
  const file = path.join(base, KEY_FILE);
  const readKey = async () => {
    const handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      const st = await handle.stat();
      if (!st.isFile() || (uid() >= 0 && st.uid !== uid()) || (st.mode & 0o077) !== 0 || st.size !== KEY_BYTES) return undefined;
      const key = Buffer.alloc(KEY_BYTES);
      const { bytesRead } = await handle.read(key, 0, KEY_BYTES, 0);
      return bytesRead === KEY_BYTES ? key : undefined;
    } finally {
      await handle.close();
    }
  };
  try {
    return await readKey();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !create) return undefined;
  }
  try {
    const handle = await fs.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    try {
      await handle.writeFile(randomBytes(KEY_BYTES));
    } finally {
      await handle.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return undefined; // another infra made it meanwhile: use theirs
  }
  try {
    return await readKey();
  } catch {
    return undefined;
  }
}

/** The tag binds the body to this registry path and this file name: a file moved or copied elsewhere fails. */
function tag(key: Buffer, p: Place, name: string, body: string): Buffer {
  return createHmac('sha256', key).update(`${p.realRoot}\0${name}\0`).update(body).digest();
}

const safeName = (name: string) => /^[a-z0-9][a-z0-9._-]*(?:\/[a-z0-9][a-z0-9._-]*)?$/.test(name) && !name.includes('..');

/** The body of derived file `name` of the registry at `root` if this user's infra wrote it for this registry; else undefined. */
export async function readDerived(root: string, name: string): Promise<string | undefined> {
  if (!safeName(name)) return undefined;
  const p = await place(root, false);
  if (!p) return undefined;
  const key = await hmacKey(p.base, false);
  if (!key) return undefined;
  let text: string;
  try {
    const handle = await fs.open(path.join(p.dir, name), fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  const nl = text.indexOf('\n');
  if (nl < 0 || !text.startsWith(HEADER)) return undefined;
  const claimed = Buffer.from(text.slice(HEADER.length, nl), 'hex');
  const body = text.slice(nl + 1);
  const expected = tag(key, p, name, body);
  return claimed.length === expected.length && timingSafeEqual(claimed, expected) ? body : undefined;
}

/** Write derived file `name` (atomically, 0600). Best effort: without it the next command does the whole work. */
export async function writeDerived(root: string, name: string, body: string): Promise<void> {
  if (!safeName(name)) return;
  try {
    const p = await place(root, true);
    if (!p) return;
    const key = await hmacKey(p.base, true);
    if (!key) return;
    const file = path.join(p.dir, name);
    if (name.includes('/') && !(await privateDir(path.dirname(file), true))) return;
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(tmp, `${HEADER}${tag(key, p, name, body).toString('hex')}\n${body}`, { mode: 0o600, flag: 'wx' });
    await fs.rename(tmp, file);
  } catch {
    // a read-only or full home: derived state is an optimisation
  }
}

export async function removeDerived(root: string, name: string): Promise<void> {
  if (!safeName(name)) return;
  const p = await place(root, false);
  if (p) await fs.rm(path.join(p.dir, name), { force: true }).catch(() => undefined);
}

/** The folder holding the registry's derived state (created if needed), for tests and `--help` texts; undefined when off. */
export async function derivedStateDir(root: string): Promise<string | undefined> {
  return (await place(root, true))?.dir;
}

/**
 * A note for `check` and `audit` when the registry still holds the old in-registry cache folder, which
 * infra ignores (and, when git tracks it, whoever committed it hoped infra would trust it).
 */
export async function legacyCacheNote(root: string): Promise<string | undefined> {
  const st = await fs.lstat(path.join(root, LEGACY_CACHE_DIR)).catch(() => undefined);
  if (!st) return undefined;
  const listed = await runProgram('git', ['-C', root, 'ls-files', '-z', '--', LEGACY_CACHE_DIR], { timeoutMs: 10_000 }).catch(() => undefined);
  const tracked = listed?.code === 0 && listed.stdout.length > 0;
  return tracked
    ? `${LEGACY_CACHE_DIR}/ is committed to git: infra never reads it (derived state is kept in ${cacheBase()}); remove it: \`git rm -r --cached ${shellQuote(LEGACY_CACHE_DIR)} && rm -rf ${shellQuote(LEGACY_CACHE_DIR)}\` and commit`
    : `${LEGACY_CACHE_DIR}/ is left from an older infra and is never read (derived state is kept in ${cacheBase()}); delete it: \`rm -rf ${shellQuote(LEGACY_CACHE_DIR)}\``;
}
