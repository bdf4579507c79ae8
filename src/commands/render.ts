import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { inspectInventories, previousRenders } from '../adapters/inventories.js';
import { loadRegistry, withLock, writeFileAtomic } from '../adapters/store.js';
import { environmentNames } from '../core/grants.js';
import { GENERATED_FILE, planRender } from '../core/render.js';
import { InfraCommand } from '../lib/base-command.js';
import { ExitCode, InfraError, invalidRegistry } from '../lib/errors.js';

export interface RenderResult {
  /** Files written (or, with --check / --dry-run, that would be), relative to the registry root. */
  written: string[];
  removed: string[];
  unchanged: number;
}

export default class Render extends InfraCommand<RenderResult> {
  static override summary = 'Write the generated inventory files: authorized_keys lines and WireGuard peers per host.';
  static override description = `Resolves infra.yml's grants over each environment's Ansible inventory and writes inventories/<env>/host_vars/<host>/infra.generated.yml for every host a grant (or a VPN network's \`servers\`) reaches: infra_authorized_keys (remote user -> complete list of lines), infra_revoked_keys (departed members' and removed keys, for state: absent) and infra_wireguard_peers.
Everything is planned before anything is written; only files whose content changes are rewritten (atomically), files of hosts no longer reached are removed, and hand-written files in host_vars/<host>/ are never touched.
--check writes nothing and exits 4 when anything would change (a CI gate). Apply the result with the shipped playbook: ansible-playbook -i inventories/<env> ansible/apply-access.yml`;
  static override examples = [
    '<%= config.bin %> render',
    '<%= config.bin %> render --env production --dry-run',
    '<%= config.bin %> render --check            # CI: exit 4 if the committed files are stale',
    '<%= config.bin %> render --json',
  ];
  static override flags = {
    env: Flags.string({ description: 'render only this environment (a name under environments: in infra.yml)' }),
    check: Flags.boolean({ description: 'write nothing; exit 4 if any file would change' }),
    'dry-run': Flags.boolean({ description: 'write nothing; print what would be written and removed' }),
  };

  async run(): Promise<RenderResult> {
    const { flags } = await this.parseWith(Render);
    const root = await this.root();
    const writing = !flags.check && !flags['dry-run'];

    const work = async () => {
      const loaded = await loadRegistry(root);
      const config = loaded.registry.config;
      const known = environmentNames(config);
      if (flags.env !== undefined && !known.includes(flags.env))
        throw new InfraError(ExitCode.invalid, `no environment "${flags.env}" in infra.yml (known: ${known.join(', ') || 'none'})`, {
          hint: known.length ? `infra render --env ${known[0]}` : 'add an environment under environments: in infra.yml',
        });
      const environments = flags.env === undefined ? known : [flags.env];
      const { inventories, folders, problems } = await inspectInventories(loaded);
      if (problems.length) throw invalidRegistry(problems, 'fix these, then run `infra render` again (nothing was written)');
      const previous = await previousRenders(
        root,
        environments.map((e) => folders[e]),
      );
      const plan = planRender(loaded.registry, inventories, previous, { environments, inventoryFolders: folders });
      const changed = [...plan.files].filter(([rel, content]) => previous.get(rel) !== content);
      if (writing) await applyRender(root, changed, plan.remove);
      return { written: changed.map(([rel]) => rel), removed: plan.remove, unchanged: plan.unchanged } satisfies RenderResult;
    };
    const result = writing ? await withLock(root, 'render', work) : await work();

    const drift = result.written.length + result.removed.length > 0;
    if (!this.jsonEnabled() && (!writing || drift)) {
      const lines = [...result.written.map((f) => `${writing ? 'wrote' : 'write'}  ${f}`), ...result.removed.map((f) => `${writing ? 'removed' : 'remove'} ${f}`)];
      if (lines.length) this.out(lines.join('\n'));
    }
    const counts = `${result.written.length} written, ${result.removed.length} removed, ${result.unchanged} unchanged`;
    if (flags.check) {
      if (drift) {
        this.say(`the generated files are out of date (${counts.replace('written', 'to write').replace('removed', 'to remove')}): run \`infra render\` and commit the result`);
        return this.finishWith(ExitCode.checkFailed, result);
      }
      this.say(`the generated files are up to date (${result.unchanged} files)`);
    } else if (flags['dry-run']) this.say(`dry run: ${counts.replace('written', 'to write').replace('removed', 'to remove')}; nothing was written`);
    else this.say(drift ? `${counts}. Apply: ansible-playbook -i inventories/<env> ansible/apply-access.yml` : `nothing to do: ${result.unchanged} files up to date`);
    return result;
  }
}

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
  const blocked = await blockedTargets(root, [...changed.map(([rel]) => rel), ...remove]);
  if (blocked.length) {
    const problems = blocked.map((b) => ({ file: b.rel, field: 'render', message: b.reason }));
    throw new InfraError(ExitCode.invalid, problems.length === 1 ? `cannot write ${blocked[0].rel}: ${blocked[0].reason}` : `cannot write ${problems.length} generated files`, {
      hint: `${blocked[0].fix} (render writes host_vars/<host>/${GENERATED_FILE}), then run \`infra render\` again; nothing was written`,
      problems,
    });
  }
  const done: string[] = [];
  const step = async (verb: 'write' | 'remove', rel: string, action: () => Promise<void>) => {
    try {
      await action();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (typeof code !== 'string') throw e;
      const reason = `${code}: ${(e as Error).message}`;
      const already = done.length ? `; ${done.length} of ${changed.length + remove.length} changes were made before it (listed)` : '; nothing was changed';
      throw new InfraError(ExitCode.invalid, `could not ${verb} ${rel} (${reason})${already}`, {
        hint: `fix the access to ${path.posix.dirname(rel)}, then run \`infra render\` again: it finishes what is left`,
        problems: [{ file: rel, field: 'render', message: reason }, ...done.map((f) => ({ file: f, field: 'render', message: 'already done (atomically)' }))],
        cause: e,
      });
    }
    done.push(rel);
  };
  for (const [rel, content] of changed) await step('write', rel, () => writer.write(path.join(root, rel), content));
  for (const rel of remove) await step('remove', rel, () => writer.remove(root, rel));
}

/** Targets a write cannot reach: a file where a folder must be, a folder where the file must be, or a folder we may not write. */
async function blockedTargets(root: string, rels: readonly string[]): Promise<Array<{ rel: string; reason: string; fix: string }>> {
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
    if ((await kindOf(rel)) === 'dir') {
      out.push({ rel, reason: `${rel} is a folder, not a file`, fix: `move ${rel} out of the way` });
      continue;
    }
    // the nearest existing ancestor must be a folder we may write in
    let dir = path.posix.dirname(rel);
    let kind = await kindOf(dir);
    while (kind === 'none' && dir !== '.' && dir !== '/') kind = await kindOf((dir = path.posix.dirname(dir)));
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
