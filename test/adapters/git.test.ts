import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { commitsSince, readFilesAt, registryHistory, resolveRef } from '../../src/adapters/git.js';
import { changesOver, type Change } from '../../src/core/changes.js';
import * as openpgp from 'openpgp';
import { tempDir } from '../helpers/example.js';
import { makeAdmin, type TestAdmin } from '../helpers/pgp-keys.js';
import { requireTool } from '../helpers/real-tools.js';
import { baseConfig, ed25519Line, memberData } from '../helpers/registry-fixture.js';
import { rejection } from '../helpers/thrown.js';

const HAS_GIT = requireTool('git', 'git');
const d = HAS_GIT ? describe : describe.skip;

let alicePgpKey: TestAdmin | undefined;
let ALICE_FINGERPRINT = '';
async function alicePgp(): Promise<TestAdmin> {
  alicePgpKey ??= await makeAdmin('alice');
  ALICE_FINGERPRINT = (await openpgp.readKey({ armoredKey: alicePgpKey.publicKey })).getFingerprint().toUpperCase();
  return alicePgpKey;
}

const ALICE_OLD = ed25519Line('alice-old');
const ALICE_NEW = ed25519Line('alice-new');
const BOB = ed25519Line('bob');
const CAROL = ed25519Line('carol');
const wgKey = (n: number) => Buffer.alloc(32, n).toString('base64');

function git(dir: string, args: string[], date = '2026-10-01T12:00:00+00:00'): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.org', '-c', 'commit.gpgsign=false', '-C', dir, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, GIT_CONFIG_NOSYSTEM: '1', HOME: dir },
  });
}

async function write(root: string, rel: string, data: Record<string, unknown> | string): Promise<void> {
  await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await fs.writeFile(path.join(root, rel), typeof data === 'string' ? data : stringify(data, { lineWidth: 0 }));
}

async function commit(repo: string, message: string, date: string): Promise<string> {
  git(repo, ['add', '-A']);
  git(repo, ['commit', '-q', '-m', message], date);
  return git(repo, ['rev-parse', 'HEAD']).trim();
}

const grant = (over: Record<string, unknown> = {}) => ({ groups: ['meet-tech'], hosts: 'bbb', user: 'sysadmin', ...over });
const key = (name: string, line: string) => ({ name, key: line, added: '2026-01-01' });

/**
 * A registry in the subfolder `registry/` of a repository (the registry need not be the repository's top),
 * with five commits, each a few weeks apart.
 */
async function history(): Promise<{ repo: string; root: string; commits: string[] }> {
  const repo = await tempDir('infra-git-');
  const root = path.join(repo, 'registry');
  git(repo, ['init', '-q', '-b', 'main']);
  const commits: string[] = [];
  const config = (access: unknown[]) => baseConfig({ admins: ['alice'], access: [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }, ...access] });

  await write(root, 'infra.yml', config([grant()]));
  await write(root, 'keys/alice/member.yml', memberData('alice', { groups: ['infra'], ssh_keys: [key('laptop', ALICE_OLD)] }));
  await write(root, 'keys/carol/member.yml', memberData('carol', { groups: ['meet-tech'], ssh_keys: [key('laptop', CAROL)] }));
  await write(root, 'keys/roobot/member.yml', memberData('roobot', { kind: 'bot', tokens: [{ name: 'github', kind: 'github', rotated_at: '2026-08-01', rotated_by: 'alice', consumers: [] }] }));
  await write(repo, 'README.md', 'not the registry\n');
  commits.push(await commit(repo, 'start', '2026-10-01T12:00:00+00:00'));

  await write(root, 'keys/bob/member.yml', memberData('bob', { groups: ['infra'], ssh_keys: [key('laptop', BOB)], vpn_peers: [{ device: 'phone', network: 'meet', public_key: wgKey(1), addresses: ['10.77.0.6/32'], added: '2026-10-15' }] }));
  commits.push(await commit(repo, 'bob joins', '2026-10-15T12:00:00+00:00'));
  git(repo, ['tag', 'last-meeting']);

  await write(root, 'keys/carol/member.yml', memberData('carol', { status: 'departed', departed: '2026-11-02', groups: ['meet-tech'], ssh_keys: [key('laptop', CAROL)] }));
  await write(repo, 'README.md', 'only the README changes besides carol\n');
  commits.push(await commit(repo, 'carol leaves', '2026-11-02T12:00:00+00:00'));

  await write(root, 'infra.yml', config([grant({ vpn_only: true }), { groups: ['monitoring'], hosts: 'monitoring', user: 'prometheus' }]));
  // A rename of the same key is not a new key; a new key and a removed one are.
  await write(root, 'keys/alice/member.yml', memberData('alice', { groups: ['infra', 'monitoring'], ssh_keys: [key('desktop', ALICE_NEW)] }));
  await write(root, 'keys/bob/member.yml', memberData('bob', { groups: ['infra'], ssh_keys: [key('work-laptop', BOB)], vpn_peers: [{ device: 'phone', network: 'meet', public_key: wgKey(2), addresses: ['10.77.0.6/32'], added: '2026-11-10' }] }));
  commits.push(await commit(repo, 'grants and keys', '2026-11-10T12:00:00+00:00'));

  await write(root, 'keys/roobot/member.yml', memberData('roobot', { kind: 'bot', tokens: [{ name: 'github', kind: 'github', rotated_at: '2026-11-20', rotated_by: 'alice', consumers: [] }] }));
  await write(root, 'keys/roobot/tokens/github.asc', '-----BEGIN PGP MESSAGE-----\nnot read\n-----END PGP MESSAGE-----\n');
  // a pgp.asc is read as its fingerprint: the key the next reencrypt hands every secret to
  await write(root, 'keys/alice/pgp.asc', (await alicePgp()).publicKey);
  commits.push(await commit(repo, 'token rotated', '2026-11-20T12:00:00+00:00'));
  return { repo, root, commits };
}

