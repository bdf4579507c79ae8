/**
 * The CLI runs from one bundle loaded with a V8 code cache (bin/load-cli.js, scripts/bundle.js). These
 * tests keep the two promises that make that safe: every command is in the bundle, and a code cache is
 * used only for the exact bytes it was made from (anything else still runs the bundle's own code).
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { COMMANDS } from '../../src/cli.js';
import { REPO_ROOT, tempDir } from '../helpers/example.js';

/** A folder whose name starts with `_` holds what commands share (the base class, flag sets), not commands. */
const isSharedFolder = (name: string) => name.startsWith('_');

/** The oclif id of every .ts file under `dir`; with `shared`, those under `_` folders instead. */
async function commandFiles(dir: string, prefix = '', shared = false, inShared = false): Promise<string[]> {
  const ids: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) ids.push(...(await commandFiles(path.join(dir, entry.name), `${prefix}${entry.name}:`, shared, inShared || isSharedFolder(entry.name))));
    else if (entry.name.endsWith('.ts') && inShared === shared) ids.push(`${prefix}${entry.name.slice(0, -3)}`);
  }
  return ids;
}

test('src/cli.ts lists every command file under its oclif id, and nothing else', async () => {
  const files = await commandFiles(path.join(REPO_ROOT, 'src/commands'));
  expect(files.length).toBeGreaterThan(20);
  expect(Object.keys(COMMANDS).sort()).toEqual(files.sort());
  for (const command of Object.values(COMMANDS)) expect(typeof (command as { run?: unknown }).run).toBe('function');
});

test('the files commands share (under src/commands/_shared) are not registered as commands', async () => {
  const shared = await commandFiles(path.join(REPO_ROOT, 'src/commands'), '', true);
  expect(shared).toEqual(expect.arrayContaining(['_shared:base-command', '_shared:vpn-flags']));
  const manifest = JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
  for (const id of shared) {
    expect(Object.keys(COMMANDS)).not.toContain(id);
    expect(Object.keys(manifest.commands)).not.toContain(id);
  }
  // nor does any of their exports stand in the command table under another name
  const registered = new Set<unknown>(Object.values(COMMANDS));
  for (const id of shared) {
    const module = (await import(path.join(REPO_ROOT, 'src/commands', id.replace(/:/g, '/')))) as Record<string, unknown>;
    for (const value of Object.values(module)) expect(registered.has(value)).toBe(false);
  }
});

test('the manifest oclif reads for help and parsing lists the same commands', async () => {
  const manifest = JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
  expect(Object.keys(manifest.commands).sort()).toEqual(Object.keys(COMMANDS).sort());
});

describe('the code cache', () => {
  let copy: string;
  const bundle = () => path.join(copy, 'dist/bundle/infra.cjs');
  const cache = () => `${bundle()}.cache`;

  /** `members list` through a copy of the built CLI, and how the loader used the cache. */
  function run(): { state: string; listed: string } {
    const load = spawnSync(process.execPath, ['--input-type=module', '-e', `const { loadCli } = await import(${JSON.stringify(path.join(copy, 'bin/load-cli.js'))}); console.log(loadCli().codeCache);`], { encoding: 'utf8', timeout: 30_000 });
    const list = spawnSync(process.execPath, [path.join(copy, 'bin/run.js'), 'members', 'list', '--dir', REPO_ROOT], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } });
    if (load.status !== 0 || list.status !== 0) throw new Error(`the copied CLI failed: ${load.stderr}${list.stderr}`);
    return { state: load.stdout.trim(), listed: list.stdout + list.stderr };
  }

  beforeEach(async () => {
    copy = await tempDir('infra-bundle-');
    for (const part of ['bin', 'dist/bundle', 'package.json', 'oclif.manifest.json']) await fs.cp(path.join(REPO_ROOT, part), path.join(copy, part), { recursive: true });
    await fs.symlink(path.join(REPO_ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  });
  afterEach(() => fs.rm(copy, { recursive: true, force: true }));

  test('the build made one for its bundle, and it is used', () => {
    const { state, listed } = run();
    expect(state).toBe('used');
    expect(listed).toContain('* admin (may decrypt bot tokens)');
  });

  test('a bundle changed after the cache was made runs its own code, even when its length did not change', async () => {
    // V8 alone checks only the source's length: same-length edits are what the digest is for
    const before = await fs.readFile(bundle(), 'utf8');
    const after = before.replace('"* admin (may decrypt bot tokens)"', '"* ADMIN (may decrypt bot tokens)"');
    expect(after.length).toBe(before.length);
    expect(after === before).toBe(false);
    await fs.writeFile(bundle(), after);
    const { state, listed } = run();
    expect(state).toBe('stale');
    expect(listed).toContain('* ADMIN (may decrypt bot tokens)');
  });

  test('a cache V8 refuses (damaged) or none at all: the same output', async () => {
    const data = await fs.readFile(cache());
    const header = data.indexOf(10) + 1;
    data.fill(0x5a, header + 16, header + 4096);
    await fs.writeFile(cache(), data);
    const damaged = run();
    expect(damaged.state).toBe('rejected');
    await fs.rm(cache());
    const missing = run();
    expect(missing.state).toBe('missing');
    expect(damaged.listed).toContain('* admin (may decrypt bot tokens)');
    expect(missing.listed).toBe(damaged.listed);
  });
});
