/** `infra render` through oclif (needs `npm run build`): flags, --json, --check, --dry-run, bad input. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '@oclif/test';
import { writeFileAtomic } from '../../src/adapters/atomic-write.js';
import { assertWritable, renderSession, type RenderWriter } from '../../src/adapters/render-files.js';
import { InfraError } from '../../src/lib/errors.js';
import { baseConfig, ed25519Line, makeRegistry, memberData, updateMember, type RegistryFixture } from '../helpers/registry-fixture.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const run = (args: string[]) => runCommand(args, { root: REPO });
const exitOf = (r: { error?: { oclif?: { exit?: number } } }) => (r.error ? (r.error.oclif?.exit ?? 1) : 0);

/** What services/render.ts does with the files a plan changed: check every target, then write them one at a time. */
async function applyRender(root: string, changed: ReadonlyArray<readonly [string, string]>, writer: RenderWriter): Promise<void> {
  await assertWritable(root, changed.map(([rel]) => rel));
  const session = renderSession(root, changed.length, writer);
  for (const [rel, content] of changed) await session.write(rel, content);
  await session.finish();
}

const HOSTS_YML = 'all:\n  children:\n    bbb:\n      hosts:\n        bbb1:\n        bbb2:\n    web:\n      hosts:\n        web1:\n';
const fixture = (over: Partial<RegistryFixture> = {}, configOver: Record<string, unknown> = {}): RegistryFixture => ({
  config: baseConfig({
    environments: { production: 'inventories/production', staging: 'inventories/staging' },
    access: [
      { groups: ['infra'], hosts: 'all', user: 'sysadmin' },
      { groups: ['meet-tech'], hosts: 'bbb', user: 'sysadmin' },
    ],
    ...configOver,
  }),
  members: {
    alice: memberData('alice', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: ed25519Line('alice'), added: '2026-01-01' }] }),
    bob: memberData('bob', { groups: ['meet-tech'], ssh_keys: [{ name: 'laptop', key: ed25519Line('bob'), added: '2026-01-01' }] }),
  },
  files: { 'inventories/production/hosts.yml': HOSTS_YML, 'inventories/staging/hosts': '[bbb]\nbbb-s1\n' },
  ...over,
});
const gen = (env: string, host: string) => `inventories/${env}/host_vars/${host}/infra.generated.yml`;
const ALL = [gen('production', 'bbb1'), gen('production', 'bbb2'), gen('production', 'web1'), gen('staging', 'bbb-s1')];

async function listFiles(root: string, under = 'inventories'): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(r);
      else out.push(r);
    }
  };
  await walk(under);
  return out.sort();
}

