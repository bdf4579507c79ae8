/**
 * One registry snapshot from a source: a git revision (through one `git cat-file --batch` process) and memory
 * give the same members, config and problems as the working-tree load of the same files.
 */
import { chmodSync, promises as fs, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GitObjectReader } from '../../src/adapters/git-objects.js';
import { gitTreeSource, loadSnapshot, memorySource } from '../../src/adapters/registry-source.js';
import { inspectRegistry } from '../../src/adapters/registry-load.js';
import { copyExample } from '../helpers/example.js';
import { alive } from '../helpers/real-tools.js';
import { mustRun } from '../helpers/program.js';

async function filesOf(dir: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, await filesOf(dir, r));
    else out[r] = await fs.readFile(path.join(dir, r), 'utf8');
  }
  return out;
}

describe('registry sources', () => {
  let dir: string;
  let tree: string;
  beforeAll(async () => {
    dir = await copyExample();
    // a problem to find in every source: a member file with an unknown field
    await fs.appendFile(path.join(dir, 'keys/dana/member.yml'), 'favourite_colour: blue\n');
    mustRun('git', ['init', '-q', dir]);
    mustRun('git', ['-C', dir, 'add', '-A']);
    mustRun('git', ['-C', dir, '-c', 'user.name=T', '-c', 'user.email=t@x', 'commit', '-q', '--no-gpg-sign', '-m', 'example']);
    tree = mustRun('git', ['-C', dir, 'rev-parse', 'HEAD^{tree}']).trim();
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('a git revision and memory load what the working tree loads', async () => {
    const worktree = await inspectRegistry(dir);
    const reader = new GitObjectReader(dir);
    try {
      const fromGit = await loadSnapshot(gitTreeSource(reader, tree, '', 'HEAD'));
      const fromMemory = await loadSnapshot(memorySource(await filesOf(dir)));
      expect(reader.started).toBe(1); // every tree and file through one process
      for (const snap of [fromGit, fromMemory]) {
        expect(snap.config).toEqual(worktree.partial!.registry.config);
        expect(snap.members).toEqual(worktree.partial!.registry.members);
        expect(snap.problems).toEqual(worktree.problems);
        expect(snap.problems.some((p) => p.file === 'keys/dana/member.yml' && /favourite_colour/.test(p.field + p.message))).toBe(true);
        expect([...snap.pgp.keys()].sort()).toEqual(worktree.partial!.registry.members.filter((m) => m.has_pgp).map((m) => m.handle).sort());
      }
    } finally {
      await reader.close();
    }
  });

  it('a registry in a subfolder of the repository, a link and a missing infra.yml', async () => {
    const texts = { 'infra.yml': 'org: X\nadmins: []\n', 'keys/ann/member.yml': 'name: Ann\nkind: human\norg: x\nstatus: active\ngroups: []\n' };
    expect((await loadSnapshot(memorySource(texts))).members.map((m) => m.handle)).toEqual(['ann']);
    const missing = await loadSnapshot(memorySource({ 'keys/ann/member.yml': texts['keys/ann/member.yml'] }));
    expect(missing.problems).toContainEqual({ file: 'infra.yml', field: '(file)', message: 'is missing' });
    const repo = path.join(dir, '..', `${path.basename(dir)}-sub`);
    await fs.mkdir(path.join(repo, 'access/keys/ann'), { recursive: true });
    await fs.writeFile(path.join(repo, 'access/infra.yml'), texts['infra.yml']);
    await fs.writeFile(path.join(repo, 'access/keys/ann/member.yml'), texts['keys/ann/member.yml']);
    await fs.symlink('/etc/passwd', path.join(repo, 'access/keys/ann/pgp.asc'));
    mustRun('git', ['init', '-q', repo]);
    mustRun('git', ['-C', repo, 'add', '-A']);
    mustRun('git', ['-C', repo, '-c', 'user.name=T', '-c', 'user.email=t@x', 'commit', '-q', '--no-gpg-sign', '-m', 'sub']);
    const reader = new GitObjectReader(repo);
    try {
      const snap = await loadSnapshot(gitTreeSource(reader, mustRun('git', ['-C', repo, 'rev-parse', 'HEAD^{tree}']).trim(), 'access/', 'HEAD'));
      expect(snap.members.map((m) => [m.handle, m.has_pgp])).toEqual([['ann', false]]); // a link is never read
      expect(snap.pgp.size).toBe(0);
    } finally {
      await reader.close();
      await fs.rm(repo, { recursive: true, force: true });
    }
  });
});

describe('GitObjectReader', () => {
  it('answers many requests from one process, missing objects as undefined, and ends it on close', async () => {
    const dir = await copyExample();
    try {
      mustRun('git', ['init', '-q', dir]);
      mustRun('git', ['-C', dir, 'add', '-A']);
      mustRun('git', ['-C', dir, '-c', 'user.name=T', '-c', 'user.email=t@x', 'commit', '-q', '--no-gpg-sign', '-m', 'x']);
      const reader = new GitObjectReader(dir);
      const names = ['HEAD:infra.yml', 'HEAD:keys/alice/member.yml', 'HEAD:no/such/file', 'HEAD:keys', `${'0'.repeat(40)}`];
      const got = await Promise.all(names.map((n) => reader.read(n)));
      expect(got.map((o) => o?.type)).toEqual(['blob', 'blob', undefined, 'tree', undefined]);
      expect(got[0]!.data.toString()).toBe(await fs.readFile(path.join(dir, 'infra.yml'), 'utf8'));
      expect(reader.started).toBe(1);
      await expect(reader.read('HEAD:a\nb')).rejects.toThrow(/line break/);
      await reader.close();
      await expect(reader.read('HEAD:infra.yml')).rejects.toThrow(/closed/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('a git that does not answer is killed after the timeout and named', async () => {
    const dir = await copyExample();
    const fake = path.join(dir, 'fake-git');
    writeFileSync(fake, '#!/bin/sh\necho $$ > "$(dirname "$0")/pid"\nexec sleep 30\n');
    chmodSync(fake, 0o755);
    try {
      const reader = new GitObjectReader(dir, { git: fake, timeoutMs: 300 });
      await expect(reader.read('HEAD:infra.yml')).rejects.toThrow(/git cat-file did not answer within 0.3 s/);
      const pid = Number(await fs.readFile(path.join(dir, 'pid'), 'utf8'));
      await reader.close();
      expect(alive(pid)).toBe(false);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
