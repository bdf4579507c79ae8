/**
 * The example registry with a signed history. The project's own history is not the example registry's and
 * cannot be re-signed, so this builds one: the example as its trust root (with the admins' test signing keys
 * from test/fixtures/signing-keys/ added), then changes signed by alice and bob with `git commit -S`, a
 * protected change approved by the real `infra approve`, and `infra verify` accepting all of it, as a fresh
 * clone of such a registry would.
 */
import { copyFileSync, chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnCli } from '../helpers/cli.js';
import { copyExample, REPO_ROOT } from '../helpers/example.js';
import { mustRun, runSync } from '../helpers/program.js';
import { requireTool } from '../helpers/real-tools.js';
import { tempDir } from '../helpers/signed-history.js';

const haveTools = requireTool('ssh-keygen', 'openssh-client') && requireTool('git', 'git');
const describeReal = haveTools ? describe : describe.skip;

describeReal('the example registry, signed', () => {
  let work: string;
  let dir: string;
  const key = (h: string) => path.join(work, h);
  const git = (args: string[], env: NodeJS.ProcessEnv = {}) => mustRun('git', ['-C', dir, ...args], { env: { ...process.env, ...env } }).trim();
  const signAs = (h: string) => ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${key(h)}`, '-c', `user.name=${h}`, '-c', `user.email=${h}@example`];
  const addSigningKey = (h: string) => {
    const file = path.join(dir, `keys/${h}/member.yml`);
    const pub = readFileSync(path.join(REPO_ROOT, `test/fixtures/signing-keys/${h}.pub`), 'utf8').trim();
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^ssh_keys:\n/m, `ssh_keys:\n  - name: signing\n    key: ${JSON.stringify(pub)}\n    added: 2026-01-01\n`));
  };

  beforeAll(async () => {
    work = tempDir('example');
    for (const h of ['alice', 'bob']) {
      copyFileSync(path.join(REPO_ROOT, `test/fixtures/signing-keys/${h}`), key(h));
      chmodSync(key(h), 0o600); // git keeps no file modes but 644/755; ssh-keygen wants a private key private
    }
    dir = await copyExample();
    addSigningKey('alice');
    addSigningKey('bob');
    git(['init', '-q', '-b', 'main']);
    git(['add', '-A']);
    git(['-c', 'user.name=co-op', '-c', 'user.email=coop@example', 'commit', '-q', '--no-gpg-sign', '-m', 'the example registry: trust root'], { GIT_COMMITTER_DATE: '2026-06-01T10:00:00Z' });
    // alice (admin) changes dana's groups: protected; bob approves it with infra approve
    const dana = path.join(dir, 'keys/dana/member.yml');
    writeFileSync(dana, readFileSync(dana, 'utf8').replace(/^groups: \[([^\]]*)\]/m, 'groups: [$1, observers]'));
    git(['add', '-A']);
    git([...signAs('alice'), 'commit', '-q', '-S', '-m', 'dana joins observers'], { GIT_COMMITTER_DATE: '2026-06-02T10:00:00Z' });
    // alice renames herself: her own folder
    const alice = path.join(dir, 'keys/alice/member.yml');
    writeFileSync(alice, readFileSync(alice, 'utf8').replace(/^name: .*$/m, 'name: Alice M.'));
    git(['add', '-A']);
    git([...signAs('alice'), 'commit', '-q', '-S', '-m', 'alice: name'], { GIT_COMMITTER_DATE: '2026-06-03T10:00:00Z' });
  }, 60_000);
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies once bob approves, and git log --show-signature names the signers from the rendered allowed_signers', async () => {
    const before = await spawnCli(['verify', '--dir', dir, '--json']);
    expect(before.code).toBe(4);
    expect(JSON.parse(before.stdout).violations.map((v: { code: string; changed: string[] }) => [v.code, v.changed])).toEqual([['unapproved-change', ['keys/dana/member.yml: groups']]]);
    git(['config', 'gpg.format', 'ssh']);
    git(['config', 'user.signingkey', key('bob')]);
    git(['config', 'user.name', 'bob']);
    git(['config', 'user.email', 'bob@example']);
    const approve = await spawnCli(['approve', '--dir', dir], { env: { GIT_COMMITTER_DATE: '2026-06-04T10:00:00Z', GIT_AUTHOR_DATE: '2026-06-04T10:00:00Z' } });
    expect([approve.code, approve.stderr]).toEqual([0, expect.stringMatching(/bob approved/)]);
    const after = await spawnCli(['verify', '--dir', dir, '--pin']);
    expect(after.code).toBe(0);
    expect(after.stderr).toMatch(/3 commits after the root commit verified; pinned/);
    // render writes allowed_signers (a git working tree), and git names the signers with it
    git(['config', 'gpg.ssh.allowedSignersFile', 'allowed_signers']);
    expect((await spawnCli(['render', '--dir', dir, '--dry-run'])).stdout).toContain('allowed_signers');
    await spawnCli(['render', '--dir', dir]);
    const log = runSync('git', ['-C', dir, 'log', '--show-signature', '--format=%s'], { env: { ...process.env, TZ: 'UTC' } }).stdout;
    expect(log.match(/Good "git" signature for (\S+)/g)).toEqual(['Good "git" signature for bob@webarchitects.example', 'Good "git" signature for alice@hypha.example', 'Good "git" signature for alice@hypha.example']);
  });
});
