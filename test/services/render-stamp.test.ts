/**
 * Render's stamp (render.json in the registry's derived state): once a render found nothing to do, the next one with the same
 * registry, inventories, vars and generated files does nothing without reading them; any change to what
 * render reads (a hand edit of a generated file, even to the same size; a host; a member; a vars file
 * defining infra_*; a link; a killed render's temporary file) makes it do the whole work again.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { render } from '../../src/services/render.js';
import { testContext } from '../helpers/context.js';
import { rejection } from '../helpers/thrown.js';
import { baseConfig, ed25519Line, keyBody, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { keepDerivedStateForSmallRegistries, readDerivedBody, rewriteDerived } from '../helpers/derived-state.js';

const A = keyBody(ed25519Line('alice'));
const B = keyBody(ed25519Line('bob'));
const BBB1 = 'inventories/production/host_vars/bbb1/infra.generated.yml';
const STAMP = 'render.json';

keepDerivedStateForSmallRegistries(); // a two-member registry keeps derived state too

/** A registry rendered twice: the second render found nothing to do and recorded the stamp. */
async function stamped(): Promise<string> {
  const root = await makeRegistry({
    config: baseConfig({ access: [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }] }),
    members: { alice: memberData('alice', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: `${A} a`, added: '2026-01-01' }] }) },
    files: { 'inventories/production/hosts.yml': 'all:\n  hosts:\n    bbb1:\n    bbb2:\n' },
  });
  expect((await render(testContext({ root }), {})).written).toHaveLength(2);
  expect(await readDerivedBody(root, STAMP)).toBeUndefined(); // a render that wrote records nothing
  expect(await render(testContext({ root }), {})).toEqual({ written: [], removed: [], unchanged: 2 });
  expect(await readDerivedBody(root, STAMP)).toBeDefined();
  return root;
}

describe('render stamp', () => {
  it('a render after one that found nothing to do reports the same, and keeps the stamp', async () => {
    const root = await stamped();
    const before = (await readDerivedBody(root, STAMP))!;
    expect(await render(testContext({ root }), {})).toEqual({ written: [], removed: [], unchanged: 2 });
    expect(await readDerivedBody(root, STAMP)).toBe(before);
    // and the answer is the recorded one (not worked out again): a recorded count comes back as it is
    await rewriteDerived(root, STAMP, JSON.stringify({ ...JSON.parse(before), unchanged: 99 }));
    expect(await render(testContext({ root }), {})).toMatchObject({ written: [], unchanged: 99 });
  });

  it('keeps no stamp for a registry below INFRA_CACHE_MIN_MEMBERS', async () => {
    process.env.INFRA_CACHE_MIN_MEMBERS = '5';
    const root = await makeRegistry({ config: baseConfig({}), members: { alice: memberData('alice', {}) }, files: { 'inventories/production/hosts.yml': 'all:\n  hosts:\n    bbb1:\n' } });
    await render(testContext({ root }), {});
    await render(testContext({ root }), {});
    expect(await readDerivedBody(root, STAMP)).toBeUndefined();
  });

  it('a generated file edited by hand, to the same size, is written again', async () => {
    const root = await stamped();
    const text = await fs.readFile(path.join(root, BBB1), 'utf8');
    const edited = text.replace('alice/laptop', 'alice/laptoq');
    expect(edited).not.toBe(text);
    await fs.writeFile(path.join(root, BBB1), edited);
    expect((await render(testContext({ root }), {})).written).toEqual([BBB1]);
    expect(await fs.readFile(path.join(root, BBB1), 'utf8')).toBe(text);
  });

  it('a generated file removed is written again', async () => {
    const root = await stamped();
    await fs.rm(path.join(root, BBB1));
    expect((await render(testContext({ root }), {})).written).toEqual([BBB1]);
  });

  it('a new host in the inventory gets its file', async () => {
    const root = await stamped();
    await fs.appendFile(path.join(root, 'inventories/production/hosts.yml'), '    bbb3:\n');
    expect((await render(testContext({ root }), {})).written).toEqual(['inventories/production/host_vars/bbb3/infra.generated.yml']);
  });

  it('a member file changed (a key added) is rendered', async () => {
    const root = await stamped();
    const file = path.join(root, 'keys/alice/member.yml');
    const text = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, text.replace(/ssh_keys:\n/, `ssh_keys:\n  - name: desktop\n    key: ${B} b\n    added: 2026-01-02\n`));
    const result = await render(testContext({ root }), {});
    expect(result.written).toHaveLength(2);
    expect(await fs.readFile(path.join(root, BBB1), 'utf8')).toContain(B);
  });

  it('a vars file defining infra_* makes it refuse', async () => {
    const root = await stamped();
    await fs.mkdir(path.join(root, 'inventories/production/group_vars'), { recursive: true });
    await fs.writeFile(path.join(root, 'inventories/production/group_vars/all.yml'), 'infra_authorized_keys: {}\n');
    const e = await rejection(render(testContext({ root }), {}));
    expect(e.exitCode).toBe(3);
    expect(e.problems.map((p) => p.file)).toEqual(['inventories/production/group_vars/all.yml']);
  });

  it('a killed render\'s temporary file is removed and reported', async () => {
    const root = await stamped();
    const deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8', timeout: 10_000 }).stdout);
    const temp = `.infra.generated.yml.${deadPid}.0123abcd.tmp`;
    await fs.writeFile(path.join(root, 'inventories/production/host_vars/bbb1', temp), 'partial');
    const ctx = testContext({ root });
    expect(await render(ctx, {})).toMatchObject({ written: [], unchanged: 2 });
    expect(ctx.output.stderr).toContain(temp);
    expect(await fs.readdir(path.join(root, 'inventories/production/host_vars/bbb1'))).toEqual(['infra.generated.yml']);
  });

  it('a link inside the inventory folder is never trusted to a stamp: the full checks run', async () => {
    const root = await stamped();
    await fs.rm(path.join(root, 'inventories/production/host_vars/bbb2'), { recursive: true });
    await fs.symlink('/tmp', path.join(root, 'inventories/production/host_vars/bbb2'));
    const e = await rejection(render(testContext({ root }), {}));
    expect(e.exitCode).toBe(3);
    expect(e.problems.map((p) => p.file)).toContain('inventories/production/host_vars/bbb2');
  });
});
