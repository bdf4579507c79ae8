/**
 * allowed_signers as git itself uses it: `infra init` in a git working tree points gpg.ssh.allowedSignersFile
 * at it (from the top of the working tree, the registry in a subfolder), `infra render` keeps it (humans' keys,
 * with their dates; no bot; a departed member's keys end on the day they left), `render --check` covers it, and
 * `git log --show-signature` names the member who signed.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnCli } from '../helpers/cli.js';
import { mustRun, runSync } from '../helpers/program.js';
import { requireTool } from '../helpers/real-tools.js';
import { memberYaml, SignedRepo, sshSigner, tempDir, type Signer } from '../helpers/signed-history.js';

const haveTools = requireTool('ssh-keygen', 'openssh-client') && requireTool('git', 'git');
const describeReal = haveTools ? describe : describe.skip;

describeReal('allowed_signers', () => {
  let work: string;
  let repo: SignedRepo;
  let reg: string;
  const s: Record<string, Signer> = {};

  beforeAll(async () => {
    work = tempDir('signers');
    for (const h of ['alice', 'bob', 'robot']) s[h] = sshSigner(work, h, 'ed25519');
    repo = new SignedRepo(path.join(work, 'repo'));
    mustRun('git', ['init', '-q', '-b', 'main', repo.dir]);
    repo.git(['config', 'user.name', 'Test']);
    repo.git(['config', 'user.email', 'test@coop.example']);
    reg = path.join(repo.dir, 'access');
    const init = await spawnCli(['init', '--dir', reg, '--org', 'Test Co-op', '--json']);
    expect(init.code).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ created: expect.arrayContaining(['allowed_signers']), allowed_signers_file: 'access/allowed_signers' });
    writeFileSync(path.join(reg, 'keys/.gitkeep'), '');
    repo.write('access/keys/alice/member.yml', memberYaml('alice', { keys: [{ name: 'laptop', key: s.alice.publicKey, added: '2026-03-01', expires: '2027-03-01' }] }));
    repo.write('access/keys/bob/member.yml', memberYaml('bob', { status: 'departed', departed: '2026-04-01', keys: [{ name: 'laptop', key: s.bob.publicKey, added: '2026-02-01' }] }));
    repo.write('access/keys/robot/member.yml', memberYaml('robot', { kind: 'bot', keys: [{ name: 'ci', key: s.robot.publicKey }] }));
  }, 60_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const signerLine = (sig: Signer, email: string, valid: string) => `${email} namespaces="git",${valid} ${sig.publicKey.split(' ').slice(0, 2).join(' ')}`;

  it('render writes humans\' keys with their dates, and --check covers the file', async () => {
    const r = await spawnCli(['render', '--dir', reg, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).written).toContain('allowed_signers');
    const lines = readFileSync(path.join(reg, 'allowed_signers'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual([
      signerLine(s.alice, 'alice@coop.example', 'valid-after="20260301Z",valid-before="20270301Z"'),
      signerLine(s.bob, 'bob@coop.example', 'valid-after="20260201Z",valid-before="20260401Z"'),
    ]);
    expect((await spawnCli(['render', '--dir', reg, '--check'])).code).toBe(0);
    writeFileSync(path.join(reg, 'allowed_signers'), `${readFileSync(path.join(reg, 'allowed_signers'), 'utf8')}mallory@evil.example ${s.robot.publicKey}\n`);
    const drift = await spawnCli(['render', '--dir', reg, '--check', '--json']);
    expect(drift.code).toBe(4);
    expect(JSON.parse(drift.stdout).written).toEqual(['allowed_signers']);
    expect((await spawnCli(['render', '--dir', reg])).code).toBe(0);
    expect(readFileSync(path.join(reg, 'allowed_signers'), 'utf8')).not.toContain('mallory');
  });

  it('git log --show-signature names the signer from the rendered file, from any folder of the clone', async () => {
    await spawnCli(['render', '--dir', reg]);
    repo.commit('registry', s.alice, '2026-05-01T12:00:00Z');
    for (const cwd of [repo.dir, path.join(reg, 'keys')]) {
      const out = runSync('git', ['log', '-1', '--show-signature'], { cwd, env: { ...process.env, TZ: 'UTC' } });
      expect(out.stdout).toContain('Good "git" signature for alice@coop.example with ED25519 key');
    }
    // bob left on 2026-04-01: his signature dated after is not good
    repo.write('access/README', 'bob was here\n');
    repo.commit('late', s.bob, '2026-05-02T12:00:00Z');
    expect(runSync('git', ['-C', repo.dir, 'verify-commit', 'HEAD']).code).not.toBe(0);
  });
});
