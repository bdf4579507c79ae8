/**
 * inputs that crashed or hung infra instead of exit 3 naming the file. Each case is run
 * through the real CLI (exit code and message) and, where it is the store's, through the store directly.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { inspectRegistry, loadRegistry } from '../../src/adapters/registry-load.js';
import { LOCK_FILE, lockWaitMs, withLock } from '../../src/adapters/registry-lock.js';
import { MAX_REGISTRY_FILE_BYTES } from '../../src/adapters/yaml-load.js';
import { removeAbandonedTemps } from '../../src/adapters/temp-files.js';
import { InfraError } from '../../src/lib/errors.js';
import { spawnCli } from '../helpers/cli.js';
import { copyExample, treeDigest } from '../helpers/example.js';
import { ed25519Line } from '../helpers/keys.js';
import { rejection } from '../helpers/thrown.js';

/** Nine levels of nine aliases each: 9^9 copies when expanded, a few hundred bytes of YAML. */
function aliasBomb(key = 'groups'): string {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i <= 9; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n${key}: *a9\n`;
}

/** A process id that belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const gone = spawn('true');
  await new Promise((r) => gone.on('exit', r));
  return gone.pid!;
}

describe('YAML alias bombs', () => {
  it('in a member.yml: a problem naming the file and line, exit 3 from check (was exit 1, no file)', async () => {
    const dir = await copyExample();
    const bomb = aliasBomb();
    await fs.writeFile(path.join(dir, 'keys/bob/member.yml'), bomb);
    const { problems } = await inspectRegistry(dir);
    const problem = problems.find((p) => p.file === 'keys/bob/member.yml');
    expect(problem).toMatchObject({ field: '(yaml)', line: 2, message: expect.stringContaining('alias') });
    const r = await spawnCli(['check', '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stdout + r.stderr).toMatch(/^keys\/bob\/member\.yml:2: \(yaml\): .*alias/m);
  });

  it('in infra.yml too; a few aliases within the limit still load', async () => {
    const dir = await copyExample();
    const config = await fs.readFile(path.join(dir, 'infra.yml'), 'utf8');
    await fs.writeFile(path.join(dir, 'infra.yml'), config + aliasBomb('x_bomb'));
    expect((await rejection(loadRegistry(dir))).problems).toEqual([expect.objectContaining({ file: 'infra.yml', field: '(yaml)', message: expect.stringContaining('alias') })]);

    const member = path.join(dir, 'keys/bob/member.yml');
    await fs.writeFile(path.join(dir, 'infra.yml'), config);
    await fs.writeFile(member, (await fs.readFile(member, 'utf8')).replace(/^groups: .*$/m, 'groups: &g [infra]'));
    const { registry } = await loadRegistry(dir);
    expect(registry.members.find((m) => m.handle === 'bob')!.groups).toEqual(['infra']);
  });

  it('in a YAML inventory: exit 3 naming the inventory', async () => {
    const dir = await copyExample();
    const inv = path.join(dir, 'inventories/production/hosts.yml');
    const text = await fs.readFile(inv, 'utf8');
    const host = '              ansible_host: 192.0.2.11\n';
    expect(text).toContain(host);
    const bomb = aliasBomb('bomb').trimEnd().split('\n').map((l) => `              ${l}\n`).join('');
    await fs.writeFile(inv, text.replace(host, host + bomb));
    const r = await spawnCli(['check', '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stdout + r.stderr).toMatch(/^inventories\/production\/hosts\.yml:14: .*alias/m);
  });
});

describe('file size limits', () => {
  it(`a 50 MB member.yml is refused by its size, naming it, before it is read (was: out of memory)`, async () => {
    const dir = await copyExample();
    const member = path.join(dir, 'keys/erin/member.yml');
    await fs.truncate(member, 50 * 1024 * 1024); // sparse: the disk holds nothing, a read would still produce 50 MB
    const err = await rejection(loadRegistry(dir));
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('keys/erin/member.yml');
    expect(err.message).toContain('50.0 MB');
    const r = await spawnCli(['check', '--dir', dir], { env: { NODE_OPTIONS: '--max-old-space-size=64' } });
    expect(r.code).toBe(3);
    expect(r.stdout + r.stderr).toMatch(/keys\/erin\/member\.yml: is 50\.0 MB; a registry file holds at most 1 MB/);
  });

  it('the limit is exact: one byte over is refused, at the limit is read', async () => {
    const dir = await copyExample();
    const member = path.join(dir, 'keys/erin/member.yml');
    const text = await fs.readFile(member, 'utf8');
    await fs.writeFile(member, text + '#'.repeat(MAX_REGISTRY_FILE_BYTES - Buffer.byteLength(text) - 1) + '\n');
    expect((await loadRegistry(dir)).registry.members.map((m) => m.handle)).toContain('erin');
    await fs.appendFile(member, '\n');
    expect((await rejection(loadRegistry(dir))).message).toMatch(/^keys\/erin\/member\.yml: is too large; a registry file holds at most 1 MB/);
  });
});

describe('name lengths', () => {
  it('a 300-character host name fails check with file and line (was: passed check, render failed with ENAMETOOLONG)', async () => {
    const dir = await copyExample();
    const inv = path.join(dir, 'inventories/production/hosts.yml');
    const long = 'h'.repeat(300);
    await fs.writeFile(inv, (await fs.readFile(inv, 'utf8')).replace(/^( {12})bbb2:$/m, `$1${long}:`));
    const digest = await treeDigest(dir);
    const check = await spawnCli(['check', '--dir', dir]);
    expect(check.code).toBe(3);
    expect(check.stdout + check.stderr).toMatch(/^inventories\/production\/hosts\.yml:\d+: .*300 bytes/m);
    const render = await spawnCli(['render', '--dir', dir]);
    expect(render.code).toBe(3);
    expect(render.stdout + render.stderr).toMatch(/inventories\/production\/hosts\.yml:\d+: .*300 bytes/);
    expect(render.stdout + render.stderr).not.toContain('ENAMETOOLONG');
    expect(await treeDigest(dir)).toBe(digest);
  });

  it('a host name of 255 bytes is fine; 256 bytes (multi-byte characters count as bytes) is not', async () => {
    const { unsafeHostNameReason } = await import('../../src/core/inventory.js');
    expect(unsafeHostNameReason('a'.repeat(255))).toBeUndefined();
    expect(unsafeHostNameReason('é'.repeat(128))).toMatch(/256 bytes/);
  });

  it('free text in the registry (a member name) longer than 1000 characters is refused with its line', async () => {
    const dir = await copyExample();
    const member = path.join(dir, 'keys/bob/member.yml');
    await fs.writeFile(member, (await fs.readFile(member, 'utf8')).replace(/^name: .*$/m, `name: ${'B'.repeat(10_000)}`));
    const { problems } = await inspectRegistry(dir);
    expect(problems).toEqual([expect.objectContaining({ file: 'keys/bob/member.yml', field: 'name', line: expect.any(Number), message: expect.stringContaining('10000 characters') })]);
  });
});

describe('INFRA_LOCK_WAIT_MS', () => {
  it('a value that is not a number is an error naming the variable (was: waited forever)', async () => {
    expect(() => lockWaitMs({ INFRA_LOCK_WAIT_MS: 'abc' })).toThrow(/INFRA_LOCK_WAIT_MS="abc" is not a number of milliseconds/);
    for (const bad of ['-1', '1e3', '10s', 'Infinity', 'NaN']) expect(() => lockWaitMs({ INFRA_LOCK_WAIT_MS: bad })).toThrow(InfraError);
    expect(lockWaitMs({ INFRA_LOCK_WAIT_MS: '250' })).toBe(250);
    expect(lockWaitMs({})).toBe(10_000);

    const dir = await copyExample();
    const digest = await treeDigest(dir);
    const r = await spawnCli(['keys', 'add', 'frank', '-', '--name', 'spare', '--dir', dir], { input: ed25519Line(), env: { INFRA_LOCK_WAIT_MS: 'abc' }, timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('INFRA_LOCK_WAIT_MS="abc" is not a number of milliseconds');
    expect(await treeDigest(dir)).toBe(digest);
  });
});

describe('lock files left by crashes', () => {
  it('an empty lock file older than a few seconds is taken over (was: never cleared)', async () => {
    const dir = await copyExample();
    const lock = path.join(dir, LOCK_FILE);
    await fs.writeFile(lock, '');
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(lock, old, old);
    expect(await withLock(dir, 'test', async () => JSON.parse(await fs.readFile(lock, 'utf8')).pid, 100)).toBe(process.pid);
    await expect(fs.access(lock)).rejects.toThrow();
  });

  it('garbage in an old lock file is taken over too; a fresh empty one is waited for, then reported', async () => {
    const dir = await copyExample();
    const lock = path.join(dir, LOCK_FILE);
    await fs.writeFile(lock, '{"pid": 12');
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(lock, old, old);
    expect(await withLock(dir, 'test', async () => 'ran', 100)).toBe('ran');

    await fs.writeFile(lock, ''); // just now: it may be an older infra between creating and filling it
    const err = await rejection(withLock(dir, 'test', async () => 'ran', 100));
    expect(err.message).toContain('the lock file is empty');
    expect(err.hint).toContain(`rm ${lock}`);
    expect(await fs.readFile(lock, 'utf8')).toBe('');
  });

  it('the lock file appears with its content: never empty while held', async () => {
    const dir = await copyExample();
    const lock = path.join(dir, LOCK_FILE);
    const seen: string[] = [];
    const original = { link: fs.link, open: fs.open, writeFile: fs.writeFile };
    const target = (p: unknown) => path.resolve(String(p)) === lock;
    // Whatever puts the lock file in place, record what it holds at that moment.
    (fs as { link: typeof fs.link }).link = (async (from: string, to: string) => {
      if (target(to)) seen.push(await fs.readFile(from, 'utf8'));
      return original.link(from, to);
    }) as typeof fs.link;
    (fs as { open: typeof fs.open }).open = (async (...args: Parameters<typeof fs.open>) => {
      if (target(args[0]) && /w|a|x/.test(String(args[1] ?? 'r'))) seen.push('(opened for writing)');
      return original.open(...args);
    }) as typeof fs.open;
    (fs as { writeFile: typeof fs.writeFile }).writeFile = (async (...args: Parameters<typeof fs.writeFile>) => {
      if (target(args[0])) seen.push('(written in place)');
      return original.writeFile(...args);
    }) as typeof fs.writeFile;
    try {
      await withLock(dir, 'keys add', async () => undefined, 100);
    } finally {
      Object.assign(fs, original);
    }
    expect(seen).toHaveLength(1);
    expect(JSON.parse(seen[0])).toMatchObject({ pid: process.pid, host: hostname(), command: 'keys add' });
  });

  it('temporary files of killed writers are removed under the lock; a live writer\'s and other files stay', async () => {
    const dir = await copyExample();
    const dead = await deadPid();
    const live = spawn('sleep', ['30']);
    try {
      const abandoned = [`keys/carol/.member.yml.${dead}.0123abcd.tmp`, `inventories/production/host_vars/bbb1/.infra.generated.yml.${dead}.89abcdef.tmp`, `.infra.lock.${dead}.00000000.tmp`, `.infra.lock.${dead}.11111111.stale`];
      const kept = [`keys/carol/.member.yml.${live.pid}.0123abcd.tmp`, 'keys/carol/notes.tmp', `keys/carol/member.yml.${dead}.0123abcd.tmp.bak`];
      for (const rel of [...abandoned, ...kept]) {
        await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
        await fs.writeFile(path.join(dir, rel), 'ssh-ed25519 AAAA...');
      }
      await withLock(dir, 'test', async () => undefined, 100);
      for (const rel of abandoned) await expect(fs.access(path.join(dir, rel))).rejects.toThrow();
      for (const rel of kept) await expect(fs.access(path.join(dir, rel))).resolves.toBeUndefined();
      expect(await removeAbandonedTemps(dir)).toEqual([]);
    } finally {
      live.kill();
    }
  });

  it('a dead writer\'s lock is still taken over, and a live holder still refused with its command', async () => {
    const dir = await copyExample();
    const lock = path.join(dir, LOCK_FILE);
    await fs.writeFile(lock, JSON.stringify({ pid: await deadPid(), host: hostname(), command: 'render', started: 'then' }));
    expect(await withLock(dir, 'test', async () => 'ran', 100)).toBe('ran');
    await fs.writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), command: 'keys add', started: 'now' }));
    expect((await rejection(withLock(dir, 'test', async () => 'ran', 100))).message).toContain(`locked by process ${process.pid}`);
  });
});
