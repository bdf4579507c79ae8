/**
 * `infra render` over a registry on disk, for the holes that live in the file system:
 *  - hole 2: a planted previous render is dropped with a warning on stderr, and --check reports the file;
 *  - hole 5: another vars file defining an infra_* variable makes render refuse (exit 3, file and variable);
 *  - hole 6: a link out of the registry is never followed: host_vars/<host> linked outside is refused by
 *    name and nothing is written there; a linked member.yml (to a secret file) or member folder is reported
 *    by name and its content never printed;
 *  - hole 9: temporary files a killed render left are removed on the next run (dead pids only), and a
 *    killed render's leftovers never reach `git add -A` after the next run.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '@oclif/test';
import { render } from '../../src/services/render.js';
import { testContext } from '../helpers/context.js';
import { rejection } from '../helpers/thrown.js';
import { baseConfig, ed25519Line, keyBody, makeRegistry, memberData } from '../helpers/registry-fixture.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const cli = (args: string[]) => runCommand(args, { root: REPO });
const exitOf = (r: { error?: { oclif?: { exit?: number } } }) => (r.error ? (r.error.oclif?.exit ?? 1) : 0);

const A = keyBody(ed25519Line('alice'));
const BBB1 = 'inventories/production/host_vars/bbb1/infra.generated.yml';
const PLANT = "{{ lookup('pipe', 'touch /tmp/infra-planted') }}";

const registry = (files: Record<string, string> = {}) =>
  makeRegistry({
    config: baseConfig({ access: [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }] }),
    members: { alice: memberData('alice', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: `${A} a`, added: '2026-01-01' }] }) },
    files: { 'inventories/production/hosts.yml': 'all:\n  hosts:\n    bbb1:\n    bbb2:\n', ...files },
  });

const tmpDirs: string[] = [];
afterAll(async () => {
  for (const d of tmpDirs) await fs.rm(d, { recursive: true, force: true });
});
const outsideDir = async () => {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-outside-'));
  tmpDirs.push(d);
  return d;
};

describe('hole 2: a planted previous render', () => {
  it('is dropped with a warning naming the file, and --check reports the file as changed', async () => {
    const root = await registry();
    const ctx = testContext({ root });
    await render(ctx, {});
    const text = await fs.readFile(path.join(root, BBB1), 'utf8');
    await fs.writeFile(path.join(root, BBB1), text.replace('infra_revoked_keys: {}', `infra_revoked_keys:\n  '${PLANT.replace(/'/g, "''")}':\n    - '${A} x/y'`));

    const check = await cli(['render', '--dir', root, '--check']);
    expect(exitOf(check)).toBe(4);
    expect(check.stdout).toContain(BBB1);
    expect(check.stderr).toContain(`warning: ${BBB1}: dropped the remote user`);

    const fix = testContext({ root });
    const result = await render(fix, {});
    expect(result.written).toEqual([BBB1]);
    expect(result.warnings).toHaveLength(1);
    expect(fix.output.stderr).toMatch(/^warning: inventories\/production\/host_vars\/bbb1\/infra\.generated\.yml: dropped the remote user/m);
    expect(await fs.readFile(path.join(root, BBB1), 'utf8')).toBe(text);
  });
});

describe('hole 5: another vars file defining infra_*', () => {
  it.each([
    ['inventories/production/host_vars/bbb1/zz-override.yml', 'infra_authorized_keys:\n  sysadmin: ["ssh-ed25519 AAAA mallory"]\n', 'infra_authorized_keys'],
    ['inventories/production/host_vars/bbb2.yml', 'ntp: x\ninfra_revoked_keys: {}\n', 'infra_revoked_keys'],
    ['inventories/production/group_vars/all/keys.yml', 'infra_wireguard_peers: {}\n', 'infra_wireguard_peers'],
    ['inventories/production/group_vars/all', '{"infra_authorized_keys": {}}\n', 'infra_authorized_keys'],
    ['inventories/production/host_vars/bbb1/deeper/more.json', '{"infra_x": 1}\n', 'infra_x'],
  ])('%s: exit 3 naming the file and the variable; nothing written', async (file, text, variable) => {
    const root = await registry({ [file]: text });
    const e = await rejection(render(testContext({ root }), {}));
    expect(e.exitCode).toBe(3);
    expect(e.problems).toEqual([expect.objectContaining({ file, field: variable, message: expect.stringContaining(`remove ${variable} from ${file}`) })]);
    await expect(fs.access(path.join(root, BBB1))).rejects.toThrow();
  });

  it('hand-written variables that are not infra_*, the playbooks\' own settings, and the generated file itself, are fine', async () => {
    const root = await registry({
      'inventories/production/host_vars/bbb1/main.yml': 'ntp: x\n',
      'inventories/production/group_vars/all.yml': 'x: 1\ninfra_become: false\ninfra_wireguard_dir: /etc/wg\n', // the playbooks' documented settings
    });
    await render(testContext({ root }), {});
    await expect(render(testContext({ root }), {})).resolves.toMatchObject({ written: [], unchanged: 2 });
  });
});

describe('hole 6: symbolic links', () => {
  it('host_vars/<host> linked out of the registry: refused by name, nothing written there', async () => {
    const outside = await outsideDir();
    const root = await registry();
    await fs.mkdir(path.join(root, 'inventories/production/host_vars'), { recursive: true });
    await fs.symlink(outside, path.join(root, 'inventories/production/host_vars/bbb1'));
    const e = await rejection(render(testContext({ root }), {}));
    expect(e.exitCode).toBe(3);
    expect(e.problems.map((p) => p.file)).toContain('inventories/production/host_vars/bbb1');
    expect(await fs.readdir(outside)).toEqual([]);
    expect(await fs.readdir(path.join(root, 'inventories/production/host_vars'))).toEqual(['bbb1']);
  });

  it('a generated file linked outside is neither read nor written through', async () => {
    const outside = await outsideDir();
    await fs.writeFile(path.join(outside, 'secret'), 'infra_revoked_keys:\n  root:\n    - "TOPSECRET"\n');
    const root = await registry();
    await fs.mkdir(path.join(root, 'inventories/production/host_vars/bbb1'), { recursive: true });
    await fs.symlink(path.join(outside, 'secret'), path.join(root, BBB1));
    const ctx = testContext({ root });
    const e = await rejection(render(ctx, {}));
    expect(e.problems.map((p) => p.file)).toEqual([BBB1]);
    expect(JSON.stringify(e) + e.message + ctx.output.stderr).not.toContain('TOPSECRET');
    expect(await fs.readFile(path.join(outside, 'secret'), 'utf8')).toContain('TOPSECRET');
  });

  it('a dangling link where a host folder goes: refused, nothing created at its target', async () => {
    const outside = await outsideDir();
    const root = await registry();
    await fs.mkdir(path.join(root, 'inventories/production/host_vars'), { recursive: true });
    await fs.symlink(path.join(outside, 'not-yet'), path.join(root, 'inventories/production/host_vars/bbb2'));
    const e = await rejection(render(testContext({ root }), {}));
    expect(e.exitCode).toBe(3);
    expect(e.problems.map((p) => `${p.file} ${p.message}`).join('\n')).toContain('inventories/production/host_vars/bbb2 is a symbolic link');
    expect(await fs.readdir(outside)).toEqual([]);
  });

  it('a linked member.yml (to a secret file) and a linked member folder: reported by name, content never printed', async () => {
    const outside = await outsideDir();
    await fs.writeFile(path.join(outside, 'shadow'), 'root:$6$SECRETHASH:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n');
    await fs.mkdir(path.join(outside, 'member'));
    await fs.writeFile(path.join(outside, 'member', 'member.yml'), 'name: SECRETNAME\n');
    const root = await registry();
    await fs.mkdir(path.join(root, 'keys/mallory'));
    await fs.symlink(path.join(outside, 'shadow'), path.join(root, 'keys/mallory/member.yml'));
    await fs.symlink(path.join(outside, 'member'), path.join(root, 'keys/eve'));

    const r = await cli(['check', '--dir', root]);
    expect(exitOf(r)).toBe(3);
    const said = r.stdout + r.stderr;
    expect(said).toContain('keys/mallory/member.yml');
    expect(said).toContain('keys/eve');
    expect(said).toMatch(/symbolic link/);
    expect(said).not.toMatch(/SECRET|root:|daemon/);
    const json = await cli(['check', '--dir', root, '--json']);
    expect(json.stdout + json.stderr).not.toMatch(/SECRET|daemon/);
  });
});

describe('hole 9: temporary files of killed renders', () => {
  const deadPid = () => {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8', timeout: 10_000 });
    return Number(child.stdout);
  };

  it('removes those of dead processes on the next run, keeps those of live ones', async () => {
    const root = await registry();
    await render(testContext({ root }), {});
    const dir = path.join(root, 'inventories/production/host_vars/bbb1');
    const dead = `.infra.generated.yml.${deadPid()}.0123abcd.tmp`;
    const live = `.infra.generated.yml.${process.ppid}.4567cdef.tmp`; // our parent: alive while we run
    await fs.writeFile(path.join(dir, dead), `infra_authorized_keys:\n  sysadmin:\n    - '${A} alice/laptop'\n`);
    await fs.writeFile(path.join(dir, live), 'partial');
    const ctx = testContext({ root });
    await render(ctx, {});
    expect((await fs.readdir(dir)).sort()).toEqual([live, 'infra.generated.yml'].sort());
    expect(ctx.output.stderr).toContain(`inventories/production/host_vars/bbb1/${dead}`);
  });

  it('--check and --dry-run remove nothing', async () => {
    const root = await registry();
    await render(testContext({ root }), {});
    const stale = path.join(root, 'inventories/production/host_vars/bbb1', `.infra.generated.yml.${deadPid()}.89abcdef.tmp`);
    await fs.writeFile(stale, 'x');
    await render(testContext({ root }), { dryRun: true });
    await expect(fs.access(stale)).resolves.toBeUndefined();
  });
});
