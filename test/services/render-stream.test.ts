/**
 * `infra render` makes and writes one file at a time (renderTargets), not the whole plan at once: what it
 * writes, removes, counts and warns about is exactly what planRender says for the same registry and
 * previous files, across new files, changed ones, unchanged ones, a removed host and a junk previous file.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadInventories, previousRenders } from '../../src/adapters/inventories.js';
import { loadRegistry } from '../../src/adapters/registry-load.js';
import { planRender } from '../../src/core/render.js';
import { render } from '../../src/services/render.js';
import { testContext } from '../helpers/context.js';
import { baseConfig, ed25519Line, keyBody, makeRegistry, memberData, updateMember } from '../helpers/registry-fixture.js';

const A = keyBody(ed25519Line('alice'));
const B = keyBody(ed25519Line('bob'));
const HOSTS = 'inventories/production/hosts.yml';
const hostVars = (host: string) => `inventories/production/host_vars/${host}/infra.generated.yml`;

async function expectedPlan(root: string) {
  const loaded = await loadRegistry(root);
  const previous = await previousRenders(root, ['inventories/production']);
  return { plan: planRender(loaded.registry, await loadInventories(loaded), previous), previous };
}

it('writes, removes, counts and warns exactly as planRender plans, file by file', async () => {
  const root = await makeRegistry({
    config: baseConfig({ access: [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }, { groups: ['web'], hosts: 'web*', user: 'deploy' }] }),
    members: {
      alice: memberData('alice', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: `${A} a`, added: '2026-01-01' }] }),
      bob: memberData('bob', { groups: ['web'], ssh_keys: [{ name: 'laptop', key: `${B} b`, added: '2026-01-01' }] }),
    },
    files: { [HOSTS]: 'all:\n  hosts:\n    db1:\n    web1:\n    web2:\n    gone1:\n' },
  });
  await render(testContext({ root }), {});
  // bob leaves the web group (web1, web2 change), web3 is new, gone1 leaves the inventory (its file goes),
  // and a junk line planted in db1's file is dropped with a warning.
  await updateMember(root, 'bob', { groups: [] });
  await fs.writeFile(path.join(root, HOSTS), 'all:\n  hosts:\n    db1:\n    web1:\n    web2:\n    web3:\n');
  const db1 = path.join(root, hostVars('db1'));
  await fs.writeFile(db1, (await fs.readFile(db1, 'utf8')).replace('infra_revoked_keys: {}', "infra_revoked_keys:\n  root:\n    - 'not a key line'"));

  const { plan, previous } = await expectedPlan(root);
  const changed = [...plan.files].filter(([rel, content]) => previous.get(rel) !== content).map(([rel]) => rel);
  expect(changed.length).toBeGreaterThanOrEqual(3);
  expect(plan.remove).toEqual([hostVars('gone1')]);
  expect(plan.warnings.length).toBeGreaterThan(0);

  const ctx = testContext({ root });
  const result = await render(ctx, {});
  expect(result).toEqual({ written: changed, removed: plan.remove, unchanged: plan.unchanged, warnings: plan.warnings });
  for (const [rel, content] of plan.files) expect([rel, await fs.readFile(path.join(root, rel), 'utf8')]).toEqual([rel, content]);
  await expect(fs.access(path.join(root, hostVars('gone1')))).rejects.toThrow();
  for (const warning of plan.warnings) expect(ctx.output.stderr).toContain(`warning: ${warning}`);
  // and now there is nothing to do
  expect(await render(testContext({ root }), {})).toEqual({ written: [], removed: [], unchanged: plan.files.size });
});