const short = (hash: string) => hash.slice(0, 7);

d('git adapter and changes since, on a real repository', () => {
  let repo: string;
  let root: string;
  let commits: string[];
  beforeAll(async () => {
    ({ repo, root, commits } = await history());
  });
  afterAll(async () => {
    await fs.rm(repo, { recursive: true, force: true });
  });

  const sinceCarol = (): Change[] => {
    const [c3, c4, c5] = commits.slice(2).map(short);
    return [
      { date: '2026-11-02', commit: c3, kind: 'member-offboarded', subject: 'carol', detail: 'departed on 2026-11-02' },
      { date: '2026-11-10', commit: c4, kind: 'grant-changed', subject: 'meet-tech -> bbb as sysadmin (VPN only)', detail: 'was meet-tech -> bbb as sysadmin' },
      { date: '2026-11-10', commit: c4, kind: 'grant-added', subject: 'monitoring -> monitoring as prometheus' },
      { date: '2026-11-10', commit: c4, kind: 'member-changed', subject: 'alice', detail: 'groups infra -> infra, monitoring' },
      { date: '2026-11-10', commit: c4, kind: 'key-added', subject: 'alice/desktop' },
      { date: '2026-11-10', commit: c4, kind: 'key-removed', subject: 'alice/laptop' },
      { date: '2026-11-10', commit: c4, kind: 'member-changed', subject: 'bob', detail: 'key laptop renamed work-laptop' },
      { date: '2026-11-10', commit: c4, kind: 'peer-added', subject: 'bob/phone', detail: 'meet 10.77.0.6/32' },
      { date: '2026-11-10', commit: c4, kind: 'peer-removed', subject: 'bob/phone', detail: 'meet' },
      { date: '2026-11-20', commit: c5, kind: 'token-rotated', subject: 'roobot/github', detail: 'on 2026-11-20 by alice' },
      { date: '2026-11-20', commit: c5, kind: 'pgp-key-added', subject: 'alice', detail: ALICE_FINGERPRINT },
    ];
  };

  it('lists access changes since a date, with date and short commit', async () => {
    expect(changesOver(await registryHistory(root, '2026-11-01'))).toEqual(sinceCarol());
  });

  it('lists the same since a tag or a commit hash', async () => {
    expect(changesOver(await registryHistory(root, 'last-meeting'))).toEqual(sinceCarol());
    expect(changesOver(await registryHistory(root, commits[1]))).toEqual(sinceCarol());
  });

  it('reads the first commit against nothing: everyone was added', async () => {
    const changes = changesOver(await registryHistory(root, '2026-01-01'));
    expect(changes.slice(0, 7).map((c) => [c.kind, c.subject])).toEqual([
      ['admin-added', 'alice'], // admins too: the first infra.yml makes them admins
      ['grant-added', 'infra -> all as sysadmin'],
      ['grant-added', 'meet-tech -> bbb as sysadmin'],
      ['member-added', 'alice'],
      ['key-added', 'alice/laptop'],
      ['member-added', 'carol'],
      ['key-added', 'carol/laptop'],
    ]);
  });

  it('lists commits that touched infra.yml or keys/ only, with the registry files they changed', async () => {
    await write(repo, 'README.md', 'a change outside the registry\n');
    const outside = await commit(repo, 'docs', '2026-11-21T12:00:00+00:00');
    try {
      const listed = await commitsSince(root, '2026-11-01');
      expect(listed.map((c) => c.commit)).toEqual(commits.slice(2));
      expect(listed[0]).toEqual({ commit: commits[2], short: short(commits[2]), date: '2026-11-02', parent: commits[1], files: ['keys/carol/member.yml'] });
      expect(listed[2].files).toEqual(['keys/alice/pgp.asc', 'keys/roobot/member.yml', 'keys/roobot/tokens/github.asc']);
      expect(listed.map((c) => c.commit)).not.toContain(outside);
    } finally {
      git(repo, ['reset', '-q', '--hard', commits[4]]);
    }
  });

  it('reads files at a commit; a file that did not exist then is absent', async () => {
    const files = await readFilesAt(root, commits[0], ['infra.yml', 'keys/bob/member.yml', 'keys/alice/member.yml']);
    expect([...files.keys()]).toEqual(['infra.yml', 'keys/alice/member.yml']);
    expect(files.get('keys/alice/member.yml')).toBe(await gitShow(repo, commits[0], 'registry/keys/alice/member.yml'));
  });

  it('refuses a ref that does not exist, exit 3, naming it', async () => {
    const e = await rejection(registryHistory(root, 'no-such-tag'));
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain('"no-such-tag"');
    expect(e.hint).toContain('git -C');
  });

  it('takes a ref that looks like an option as a name, never as an option', async () => {
    const target = path.join(repo, 'written-by-git');
    const e = await rejection(resolveRef(root, `--output=${target}`));
    expect(e.exitCode).toBe(3);
    await expect(fs.access(target)).rejects.toThrow();
  });
});