describe('infra render', () => {
  it('writes every host file, reports it as JSON, and a second run changes no byte and no mtime', async () => {
    const root = await makeRegistry(fixture());
    const first = await run(['render', '--dir', root, '--json']);
    expect(exitOf(first)).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ written: ALL, removed: [], unchanged: 0 });
    const mtimes = await Promise.all(ALL.map(async (f) => (await fs.stat(path.join(root, f))).mtimeMs));
    const texts = await Promise.all(ALL.map((f) => fs.readFile(path.join(root, f), 'utf8')));

    const second = await run(['render', '--dir', root, '--json']);
    expect(JSON.parse(second.stdout)).toEqual({ written: [], removed: [], unchanged: 4 });
    expect(await Promise.all(ALL.map(async (f) => (await fs.stat(path.join(root, f))).mtimeMs))).toEqual(mtimes);
    expect(await Promise.all(ALL.map((f) => fs.readFile(path.join(root, f), 'utf8')))).toEqual(texts);
    expect(await fs.readdir(root)).not.toContain('.infra.lock');
  });

  it('--check exits 4 on drift, lists the files and writes nothing; 0 once rendered', async () => {
    const root = await makeRegistry(fixture());
    const drift = await run(['render', '--dir', root, '--check', '--json']);
    expect(exitOf(drift)).toBe(4);
    expect(JSON.parse(drift.stdout)).toEqual({ written: ALL, removed: [], unchanged: 0 });
    expect(await listFiles(root)).toEqual(['inventories/production/hosts.yml', 'inventories/staging/hosts']);

    await run(['render', '--dir', root]);
    const clean = await run(['render', '--dir', root, '--check']);
    expect(exitOf(clean)).toBe(0);
    expect(clean.stderr).toMatch(/up to date/);

    // a hand edit of a generated file is drift too
    await fs.appendFile(path.join(root, ALL[0]), '# edited\n');
    const edited = await run(['render', '--dir', root, '--check']);
    expect(exitOf(edited)).toBe(4);
    expect(edited.stdout).toContain(ALL[0]);
  });

  it('--dry-run prints the plan and writes nothing', async () => {
    const root = await makeRegistry(fixture());
    const r = await run(['render', '--dir', root, '--dry-run']);
    expect(exitOf(r)).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(ALL.map((f) => `write  ${f}`));
    expect(r.stderr).toMatch(/nothing was written/);
    expect(await listFiles(root)).toEqual(['inventories/production/hosts.yml', 'inventories/staging/hosts']);
  });

  it('--env renders one environment; an unknown one is refused with the known names', async () => {
    const root = await makeRegistry(fixture());
    const r = await run(['render', '--dir', root, '--env', 'staging', '--json']);
    expect(JSON.parse(r.stdout).written).toEqual([gen('staging', 'bbb-s1')]);
    const bad = await run(['render', '--dir', root, '--env', 'prod', '--json']);
    expect(exitOf(bad)).toBe(3);
    expect(JSON.parse(bad.stdout).error.message).toMatch(/no environment "prod".*production, staging/);
  });

  it('removes files of hosts no longer reached, never hand-written files beside them', async () => {
    const root = await makeRegistry(fixture());
    await run(['render', '--dir', root]);
    await fs.writeFile(path.join(root, 'inventories/production/host_vars/bbb2/custom.yml'), 'mine: true\n');
    await fs.writeFile(path.join(root, 'inventories/production/hosts.yml'), 'all:\n  children:\n    web:\n      hosts:\n        web1:\n');
    const r = await run(['render', '--dir', root, '--json']);
    // bbb still exists in staging, so the grant is fine; bbb1 and bbb2 are gone from production
    expect(JSON.parse(r.stdout)).toEqual({ written: [], removed: [gen('production', 'bbb1'), gen('production', 'bbb2')], unchanged: 2 });
    expect(await fs.readFile(path.join(root, 'inventories/production/host_vars/bbb2/custom.yml'), 'utf8')).toBe('mine: true\n');
    await expect(fs.stat(path.join(root, 'inventories/production/host_vars/bbb1'))).rejects.toThrow(/ENOENT/);
  });

  it('an environment naming an INI hosts file renders into host_vars/ beside it, stably, and cleans up there', async () => {
    const root = await makeRegistry(fixture({}, { environments: { production: 'inventories/production', staging: 'inventories/staging/hosts' } }));
    const first = await run(['render', '--dir', root, '--json']);
    expect(exitOf(first)).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ written: ALL, removed: [], unchanged: 0 });
    expect(await listFiles(root, 'inventories/staging')).toEqual(['inventories/staging/host_vars/bbb-s1/infra.generated.yml', 'inventories/staging/hosts']);

    const second = await run(['render', '--dir', root, '--json']);
    expect(JSON.parse(second.stdout)).toEqual({ written: [], removed: [], unchanged: 4 });
    expect(exitOf(await run(['render', '--dir', root, '--check']))).toBe(0);

    // the previous render is found there too: a host leaving the INI file loses its file
    await fs.writeFile(path.join(root, 'inventories/staging/hosts'), '[bbb]\nbbb-s2\n');
    const third = await run(['render', '--dir', root, '--env', 'staging', '--json']);
    expect(JSON.parse(third.stdout)).toEqual({ written: [gen('staging', 'bbb-s2')], removed: [gen('staging', 'bbb-s1')], unchanged: 0 });
  });

  it('a target it cannot write fails with exit 3 naming it, before any file of the tree changes', async () => {
    const root = await makeRegistry(fixture());
    await run(['render', '--dir', root]);
    // every file changes (a new key for alice), and host_vars/bbb1 is now a file where a folder must be
    await updateMember(root, 'alice', { ssh_keys: [{ name: 'laptop', key: ed25519Line('alice'), added: '2026-01-01' }, { name: 'phone', key: ed25519Line('alice-phone'), added: '2026-01-01' }] });
    const blocker = 'inventories/production/host_vars/bbb1';
    await fs.rm(path.join(root, blocker), { recursive: true });
    await fs.writeFile(path.join(root, blocker), 'ntp: pool.example # a vars file Ansible loads for bbb1, in the way of the folder\n');
    const others = ALL.filter((f) => !f.startsWith(`${blocker}/`));
    const before = await Promise.all(others.map((f) => fs.readFile(path.join(root, f), 'utf8')));

    const r = await run(['render', '--dir', root]);
    expect(exitOf(r)).toBe(3);
    expect(r.stderr).toContain(`${blocker} is a file, not a folder`);
    expect(r.stderr).toMatch(/hint: move inventories\/production\/host_vars\/bbb1 out of the way.*nothing was written/);
    expect(r.stderr).not.toMatch(/this is a bug/);
    expect(await Promise.all(others.map((f) => fs.readFile(path.join(root, f), 'utf8')))).toEqual(before);
    const json = await run(['render', '--dir', root, '--json']);
    expect(JSON.parse(json.stdout).error.problems).toEqual([{ file: gen('production', 'bbb1'), field: 'render', message: `${blocker} is a file, not a folder` }]);

    // once it is out of the way, the same command finishes the job
    await fs.rm(path.join(root, blocker));
    expect(exitOf(await run(['render', '--dir', root]))).toBe(0);
    expect(exitOf(await run(['render', '--dir', root, '--check']))).toBe(0);
  });

  it('a write failing part-way is exit 3 naming the path and listing what was already written', async () => {
    const root = await makeRegistry({ files: {} });
    const [a, b, c] = ['a', 'b', 'c'].map((h) => `inventories/production/host_vars/${h}/infra.generated.yml`);
    const failing = {
      write: async (file: string, content: string) => {
        if (file.endsWith(`${path.sep}b${path.sep}infra.generated.yml`)) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
        await writeFileAtomic(file, content);
      },
      remove: async () => undefined,
    };
    const error = await applyRender(root, [[a, 'A\n'], [b, 'B\n'], [c, 'C\n']], failing).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InfraError);
    const infra = error as InfraError;
    expect(infra.exitCode).toBe(3);
    expect(infra.message).toMatch(new RegExp(`^could not write ${b} \\(ENOSPC: no space left on device\\); 1 of 3 changes were made before it`));
    expect(infra.problems.map((p) => p.file)).toEqual([b, a]);
    expect(await fs.readFile(path.join(root, a), 'utf8')).toBe('A\n');
    await expect(fs.stat(path.join(root, c))).rejects.toThrow(/ENOENT/);
  });

  describe('bad input: exit 3, the problem named, nothing written', () => {
    const cases: [string, RegistryFixture, RegExp][] = [
      ['a grant naming a group no inventory has', fixture({}, { access: [{ groups: ['infra'], hosts: 'bbbb', user: 'sysadmin' }] }), /infra\.yml:\d+: access\[0\]\.hosts: .*'bbbb' matches no host or group.*closest: bbb, bbb1, bbb2/],
      ['a host pattern with a syntax error', fixture({}, { access: [{ groups: ['infra'], hosts: 'bbb:&', user: 'sysadmin' }] }), /access\[0\]\.hosts: .*not valid/],
      [
        'an inventory that does not parse',
        fixture({ files: { 'inventories/production/hosts.yml': 'all:\n  hosts:\n    bbb1:\n   bad: [\n', 'inventories/staging/hosts': '[bbb]\nbbb-s1\n' } }),
        /inventories\/production\/hosts\.yml:\d+: inventory: YAML syntax error/,
      ],
      ['a host name that would escape host_vars/', fixture({ files: { 'inventories/production/hosts': '[bbb]\n../x\n', 'inventories/staging/hosts': '[bbb]\nbbb-s1\n' } }), /inventories\/production\/hosts:2: .*escape/],
      [
        'two environments sharing one host_vars/ (a folder, and an inventory file inside it)',
        fixture({}, { environments: { production: 'inventories/production', staging: 'inventories/production/hosts.yml' } }),
        /infra\.yml:\d+: environments\.staging: inventories\/production\/hosts\.yml keeps its host_vars\/ in inventories\/production\/, as environments\.production does/,
      ],
      ['a missing environment folder', fixture({ files: { 'inventories/production/hosts.yml': HOSTS_YML } }), /infra\.yml:\d+: environments\.staging: inventories\/staging does not exist/],
      [
        'a member key whose comment carries a second line',
        fixture({
          members: {
            alice: memberData('alice', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: `${ed25519Line('alice')}\n${ed25519Line('mallory')}`, added: '2026-01-01' }] }),
          },
        }),
        /keys\/alice\/member\.yml:\d+: ssh_keys\[0\]\.key: .*line break/,
      ],
    ];
    it.each(cases)('%s', async (_why, fx, message) => {
      const root = await makeRegistry(fx);
      const r = await run(['render', '--dir', root]);
      expect(exitOf(r)).toBe(3);
      expect(r.stderr).toMatch(message);
      const written = (await listFiles(root)).filter((f) => f.includes('host_vars'));
      expect(written).toEqual([]);
    });
  });
});
