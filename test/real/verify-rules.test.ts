/**
 * The change rules over real signed histories: who may sign what, a second admin's approval made by the real
 * `infra approve` (git commit -S), merges, --pin, and the clones infra cannot verify (shallow, not git).
 * Each bad input: the verdict, the exit code, and nothing written. One base history per file; each test
 * clones it.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnCli } from '../helpers/cli.js';
import { mustRun } from '../helpers/program.js';
import { requireTool } from '../helpers/real-tools.js';
import { configYaml, memberYaml, SignedRepo, sshSigner, tempDir, type Signer } from '../helpers/signed-history.js';

const haveTools = requireTool('ssh-keygen', 'openssh-client') && requireTool('git', 'git');
const describeReal = haveTools ? describe : describe.skip;

interface VerifyJson {
  ok: boolean;
  commits: Array<{ commit: string; signer?: string; verdict: string; reason: string; approvedBy?: string[]; ignoredApprovals?: string[] }>;
  violations: Array<{ code: string; commit: string; changed: string[]; rule: string; fix: string }>;
}

describeReal('infra verify: change rules', () => {
  let work: string;
  let base: SignedRepo;
  let baseHead: string;
  const s: Record<string, Signer> = {};
  const member = (h: string, extra: Parameters<typeof memberYaml>[1] = {}) => memberYaml(h, { keys: [{ name: 'laptop', key: s[h].publicKey }], ...extra });

  beforeAll(() => {
    work = tempDir('rules');
    for (const h of ['alice', 'bob', 'carol', 'dan']) s[h] = sshSigner(work, h, 'ed25519');
    base = SignedRepo.create(path.join(work, 'base'));
    base.write('infra.yml', configYaml(['alice', 'bob']));
    for (const h of ['alice', 'bob', 'carol', 'dan']) base.write(`keys/${h}/member.yml`, member(h));
    base.commit('the registry: trust root');
    baseHead = base.head();
  }, 60_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const clone = (name: string, args: string[] = []): SignedRepo => {
    const dir = path.join(work, name);
    rmSync(dir, { recursive: true, force: true });
    mustRun('git', ['clone', '-q', ...args, `file://${base.dir}`, dir]);
    const repo = new SignedRepo(dir);
    repo.git(['config', 'user.name', 'Test Committer']);
    repo.git(['config', 'user.email', 'committer@coop.example']);
    return repo;
  };
  const configOf = (repo: SignedRepo) => readFileSync(path.join(repo.dir, '.git/config'), 'utf8');
  const verify = async (repo: SignedRepo, args: string[] = []) => {
    const before = configOf(repo);
    const r = await spawnCli(['verify', '--dir', repo.dir, '--json', ...args]);
    expect(repo.git(['status', '--porcelain'])).toBe('');
    if (r.code !== 0 || !args.includes('--pin')) expect(configOf(repo)).toBe(before);
    return { code: r.code, json: JSON.parse(r.stdout) as VerifyJson, stderr: r.stderr };
  };

  it('a member editing another member\'s folder: unauthorized-change naming the owner or an admin', async () => {
    const repo = clone('other-folder');
    repo.write('keys/dan/member.yml', member('dan', { keys: [{ name: 'laptop', key: s.dan.publicKey }, { name: 'sneaky', key: s.carol.publicKey.replace('carol@laptop', 'x') }] }));
    const c = repo.commit('carol edits dan', s.carol);
    const { code, json } = await verify(repo);
    expect(code).toBe(4);
    expect(json.violations).toEqual([
      expect.objectContaining({ code: 'unauthorized-change', commit: c, changed: ['keys/dan/member.yml: ssh_keys'], fix: 'dan or an admin (alice, bob) must sign it instead' }),
    ]);
    // human output: one line per violation, on stdout
    const human = await spawnCli(['verify', '--dir', repo.dir]);
    expect(human.code).toBe(4);
    expect(human.stdout.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^${c.slice(0, 12)} carol <carol@coop.example>: unauthorized-change: keys/dan/member.yml: ssh_keys: .*fix: dan or an admin`))]);
  });

  it('a member changing their own groups: a protected change only an admin signs', async () => {
    const repo = clone('own-groups');
    repo.write('keys/carol/member.yml', member('carol', { groups: ['ops', 'admins-of-everything'] }));
    const c = repo.commit('carol joins a group', s.carol);
    const { code, json } = await verify(repo);
    expect(code).toBe(4);
    expect(json.violations).toEqual([expect.objectContaining({ code: 'unauthorized-change', commit: c, changed: ['keys/carol/member.yml: groups'], rule: expect.stringMatching(/only an admin may sign a protected change/) })]);
  });

  it('an admin\'s protected change needs a second admin: unapproved, then approved by `infra approve`', async () => {
    const repo = clone('approve');
    repo.write('infra.yml', configYaml(['alice', 'bob']).replace('hosts: all', 'hosts: web1'));
    const change = repo.commit('alice narrows the grant', s.alice);
    repo.write('keys/eve/member.yml', memberYaml('eve', {}));
    const newMember = repo.commit('alice adds eve', s.alice);
    let r = await verify(repo);
    expect(r.code).toBe(4);
    expect(r.json.violations.map((v) => [v.code, v.commit, v.changed])).toEqual([
      ['unapproved-change', change, ['infra.yml: access']],
      ['unapproved-change', newMember, ['keys/eve/member.yml: new member eve']],
    ]);
    expect(r.json.violations[0].fix).toBe(`a second admin (bob) must run \`infra approve ${change}\``);

    // alice cannot approve her own change: refused, nothing committed
    const asAlice = ['config', 'gpg.format', 'ssh'];
    repo.git(asAlice);
    repo.git(['config', 'user.signingkey', s.alice.signingKey]);
    const refused = await spawnCli(['approve', '--dir', repo.dir]);
    expect([refused.code, repo.head()]).toEqual([3, newMember]);
    expect(refused.stderr).toMatch(/signed by alice, and an admin cannot approve their own change/);

    // bob approves HEAD, which approves both
    repo.git(['config', 'user.signingkey', s.bob.signingKey]);
    const approved = await spawnCli(['approve', '--dir', repo.dir, '--json'], { env: { GIT_COMMITTER_DATE: '2026-05-02T12:00:00Z' } });
    expect(approved.code).toBe(0);
    const made = JSON.parse(approved.stdout) as { commit: string; approves: string; approver: string };
    expect(made).toMatchObject({ approves: newMember, approver: 'bob', commit: repo.head() });
    expect(repo.git(['log', '-1', '--format=%(trailers:key=Infra-Approves,valueonly)'])).toBe(newMember);
    expect(repo.git(['diff', '--stat', `${newMember}..HEAD`])).toBe(''); // empty
    r = await verify(repo);
    expect(r.json.violations).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.json.commits.find((c) => c.commit === change)).toMatchObject({ verdict: 'allowed', approvedBy: ['bob'] });
  });

  it('an approval signed by the same admin approves nothing', async () => {
    const repo = clone('self-approval');
    repo.write('infra.yml', configYaml(['alice', 'bob', 'carol']));
    const change = repo.commit('alice makes carol an admin', s.alice);
    repo.commit('alice approves herself', s.alice, undefined, ['-m', `Infra-Approves: ${change}`]);
    const { code, json } = await verify(repo);
    expect(code).toBe(4);
    expect(json.violations).toEqual([expect.objectContaining({ code: 'unapproved-change', commit: change, rule: expect.stringMatching(/alice approved it, but cannot approve their own change/) })]);
  });

  it('an approval naming a commit outside the range approves nothing', async () => {
    const repo = clone('outside');
    repo.write('infra.yml', configYaml(['alice', 'bob']).replace('hosts: all', 'hosts: web1'));
    const change = repo.commit('alice narrows the grant', s.alice);
    repo.commit('bob approves the root', s.bob, undefined, ['-m', `Infra-Approves: ${baseHead}`]);
    const { code, json } = await verify(repo);
    expect(code).toBe(4);
    expect(json.violations.map((v) => [v.code, v.commit])).toEqual([['unapproved-change', change]]);
    expect(json.commits.at(-1)!.ignoredApprovals).toEqual([`${baseHead.slice(0, 12)}: not a commit in the range verified`]);
  });

  it('a clean merge needs no signature; a merge with its own changes does', async () => {
    const repo = clone('merges');
    repo.git(['checkout', '-q', '-b', 'topic']);
    repo.write('keys/carol/member.yml', member('carol', { name: 'Carol on a branch' }));
    repo.commit('carol on a branch', s.carol);
    repo.git(['checkout', '-q', 'main']);
    repo.write('keys/dan/member.yml', member('dan', { name: 'Dan on main' }));
    repo.commit('dan on main', s.dan);
    const env = { ...process.env, GIT_COMMITTER_DATE: '2026-05-01T12:00:00Z' };
    mustRun('git', ['-C', repo.dir, 'merge', '-q', '--no-ff', '--no-gpg-sign', '-m', 'merge button', 'topic'], { env });
    const clean = repo.head();
    let r = await verify(repo);
    expect(r.json.violations).toEqual([]);
    expect(r.json.commits.find((c) => c.commit === clean)).toMatchObject({ verdict: 'allowed', reason: expect.stringMatching(/clean merge/) });
    // an "evil" merge: the merge commit itself adds a key to dan
    repo.git(['checkout', '-q', '-b', 'topic2', clean]);
    repo.write('keys/carol/member.yml', member('carol', { name: 'Carol again' }));
    repo.commit('carol again', s.carol);
    repo.git(['checkout', '-q', 'main']);
    mustRun('git', ['-C', repo.dir, 'merge', '-q', '--no-ff', '--no-commit', 'topic2'], { env });
    repo.write('keys/dan/member.yml', member('dan', { name: 'Dan on main', keys: [{ name: 'laptop', key: s.dan.publicKey }, { name: 'evil', key: s.carol.publicKey.replace('carol@laptop', 'evil') }] }));
    repo.git(['add', '-A']);
    mustRun('git', ['-C', repo.dir, 'commit', '-q', '--no-gpg-sign', '-m', 'merge with its own change'], { env });
    const evil = repo.head();
    r = await verify(repo);
    expect(r.code).toBe(4);
    expect(r.json.violations).toEqual([expect.objectContaining({ code: 'unsigned-change', commit: evil, changed: ['keys/dan/member.yml: ssh_keys'] })]);
  });

  it('generated files alone need no signature', async () => {
    const repo = clone('generated');
    repo.write('inventories/production/host_vars/web1/infra.generated.yml', '# generated\n').write('allowed_signers', '# generated\n');
    repo.commit('render output');
    expect((await verify(repo)).code).toBe(0);
    repo.write('inventories/production/hosts.yml', 'all:\n  hosts:\n    web1: {}\n    web2: {}\n');
    const c = repo.commit('an unsigned inventory edit');
    const r = await verify(repo);
    expect(r.json.violations).toEqual([expect.objectContaining({ code: 'unsigned-change', commit: c, changed: ['inventories/production/hosts.yml'] })]);
  });

  it('--pin records HEAD after a clean run only, and the next run starts there', async () => {
    const repo = clone('pin');
    repo.write('keys/carol/member.yml', member('carol', { name: 'Carol pinned' }));
    const good = repo.commit('carol', s.carol);
    let r = await verify(repo, ['--pin']);
    expect(r.code).toBe(0);
    expect(repo.git(['config', 'infra.verifiedThrough'])).toBe(good);
    repo.write('keys/carol/member.yml', member('carol', { name: 'Carol unsigned' }));
    const bad = repo.commit('unsigned');
    r = await verify(repo, ['--pin']);
    expect(r.code).toBe(4);
    expect(r.json.commits.map((c) => c.commit)).toEqual([bad]); // from the pinned commit on
    expect(repo.git(['config', 'infra.verifiedThrough'])).toBe(good);
    // a rewritten history (HEAD no longer descends from the pin) is refused
    repo.git(['reset', '-q', '--hard', baseHead]);
    repo.write('keys/dan/member.yml', member('dan', { name: 'Dan rewritten' }));
    repo.commit('rewritten', s.dan);
    const rewritten = await spawnCli(['verify', '--dir', repo.dir]);
    expect(rewritten.code).toBe(4);
    expect(rewritten.stderr).toMatch(/does not descend from the pinned commit/);
  });

  it('a shallow clone: a clear error, nothing written', async () => {
    const repo = clone('shallow-source');
    repo.write('keys/carol/member.yml', member('carol', { name: 'Carol for the shallow clone' }));
    repo.commit('carol', s.carol);
    const shallow = path.join(work, 'shallow');
    rmSync(shallow, { recursive: true, force: true });
    mustRun('git', ['clone', '-q', '--depth', '1', `file://${repo.dir}`, shallow]);
    const before = configOf(new SignedRepo(shallow));
    const r = await spawnCli(['verify', '--dir', shallow]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/this clone is shallow: verification needs the history back to the root commit/);
    expect(r.stderr).toMatch(/git fetch --unshallow/);
    expect(configOf(new SignedRepo(shallow))).toBe(before);
    // with --since a commit the clone does not have: the same advice
    const since = await spawnCli(['verify', '--dir', shallow, '--since', baseHead]);
    expect(since.code).toBe(3);
    expect(since.stderr).toMatch(/git fetch --unshallow/);
  });

  it('audit --since shows each change\'s signer and verdict, and a finding per violation', async () => {
    const repo = clone('audit');
    repo.write('keys/carol/member.yml', member('carol', { keys: [{ name: 'laptop', key: s.carol.publicKey }, { name: 'second', key: s.dan.publicKey.replace('dan@laptop', 'x') }] }));
    const signed = repo.commit('carol adds a key', s.carol, '2026-05-03T12:00:00Z');
    repo.write('keys/dan/member.yml', member('dan', { groups: ['ops', 'infra'] }));
    const unsigned = repo.commit('dan joins infra, unsigned', undefined, '2026-05-04T12:00:00Z');
    const r = await spawnCli(['audit', '--dir', repo.dir, '--since', baseHead, '--format', 'json', '--as-of', '2026-05-05']);
    const report = JSON.parse(r.stdout) as { changes: Array<{ commit: string; kind: string; signer?: string; verdict?: string }>; findings: Array<{ code: string; subject: string; fix: string }> };
    expect(report.changes.map((c) => [c.commit, c.kind, c.signer, c.verdict])).toEqual([
      [signed.slice(0, 7), 'key-added', 'carol', 'allowed'],
      [unsigned.slice(0, 7), 'member-changed', undefined, 'violation'],
    ]);
    expect(report.findings.filter((f) => f.code.endsWith('-change'))).toEqual([
      expect.objectContaining({ code: 'unsigned-change', subject: `${unsigned.slice(0, 12)} Test Committer <committer@coop.example>`, fix: expect.stringMatching(/an admin \(alice, bob\) must sign it/) }),
    ]);
    expect(repo.git(['status', '--porcelain'])).toBe('');
  });

  it('policy.changes.require_signed: render refuses an unverified HEAD (exit 4, nothing written) unless --allow-unverified', async () => {
    const repo = SignedRepo.create(path.join(work, 'require-signed'));
    repo.write('infra.yml', configYaml([], 'policy:\n  changes:\n    require_signed: true\n'));
    repo.write('keys/carol/member.yml', member('carol'));
    repo.commit('trust root');
    repo.write('keys/carol/member.yml', member('carol', { name: 'Carol signed' }));
    repo.commit('carol', s.carol);
    expect((await spawnCli(['render', '--dir', repo.dir])).code).toBe(0);
    repo.git(['add', '-A']);
    repo.commit('render');
    repo.write('keys/carol/member.yml', member('carol', { name: 'Carol unsigned', groups: ['ops', 'root'] }));
    repo.commit('unsigned');
    const refused = await spawnCli(['render', '--dir', repo.dir]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/policy.changes.require_signed: 1 commit since the root commit do not verify; nothing was rendered/);
    expect(repo.git(['status', '--porcelain'])).toBe('');
    const forced = await spawnCli(['render', '--dir', repo.dir, '--allow-unverified', '--json']);
    expect([forced.code, JSON.parse(forced.stdout)]).toEqual([0, { written: [], removed: [], unchanged: 1 }]);
  });

  it('a registry that is not a git repository: a clear error', async () => {
    const dir = path.join(work, 'not-git');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'infra.yml'), configYaml(['alice']));
    const r = await spawnCli(['verify', '--dir', dir], { env: { GIT_CEILING_DIRECTORIES: work } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/is not a git repository: signed changes are proved from its git history/);
  });
});