async function gitShow(repo: string, commit: string, rel: string): Promise<string> {
  return git(repo, ['show', `${commit}:${rel}`]);
}


d('git adapter: what is not a usable history', () => {
  it('a registry that is not a git repository: exit 3 with the commands to make it one', async () => {
    const dir = await tempDir('infra-nogit-');
    try {
      await write(dir, 'infra.yml', baseConfig());
      // GIT_CEILING_DIRECTORIES keeps git from finding a repository above the temporary folder.
      const before = process.env.GIT_CEILING_DIRECTORIES;
      process.env.GIT_CEILING_DIRECTORIES = path.dirname(dir);
      try {
        const e = await rejection(registryHistory(dir, '2026-11-01'));
        expect(e.exitCode).toBe(3);
        expect(e.message).toContain('is not a git repository');
        expect(e.hint).toContain(`git -C ${dir} init`);
      } finally {
        if (before === undefined) delete process.env.GIT_CEILING_DIRECTORIES;
        else process.env.GIT_CEILING_DIRECTORIES = before;
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('a repository without commits: exit 3', async () => {
    const dir = await tempDir('infra-emptygit-');
    try {
      git(dir, ['init', '-q']);
      const e = await rejection(commitsSince(dir, '2026-11-01'));
      expect(e.exitCode).toBe(3);
      expect(e.message).toContain('no commits');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('a git that hangs fails after the timeout, naming git', async () => {
    const dir = await tempDir('infra-hang-');
    try {
      const fake = path.join(dir, 'git');
      await fs.writeFile(fake, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
      const e = await rejection(commitsSince(dir, '2026-11-01', { git: fake, timeoutMs: 300 }));
      expect(e.message).toMatch(/^git rev-parse did not finish within 0\.3 s/);
      expect(e.hint).toContain('git -C');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('a git that is not installed: a clear error', async () => {
    const e = await rejection(commitsSince('/tmp', '2026-11-01', { git: '/nonexistent/git' }));
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain('is not installed');
  });
});
