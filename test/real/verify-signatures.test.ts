/**
 * `infra verify` against commits signed by the real `git commit -S`: SSH signatures by ed25519, ECDSA, RSA and
 * security (sk-ssh-ed25519) keys, and OpenPGP by gpg. Its verdict on each signed commit agrees with
 * `git verify-commit` given the same signers; each bad signature gives the right verdict, exit 4, and leaves
 * the clone as it was. One base history is built per file; each test clones it and adds its own commits.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { spawnCli } from '../helpers/cli.js';
import { mustRun } from '../helpers/program.js';
import { requireTool } from '../helpers/real-tools.js';
import { configYaml, gitVerifyCommit, memberYaml, pgpSigner, SignedRepo, skSigner, sshSigner, tempDir, type Signer } from '../helpers/signed-history.js';

const haveTools = requireTool('ssh-keygen', 'openssh-client') && requireTool('git', 'git') && requireTool('gpg', 'gnupg');
const describeReal = haveTools ? describe : describe.skip;

interface VerifyJson {
  ok: boolean;
  commits: Array<{ commit: string; signer?: string; signature: string; signatureFormat?: string; signatureProblem?: string; verdict: string }>;
  violations: Array<{ code: string; commit: string; changed: string[]; rule: string; fix: string }>;
}

describeReal('infra verify: real signatures', () => {
  let work: string;
  let base: SignedRepo;
  let baseHead: string;
  const s: Record<string, Signer> = {};
  let stranger: Signer;
  const signed: Record<string, string> = {};

  const members = () => ({
    alice: memberYaml('alice', { keys: [{ name: 'laptop', key: s.alice.publicKey }] }),
    bob: memberYaml('bob', { keys: [{ name: 'laptop', key: s.bob.publicKey }] }),
    carol: memberYaml('carol', { keys: [{ name: 'laptop', key: s.carol.publicKey }] }),
    dave: memberYaml('dave', { keys: [{ name: 'token', key: s.dave.publicKey }] }),
    erin: memberYaml('erin', {}),
  });
  /** The signers every commit after the root is judged by (no commit of the base changes a key). */
  const allowedSigners = () =>
    ['alice', 'bob', 'carol', 'dave'].map((h) => `${h}@coop.example namespaces="git",valid-after="20260301Z" ${s[h].publicKey.split(' ').slice(0, 2).join(' ')}`).join('\n') + '\n';

  beforeAll(() => {
    work = tempDir('sigs');
    s.alice = sshSigner(work, 'alice', 'ed25519');
    s.bob = sshSigner(work, 'bob', 'ecdsa');
    s.carol = sshSigner(work, 'carol', 'rsa');
    s.dave = skSigner(work, 'dave');
    s.erin = pgpSigner(work, 'erin');
    stranger = sshSigner(work, 'mallory', 'ed25519');
    base = SignedRepo.create(path.join(work, 'base'));
    base.write('infra.yml', configYaml(['alice', 'bob']));
    for (const [h, text] of Object.entries(members())) base.write(`keys/${h}/member.yml`, text);
    base.write('keys/erin/pgp.asc', s.erin.publicKey);
    base.commit('the registry: trust root');
    // Each member changes their own name, signed with their own key.
    for (const h of ['alice', 'bob', 'carol', 'dave', 'erin']) {
      base.write(`keys/${h}/member.yml`, members()[h as 'alice'].replace(/^name: .*$/m, `name: ${h} renamed`));
      signed[h] = base.commit(`${h} renames themself`, s[h]);
    }
    baseHead = base.head();
  }, 120_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const clone = (name: string): SignedRepo => {
    const dir = path.join(work, name);
    rmSync(dir, { recursive: true, force: true });
    mustRun('git', ['clone', '-q', base.dir, dir]);
    const repo = new SignedRepo(dir);
    repo.git(['config', 'user.name', 'Test Committer']);
    repo.git(['config', 'user.email', 'committer@coop.example']);
    return repo;
  };
  const verify = async (repo: SignedRepo, args: string[] = []) => {
    const configBefore = readFileSync(path.join(repo.dir, '.git/config'), 'utf8');
    const r = await spawnCli(['verify', '--dir', repo.dir, '--json', ...args]);
    // nothing written: the working tree and the clone's config are as they were
    expect(repo.git(['status', '--porcelain'])).toBe('');
    if (!args.includes('--pin') || r.code !== 0) expect(readFileSync(path.join(repo.dir, '.git/config'), 'utf8')).toBe(configBefore);
    return { code: r.code, json: JSON.parse(r.stdout) as VerifyJson, stderr: r.stderr };
  };

  it('accepts ed25519, ECDSA, RSA, security-key and OpenPGP signatures, naming each signer as git verify-commit does', async () => {
    const { code, json } = await verify(base);
    expect(json.violations).toEqual([]);
    expect(code).toBe(0);
    const byCommit = new Map(json.commits.map((c) => [c.commit, c]));
    for (const h of ['alice', 'bob', 'carol', 'dave', 'erin']) {
      const c = byCommit.get(signed[h])!;
      expect([c.signer, c.signature, c.signatureFormat]).toEqual([h, 'good', h === 'erin' ? 'openpgp' : 'ssh']);
      expect(gitVerifyCommit(base, signed[h], allowedSigners(), [s.erin.publicKey])).toBe(true);
    }
  });

  it('an unsigned commit: unsigned-change, exit 4, and the fix names who may sign', async () => {
    const repo = clone('unsigned');
    repo.write('keys/carol/member.yml', members().carol.replace('groups: [ops]', 'groups: [ops]\n# unsigned edit'));
    const c = repo.commit('unsigned edit');
    const { code, json } = await verify(repo, ['--since', baseHead]);
    expect(code).toBe(4);
    expect(json.violations).toMatchObject([{ code: 'unsigned-change', commit: c }]);
    expect(json.violations[0].fix).toMatch(/carol or an admin \(alice, bob\) must sign it/);
    expect(gitVerifyCommit(repo, c, allowedSigners())).toBe(false);
  });

  it('a key no member had at the parent: refused, as git verify-commit refuses it', async () => {
    const repo = clone('stranger');
    repo.write('keys/carol/member.yml', members().carol.replace(/^name: .*$/m, 'name: by a stranger'));
    const c = repo.commit('stranger edit', { ...stranger, handle: 'carol', email: 'carol@coop.example' });
    const { code, json } = await verify(repo, ['--since', baseHead]);
    expect(code).toBe(4);
    expect(json.commits.find((x) => x.commit === c)).toMatchObject({ signature: 'bad', signatureProblem: expect.stringMatching(/no member had registered/) });
    expect(json.violations.map((v) => v.code)).toEqual(['unsigned-change']);
    expect(gitVerifyCommit(repo, c, allowedSigners())).toBe(false);
  });

  it('a commit that adds a key and is signed by that key does not authorise itself', async () => {
    const repo = clone('self-authorising');
    repo.write('keys/carol/member.yml', memberYaml('carol', { keys: [{ name: 'laptop', key: s.carol.publicKey }, { name: 'new', key: stranger.publicKey }] }));
    const c = repo.commit('carol adds a key, signed by it', { ...stranger, handle: 'carol', email: 'carol@coop.example' });
    const { code, json } = await verify(repo, ['--since', baseHead]);
    expect(code).toBe(4);
    expect(json.violations).toMatchObject([{ code: 'unsigned-change', commit: c, changed: expect.arrayContaining(['keys/carol/member.yml: ssh_keys']) }]);
    // and once that commit is in (signed properly by carol), the key signs the next one
    const fixed = clone('self-authorising-then');
    fixed.write('keys/carol/member.yml', memberYaml('carol', { keys: [{ name: 'laptop', key: s.carol.publicKey }, { name: 'new', key: stranger.publicKey }] }));
    fixed.commit('carol adds a key', s.carol);
    fixed.write('keys/carol/member.yml', memberYaml('carol', { name: 'Carol N.', keys: [{ name: 'laptop', key: s.carol.publicKey }, { name: 'new', key: stranger.publicKey }] }));
    fixed.commit('carol signs with the new key', { ...stranger, handle: 'carol', email: 'carol@coop.example' });
    expect((await verify(fixed, ['--since', baseHead])).code).toBe(0);
  });

  it('a key that expired before the commit date is refused; a commit made while it was valid and its removal after stay good', async () => {
    const repo = clone('expired');
    repo.write('keys/carol/member.yml', memberYaml('carol', { keys: [{ name: 'laptop', key: s.carol.publicKey, expires: '2026-06-01' }] }));
    repo.commit('alice sets an expiry on carol\'s key', s.alice, '2026-05-02T12:00:00Z');
    repo.write('keys/carol/member.yml', memberYaml('carol', { name: 'before expiry', keys: [{ name: 'laptop', key: s.carol.publicKey, expires: '2026-06-01' }] }));
    const before = repo.commit('carol edits before the expiry', s.carol, '2026-05-20T12:00:00Z');
    repo.write('keys/carol/member.yml', memberYaml('carol', { name: 'after expiry', keys: [{ name: 'laptop', key: s.carol.publicKey, expires: '2026-06-01' }] }));
    const after = repo.commit('carol edits after the expiry', s.carol, '2026-06-02T12:00:00Z');
    const { code, json } = await verify(repo, ['--since', baseHead]);
    expect(code).toBe(4);
    expect(json.commits.find((c) => c.commit === before)).toMatchObject({ signer: 'carol', verdict: 'allowed' });
    expect(json.violations).toMatchObject([{ code: 'unsigned-change', commit: after }]);
    const expiring = allowedSigners().replace(/^(carol@\S+ namespaces="git",valid-after="20260301Z")/m, '$1,valid-before="20260601Z"');
    expect([gitVerifyCommit(repo, before, expiring), gitVerifyCommit(repo, after, expiring)]).toEqual([true, false]);
  });

  it('a commit dated before its key was removed, pushed after the removal, is judged against its parent: good', async () => {
    const repo = clone('removed-later');
    repo.write('keys/carol/member.yml', memberYaml('carol', { name: 'edited while the key was there' , keys: [{ name: 'laptop', key: s.carol.publicKey }] }));
    const early = repo.commit('carol edits', s.carol, '2026-05-10T12:00:00Z');
    repo.write('keys/carol/member.yml', memberYaml('carol', { name: 'edited while the key was there', keys: [] }));
    repo.commit('alice removes carol\'s key', s.alice, '2026-05-11T12:00:00Z');
    const { code, json } = await verify(repo, ['--since', baseHead]);
    expect(json.violations).toEqual([]);
    expect(code).toBe(0);
    expect(json.commits.find((c) => c.commit === early)).toMatchObject({ signer: 'carol', signature: 'good' });
  });

  it('a member who departed before the commit date signs nothing', async () => {
    const repo = clone('departed');
    repo.write('keys/carol/member.yml', memberYaml('carol', { status: 'departed', departed: '2026-05-05', keys: [{ name: 'laptop', key: s.carol.publicKey }] }));
    repo.commit('alice offboards carol', s.alice, '2026-05-05T09:00:00Z');
    repo.commit('bob approves', s.bob, '2026-05-05T10:00:00Z', ['-m', `Infra-Approves: ${repo.head()}`]);
    repo.write('keys/carol/member.yml', memberYaml('carol', { name: 'still here?', status: 'departed', departed: '2026-05-05', keys: [{ name: 'laptop', key: s.carol.publicKey }] }));
    const late = repo.commit('carol edits after leaving', s.carol, '2026-05-06T12:00:00Z');
    const { code, json } = await verify(repo, ['--since', baseHead]);
    expect(code).toBe(4);
    expect(json.violations).toMatchObject([{ code: 'unsigned-change', commit: late }]);
    const departedSigners = allowedSigners().replace(/^(carol@\S+ namespaces="git",valid-after="20260301Z")/m, '$1,valid-before="20260505Z"');
    expect(gitVerifyCommit(repo, late, departedSigners)).toBe(false);
  });

  it('a malformed or transplanted signature is refused, as git verify-commit refuses it', async () => {
    const repo = clone('malformed');
    const raw = repo.git(['cat-file', 'commit', signed.carol]);
    const forge = (object: string) => {
      const hash = mustRun('git', ['-C', repo.dir, 'hash-object', '-t', 'commit', '-w', '--stdin'], { input: `${object}\n` }).trim();
      repo.git(['reset', '-q', '--hard', hash]);
      return hash;
    };
    // the signature's base64 damaged in the middle
    const damaged = forge(raw.replace(/(gpgsig -----BEGIN SSH SIGNATURE-----\n [A-Za-z0-9+/]{10})[A-Za-z0-9+/]/, (_, a: string) => `${a}${a.endsWith('A') ? 'B' : 'A'}`).replace(/carol renames themself/, 'damaged'));
    let r = await verify(repo, ['--since', baseHead]);
    expect(r.code).toBe(4);
    expect(r.json.commits.find((c) => c.commit === damaged)).toMatchObject({ signature: 'bad' });
    expect(gitVerifyCommit(repo, damaged, allowedSigners())).toBe(false);
    // garbage where the signature should be
    const garbage = forge(raw.replace(/gpgsig [\s\S]*?-----END SSH SIGNATURE-----/, 'gpgsig -----BEGIN SSH SIGNATURE-----\n bm90IGEgc2lnbmF0dXJl\n -----END SSH SIGNATURE-----'));
    r = await verify(repo, ['--since', baseHead]);
    expect(r.json.commits.find((c) => c.commit === garbage)).toMatchObject({ signature: 'bad', signatureProblem: expect.stringMatching(/malformed/) });
    expect(gitVerifyCommit(repo, garbage, allowedSigners())).toBe(false);
    // a good signature moved onto another change (same parent, another tree)
    repo.git(['reset', '-q', '--hard', baseHead]);
    repo.write('keys/carol/member.yml', members().carol.replace(/^name: .*$/m, 'name: transplanted'));
    const other = repo.commit('unsigned');
    const otherRaw = repo.git(['cat-file', 'commit', other]);
    const sig = /\ngpgsig [\s\S]*?-----END SSH SIGNATURE-----/.exec(raw)![0];
    const transplanted = forge(otherRaw.replace(/\ncommitter [^\n]*/, (m) => `${m}${sig}`));
    r = await verify(repo, ['--since', baseHead]);
    expect(r.code).toBe(4);
    expect(r.json.commits.find((c) => c.commit === transplanted)).toMatchObject({ signature: 'bad', signatureProblem: expect.stringMatching(/ssh-keygen -Y verify refused carol/) });
    expect(gitVerifyCommit(repo, transplanted, allowedSigners())).toBe(false);
  });
});
