/** `infra render`: grants and peers into each host's generated inventory file. */
import { inspectInventories, inventoryFolder, previousRenders, shadowingProblems } from '../adapters/inventories.js';
import { readRenderStamp, renderStamp, writeRenderStamp } from '../adapters/render-stamp.js';
import { keepsDerivedState } from '../adapters/store.js';
import { applyRender } from '../adapters/render-files.js';
import { environmentNames } from '../core/grants.js';
import { hostVarsPrefix, planRender } from '../core/render.js';
import { ExitCode, InfraError, invalidRegistry } from '../lib/errors.js';
import { say, type Context } from './context.js';

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
  /** What was dropped from previous generated files (not in the form infra writes); each names its file. Only when there is any. */
  warnings?: string[];
}

/** Plan over the registry and inventories, then (unless a dry run) write only the files whose bytes change. */
export async function render(ctx: Context, input: RenderInput): Promise<RenderResult> {
  const work = async (cleanedTemps: string[] = []): Promise<RenderResult> => {
    const loaded = await ctx.store.load();
    const known = environmentNames(loaded.registry.config);
    if (input.env !== undefined && !known.includes(input.env))
      throw new InfraError(ExitCode.invalid, `no environment "${input.env}" in infra.yml (known: ${known.join(', ') || 'none'})`, {
        hint: known.length ? `infra render --env ${known[0]}` : 'add an environment under environments: in infra.yml',
      });
    const environments = input.env === undefined ? known : [input.env];
    const root = await ctx.store.root();
    // Nothing render reads changed since a render that found nothing to do: neither is there now.
    const stamp = keepsDerivedState(loaded.registry.members.length)
      ? await renderStamp(root, loaded, environments, await Promise.all(known.map((e) => inventoryFolder(root, loaded.registry.config.environments[e]))))
      : undefined;
    const recorded = stamp === undefined ? undefined : await readRenderStamp(root);
    if (stamp !== undefined && recorded?.stamp === stamp) {
      if (cleanedTemps.length) say(ctx, `removed ${cleanedTemps.length} temporary file(s) a killed infra left: ${cleanedTemps.join(', ')}`);
      return { written: [], removed: [], unchanged: recorded.unchanged };
    }
    const { inventories, folders, problems } = await inspectInventories(loaded);
    if (problems.length) throw invalidRegistry(problems, 'fix these, then run `infra render` again (nothing was written)');
    const envFolders = environments.map((e) => folders[e]);
    // Another vars file defining infra_* would override the generated one: refuse (SPEC §4, shadowed-render).
    const shadowing = await shadowingProblems(root, known.map((e) => folders[e]).filter((f) => f !== undefined));
    if (shadowing.length) throw invalidRegistry(shadowing, 'only `infra render` writes infra_* variables: remove each one named above, then run `infra render` again (nothing was written)');
    const previous = await previousRenders(root, envFolders);
    const plan = planRender(loaded.registry, inventories, previous, { environments, inventoryFolders: folders });
    for (const warning of plan.warnings) say(ctx, `warning: ${warning}`);
    const changed = [...plan.files].filter(([rel, content]) => previous.get(rel) !== content);
    if (!input.dryRun) {
      // Killed writers leave temporary copies (a render's hold key lists): the lock removed them before we write.
      if (cleanedTemps.length) say(ctx, `removed ${cleanedTemps.length} temporary file(s) a killed infra left: ${cleanedTemps.join(', ')}`);
      await applyRender(root, changed, plan.remove);
    }
    if (stamp !== undefined) {
      const nothingToDo = changed.length === 0 && plan.remove.length === 0 && plan.warnings.length === 0;
      await writeRenderStamp(root, nothingToDo ? { stamp, unchanged: plan.unchanged } : undefined);
    }
    return { written: changed.map(([rel]) => rel), removed: plan.remove, unchanged: plan.unchanged, ...(plan.warnings.length ? { warnings: plan.warnings } : {}) };
  };
  return input.dryRun ? work() : ctx.store.withLock('render', work);
}
