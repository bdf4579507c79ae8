/**
 * Writing a planned render to disk: every target checked before the first write, each file atomic,
 * stale generated files removed with their host folder when nothing hand-written is left in it.
 */
import { accessSync, constants as fsConstants, lstatSync, promises as fs, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { GENERATED_FILE } from '../core/render.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { writeFileAtomic } from './atomic-write.js';

/** What a render session does to the disk; tests swap it to fail part-way. */
export interface RenderWriter {
  write(file: string, content: string | Uint8Array): Promise<void>;
  remove(root: string, rel: string): Promise<void>;
}

const diskWriter: RenderWriter = { write: (file, content) => writeFileAtomic(file, content), remove: removeGenerated };

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

/** One render's writes and removals (see renderSession). */
export interface RenderSession {
  /** Starts the change once fewer than `parallel` are under way; rejects with the first failure. */
  write(rel: string, content: string | Uint8Array): Promise<void>;
  remove(rel: string): Promise<void>;
  /** Waits for every change under way; rejects with the first failure, naming every change made. */
  finish(): Promise<void>;
}

/**
 * Writes and removals of one render, after assertWritable: a failure names the path and every change
 * already made (of `total`), each of which was atomic. With `parallel` above 1, that many changes are under
 * way at once (a disk syncs several files in about the time of one); after a failure no new one starts, and
 * the error waits for those under way so that it lists everything that was done.
 */
export function renderSession(root: string, total: number, writer: RenderWriter = diskWriter, parallel = 1): RenderSession {
  const done: string[] = [];
  const underWay = new Set<Promise<void>>();
  let failure: { verb: 'write' | 'remove'; rel: string; error: unknown } | undefined;
  const failed = (): Error => {
    const { verb, rel, error } = failure!;
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') return error as Error;
    const reason = `${code}: ${(error as Error).message}`;
    const already = done.length ? `; ${done.length} of ${total} changes were made before it (listed)` : '; nothing was changed';
    return new InfraError(ExitCode.invalid, `could not ${verb} ${rel} (${reason})${already}`, {
      hint: `fix the access to ${path.posix.dirname(rel)}, then run \`infra render\` again: it finishes what is left`,
      problems: [{ file: rel, field: 'render', message: reason }, ...done.map((f) => ({ file: f, field: 'render', message: 'already done (atomically)' }))],
      cause: error,
    });
  };
  const finish = async () => {
    while (underWay.size) await Promise.all(underWay);
    if (failure) throw failed();
  };
  const step = async (verb: 'write' | 'remove', rel: string, action: () => Promise<void>) => {
    while (underWay.size >= parallel && !failure) await Promise.race(underWay);
    if (failure) return finish();
    const change: Promise<void> = action().then(
      () => {
        done.push(rel);
      },
      (error: unknown) => {
        failure ??= { verb, rel, error };
      },
    );
    underWay.add(change);
    void change.then(() => underWay.delete(change));
    if (parallel === 1) return finish();
  };
  return {
    write: (rel, content) => step('write', rel, () => writer.write(path.join(root, rel), content)),
    remove: (rel) => step('remove', rel, () => writer.remove(root, rel)),
    finish,
  };
}

/**
 * Targets a write cannot reach: a file where a folder must be, a folder where the file must be, a folder we
 * may not write, or a path that a symbolic link leads out of the registry (never followed, docs/reference.md, "Render").
 * Synchronous and cached per path: thousands of targets share their first folders, and one awaited call per
 * path and target cost a second at 2,000 hosts where these take milliseconds.
 */
async function blockedTargets(root: string, rels: readonly string[]): Promise<Array<{ rel: string; reason: string; fix: string }>> {
  const realRoot = await fs.realpath(root);
  const cached = <T>(compute: (rel: string) => T) => {
    const known = new Map<string, T>();
    return (rel: string): T => {
      if (!known.has(rel)) known.set(rel, compute(rel));
      return known.get(rel)!;
    };
  };
  const lstatOf = cached((rel) => {
    try {
      return lstatSync(path.join(root, rel));
    } catch {
      return undefined; // absent, or under a file: nothing to follow
    }
  });
  /** Whether a folder on the way is a link leading out of the registry (or nowhere). */
  const leadsOut = cached((prefix) => {
    const real = (() => {
      try {
        return realpathSync(path.join(root, prefix));
      } catch {
        return undefined;
      }
    })();
    return real === undefined || !(real === realRoot || real.startsWith(realRoot + path.sep));
  });
  /** The first folder on the way to `rel` that is a link leading out of the registry, or nowhere. */
  const linkOut = (rel: string): string | undefined => {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const st = lstatOf(prefix);
      if (!st) return undefined;
      if (st.isSymbolicLink() && leadsOut(prefix)) return prefix;
    }
    return undefined;
  };
  const kindOf = cached((rel): 'dir' | 'file' | 'none' => {
    try {
      return statSync(path.join(root, rel)).isDirectory() ? 'dir' : 'file';
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return 'none';
      throw e;
    }
  });
  const notWritable = cached((dir): string | undefined => {
    try {
      accessSync(path.join(root, dir), fsConstants.W_OK);
      return undefined;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? 'unknown';
    }
  });
  const out: Array<{ rel: string; reason: string; fix: string }> = [];
  for (const rel of rels) {
    const link = linkOut(rel);
    if (link !== undefined) {
      out.push({ rel, reason: `${link} is a symbolic link that leads out of the registry: infra never writes through it`, fix: `replace the link ${link} with a real folder` });
      continue;
    }
    if (kindOf(rel) === 'dir') {
      out.push({ rel, reason: `${rel} is a folder, not a file`, fix: `move ${rel} out of the way` });
      continue;
    }
    // the nearest existing ancestor must be a folder we may write in
    let dir = path.posix.dirname(rel);
    let kind = kindOf(dir);
    while (kind === 'none' && dir !== '.' && dir !== '/') kind = kindOf((dir = path.posix.dirname(dir)));
    if (lstatOf(rel)?.isSymbolicLink()) {
      out.push({ rel, reason: `${rel} is a symbolic link: infra does not write through it`, fix: `remove the link ${rel}` });
      continue;
    }
    if (kind === 'file') out.push({ rel, reason: `${dir} is a file, not a folder`, fix: `move ${dir} out of the way` });
    else if (kind === 'dir') {
      const code = notWritable(dir);
      if (code !== undefined) out.push({ rel, reason: `${dir} is not writable (${code})`, fix: `make ${dir} writable` });
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
