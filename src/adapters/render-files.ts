/**
 * Writing a planned render to disk: every target checked before the first write, each file atomic,
 * stale generated files removed with their host folder when nothing hand-written is left in it.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { GENERATED_FILE } from '../core/render.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { writeFileAtomic } from './store.js';

/** What applyRender does to the disk; tests swap it to fail part-way. */
export interface RenderWriter {
  write(file: string, content: string): Promise<void>;
  remove(root: string, rel: string): Promise<void>;
}

const diskWriter: RenderWriter = { write: (file, content) => writeFileAtomic(file, content), remove: removeGenerated };

/**
 * Write the changed files, then remove the stale ones. Every target is checked first, so a folder in the
 * way fails before anything is written (exit 3, naming it). A failure past that point (a race, a full disk)
 * is exit 3 too, naming the path and every file already written or removed: each write is atomic, and
 * running `infra render` again finishes the job.
 */
export async function applyRender(root: string, changed: ReadonlyArray<readonly [string, string]>, remove: readonly string[], writer: RenderWriter = diskWriter): Promise<void> {
  await assertWritable(root, [...changed.map(([rel]) => rel), ...remove]);
  const session = renderSession(root, changed.length + remove.length, writer);
  for (const [rel, content] of changed) await session.write(rel, content);
  for (const rel of remove) await session.remove(rel);
}

/** Exit 3 naming every target a write cannot reach (see blockedTargets); nothing is written. */
export async function assertWritable(root: string, rels: readonly string[]): Promise<void> {
  const blocked = await blockedTargets(root, rels);
  if (blocked.length) {
    const problems = blocked.map((b) => ({ file: b.rel, field: 'render', message: b.reason }));
    throw new InfraError(ExitCode.invalid, problems.length === 1 ? `cannot write ${blocked[0].rel}: ${blocked[0].reason}` : `cannot write ${problems.length} generated files`, {
      hint: `${blocked[0].fix} (render writes host_vars/<host>/${GENERATED_FILE}), then run \`infra render\` again; nothing was written`,
      problems,
    });
  }
}

/**
 * Writes and removals of one render, after assertWritable: a failure names the path and every change
 * already made (of `total`), each of which was atomic.
 */
export function renderSession(root: string, total: number, writer: RenderWriter = diskWriter): { write(rel: string, content: string): Promise<void>; remove(rel: string): Promise<void> } {
  const done: string[] = [];
  const step = async (verb: 'write' | 'remove', rel: string, action: () => Promise<void>) => {
    try {
      await action();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (typeof code !== 'string') throw e;
      const reason = `${code}: ${(e as Error).message}`;
      const already = done.length ? `; ${done.length} of ${total} changes were made before it (listed)` : '; nothing was changed';
      throw new InfraError(ExitCode.invalid, `could not ${verb} ${rel} (${reason})${already}`, {
        hint: `fix the access to ${path.posix.dirname(rel)}, then run \`infra render\` again: it finishes what is left`,
        problems: [{ file: rel, field: 'render', message: reason }, ...done.map((f) => ({ file: f, field: 'render', message: 'already done (atomically)' }))],
        cause: e,
      });
    }
    done.push(rel);
  };
  return {
    write: (rel, content) => step('write', rel, () => writer.write(path.join(root, rel), content)),
    remove: (rel) => step('remove', rel, () => writer.remove(root, rel)),
  };
}

/**
 * Targets a write cannot reach: a file where a folder must be, a folder where the file must be, a folder we
 * may not write, or a path that a symbolic link leads out of the registry (never followed, SPEC §4).
 */
async function blockedTargets(root: string, rels: readonly string[]): Promise<Array<{ rel: string; reason: string; fix: string }>> {
  const realRoot = await fs.realpath(root);
  /** The first folder on the way to `rel` that is a link leading out of the registry, or nowhere. */
  const linkOut = async (rel: string): Promise<string | undefined> => {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const st = await fs.lstat(path.join(root, prefix)).catch(() => undefined);
      if (!st) return undefined;
      if (!st.isSymbolicLink()) continue;
      const real = await fs.realpath(path.join(root, prefix)).catch(() => undefined);
      if (real === undefined || !(real === realRoot || real.startsWith(realRoot + path.sep))) return prefix;
    }
    return undefined;
  };
  const kinds = new Map<string, Promise<'dir' | 'file' | 'none'>>();
  const kindOf = (rel: string) => {
    let k = kinds.get(rel);
    if (!k) {
      k = fs.stat(path.join(root, rel)).then(
        (s) => (s.isDirectory() ? 'dir' : 'file'),
        (e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return 'none';
          throw e;
        },
      );
      kinds.set(rel, k);
    }
    return k;
  };
  const out: Array<{ rel: string; reason: string; fix: string }> = [];
  for (const rel of rels) {
    const link = await linkOut(rel);
    if (link !== undefined) {
      out.push({ rel, reason: `${link} is a symbolic link that leads out of the registry: infra never writes through it`, fix: `replace the link ${link} with a real folder` });
      continue;
    }
    if ((await kindOf(rel)) === 'dir') {
      out.push({ rel, reason: `${rel} is a folder, not a file`, fix: `move ${rel} out of the way` });
      continue;
    }
    // the nearest existing ancestor must be a folder we may write in
    let dir = path.posix.dirname(rel);
    let kind = await kindOf(dir);
    while (kind === 'none' && dir !== '.' && dir !== '/') kind = await kindOf((dir = path.posix.dirname(dir)));
    const own = await fs.lstat(path.join(root, rel)).catch(() => undefined);
    if (own?.isSymbolicLink()) {
      out.push({ rel, reason: `${rel} is a symbolic link: infra does not write through it`, fix: `remove the link ${rel}` });
      continue;
    }
    if (kind === 'file') out.push({ rel, reason: `${dir} is a file, not a folder`, fix: `move ${dir} out of the way` });
    else if (kind === 'dir') {
      try {
        await fs.access(path.join(root, dir), fsConstants.W_OK);
      } catch (e) {
        out.push({ rel, reason: `${dir} is not writable (${(e as NodeJS.ErrnoException).code})`, fix: `make ${dir} writable` });
      }
    }
  }
  return out;
}

/** Remove a stale generated file, and its host folder only when nothing hand-written is left in it. */
async function removeGenerated(root: string, rel: string): Promise<void> {
  const file = path.join(root, rel);
  await fs.rm(file, { force: true });
  try {
    await fs.rmdir(path.dirname(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw e;
  }
}
