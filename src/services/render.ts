/** `infra render`: grants and peers into each host's generated inventory file. */
import { inspectInventories, previousRenders } from '../adapters/inventories.js';
import { applyRender } from '../adapters/render-files.js';
import { environmentNames } from '../core/grants.js';
import { planRender } from '../core/render.js';
import { ExitCode, InfraError, invalidRegistry } from '../lib/errors.js';
import type { Context } from './context.js';

export interface RenderInput {
  env?: string;
  /** write nothing (--check, --dry-run) */
  dryRun?: boolean;
}

export interface RenderResult {
  /** Files written (or, without writing, that would be), relative to the registry root. */
  written: string[];
  removed: string[];
  unchanged: number;
}

/** Plan over the registry and inventories, then (unless a dry run) write only the files whose bytes change. */
export async function render(ctx: Context, input: RenderInput): Promise<RenderResult> {
  const work = async (): Promise<RenderResult> => {
    const loaded = await ctx.store.load();
    const known = environmentNames(loaded.registry.config);
    if (input.env !== undefined && !known.includes(input.env))
      throw new InfraError(ExitCode.invalid, `no environment "${input.env}" in infra.yml (known: ${known.join(', ') || 'none'})`, {
        hint: known.length ? `infra render --env ${known[0]}` : 'add an environment under environments: in infra.yml',
      });
    const environments = input.env === undefined ? known : [input.env];
    const { inventories, folders, problems } = await inspectInventories(loaded);
    if (problems.length) throw invalidRegistry(problems, 'fix these, then run `infra render` again (nothing was written)');
    const root = await ctx.store.root();
    const previous = await previousRenders(root, environments.map((e) => folders[e]));
    const plan = planRender(loaded.registry, inventories, previous, { environments, inventoryFolders: folders });
    const changed = [...plan.files].filter(([rel, content]) => previous.get(rel) !== content);
    if (!input.dryRun) await applyRender(root, changed, plan.remove);
    return { written: changed.map(([rel]) => rel), removed: plan.remove, unchanged: plan.unchanged };
  };
  return input.dryRun ? work() : ctx.store.withLock('render', work);
}
