import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { inspectInventories, previousRenders } from '../adapters/inventories.js';
import { loadRegistry, withLock, writeFileAtomic } from '../adapters/store.js';
import { environmentNames } from '../core/grants.js';
import { planRender } from '../core/render.js';
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
      const { inventories, problems } = await inspectInventories(loaded);
      if (problems.length) throw invalidRegistry(problems, 'fix these, then run `infra render` again (nothing was written)');
      const previous = await previousRenders(
        root,
        environments.map((e) => config.environments[e]),
      );
      const plan = planRender(loaded.registry, inventories, previous, { environments });
      const changed = [...plan.files].filter(([rel, content]) => previous.get(rel) !== content);
      if (writing) {
        for (const [rel, content] of changed) await writeFileAtomic(path.join(root, rel), content);
        for (const rel of plan.remove) await removeGenerated(root, rel);
      }
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
