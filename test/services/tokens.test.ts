/**
 * The token services called directly: rotation against the local GitHub and Matrix stand-ins (which open
 * every sealed box and keep real token semantics), vault variables decrypted back, values decrypted with
 * an admin key, every bad input, and after each one: the exit code, no secret anywhere, and a
 * registry that says what is true.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { addToken, listTokens, reencryptTokens, rotateDue, rotateToken, showToken } from '../../src/services/tokens.js';
import { testContext, type TestContext } from '../helpers/context.js';
import { treeDigest } from '../helpers/example.js';
import { startFakeGithub, type FakeGithub } from '../helpers/fake-github.js';
import { startFakeMatrix } from '../helpers/fake-matrix.js';
import { makeAdmin } from '../helpers/pgp-keys.js';
import { errorText, expectNoSecret } from '../helpers/secrets.js';
import { rejection } from '../helpers/thrown.js';
import {
  FAKE_KEYS,
  fakeGithubData,
  makeAdmins,
  NEW_GITHUB_TOKEN,
  OLD_GITHUB_TOKEN,
  OTHER_LOGIN_TOKEN,
  plainFiles,
  READ_ONLY_TOKEN,
  storedValue,
  tokenOf,
  tokenRegistry,
  vaultValue,
  writeKey,
  type Admins,
} from '../helpers/tokens-fixture.js';

const TODAY = '2026-06-15';
let admins: Admins;
let github: FakeGithub;

beforeAll(async () => {
  admins = await makeAdmins();
});
beforeEach(async () => {
  github = await startFakeGithub(fakeGithubData());
});
afterEach(async () => {
  await github.close();
});

const env = (root: string, extra: Record<string, string> = {}) => ({
  INFRA_GITHUB_API_URL: github.url,
  ANSIBLE_VAULT_PASSWORD_FILE: path.join(root, 'vault-pass'),
  INFRA_ADMIN: 'alice',
  ...extra,
});
const ctxFor = (root: string, stdin?: string, extra: Record<string, string> = {}) => testContext({ root, today: TODAY, stdin, env: env(root, extra) });

/** No secret in what the context captured, in the error, or in any plain file of the registry. */
function noLeak(secret: string, ctx: TestContext, root: string, error?: unknown) {
  expectNoSecret(secret, { stdout: ctx.output.stdout, stderr: ctx.output.stderr, error: error === undefined ? '' : errorText(error), ...plainFiles(root) });
}

describe('rotate a github token', () => {
  it('checks the token, writes every consumer, stores it encrypted, records the rotation, and ends with the revoke page', async () => {
    const root = await tokenRegistry(admins);
    const ctx = ctxFor(root, `${NEW_GITHUB_TOKEN}\n`);
    const r = await rotateToken(ctx, { ref: 'roobot/github' });
    for (const key of FAKE_KEYS) expect(github.secret(key)).toBe(NEW_GITHUB_TOKEN);
    expect(github.orgVisibility('example-coop', 'BOT_TOKEN')).toBe('all'); // kept as people chose it
    expect(await vaultValue(root, 'roobot_github_token')).toBe(NEW_GITHUB_TOKEN);
    expect(await fs.readFile(path.join(root, 'inventories/production/group_vars/bots/infra.tokens.yml'), 'utf8')).toContain('# kept by people\nroobot_home: /srv/roobot\n');
    expect(await storedValue(root, admins, 'keys/roobot/tokens/github.asc')).toBe(NEW_GITHUB_TOKEN);
    await expect(fs.access(path.join(root, 'keys/roobot/tokens/github.pending.asc'))).rejects.toThrow();
    const token = await tokenOf(root, 'github');
    expect(token).toMatchObject({ rotated_at: TODAY, rotated_by: 'alice', expires_at: '2027-02-27', readable_by: ['alice', 'bob'] });
    expect(token.pending).toBeUndefined();
    expect(r.revoke_url).toBe(`${github.url}/settings/personal-access-tokens`);
    expect(r.updated).toHaveLength(5);
    // secrets were written with the new token itself (GITHUB_TOKEN unset)
    expect(new Set(github.requests.filter((q) => q.method === 'PUT').map((q) => q.as))).toEqual(new Set(['roobot-gh']));
    noLeak(NEW_GITHUB_TOKEN, ctx, root);
    noLeak(OLD_GITHUB_TOKEN, ctx, root);
  });

  it('writes secrets with GITHUB_TOKEN when it is set', async () => {
    const root = await tokenRegistry(admins);
    await rotateToken(ctxFor(root, NEW_GITHUB_TOKEN, { GITHUB_TOKEN: OLD_GITHUB_TOKEN }), { ref: 'roobot/github' });
    expect(github.requests.filter((q) => q.method === 'PUT').length).toBe(4);
    expect(github.secret(FAKE_KEYS[0])).toBe(NEW_GITHUB_TOKEN);
  });

  it('a 500 on the 3rd of 5 consumers exits 5 naming done and not done; --resume finishes without the value', async () => {
    const root = await tokenRegistry(admins);
    github.fail({ status: 500, method: 'PUT', nth: 3 }); // the 3rd secret written (4th consumer: the org secret)
    const ctx = ctxFor(root, NEW_GITHUB_TOKEN);
    const e = await rejection(rotateToken(ctx, { ref: 'roobot/github' }));
    expect(e.exitCode).toBe(5);
    expect(e.message).toMatch(/done: github_secret:example-coop\/organizing:API_TOKEN_BOT, ansible_vault_var:production:bots:roobot_github_token, github_env_secret:example-coop\/site:production:DEPLOY_TOKEN; not done: github_org_secret:example-coop:BOT_TOKEN, github_secret:example-coop\/site:API_TOKEN_BOT/);
    expect(e.hint).toContain('infra tokens rotate roobot/github --resume --key');
    const during = await tokenOf(root, 'github');
    expect(during.rotated_at).toBe('2026-01-10');
    expect(during.pending).toEqual({ started_at: TODAY, started_by: 'alice', left: ['github_org_secret:example-coop:BOT_TOKEN', 'github_secret:example-coop/site:API_TOKEN_BOT'] });
    expect(await storedValue(root, admins, 'keys/roobot/tokens/github.asc')).toBe(OLD_GITHUB_TOKEN);
    expect(await storedValue(root, admins, 'keys/roobot/tokens/github.pending.asc')).toBe(NEW_GITHUB_TOKEN);
    noLeak(NEW_GITHUB_TOKEN, ctx, root, e);

    const key = await writeKey(root, 'bob.asc', admins.bob.privateKey);
    const resumed = testContext({ root, today: '2026-06-16', env: env(root, { INFRA_PGP_PASSPHRASE: admins.bob.passphrase! }) });
    const r = await rotateToken(resumed, { ref: 'roobot/github', resume: true, key });
    expect(r.updated).toEqual(['github_org_secret:example-coop:BOT_TOKEN', 'github_secret:example-coop/site:API_TOKEN_BOT']);
    for (const k of FAKE_KEYS) expect(github.secret(k)).toBe(NEW_GITHUB_TOKEN);
    // each consumer was written once, apart from the one that failed
    expect(FAKE_KEYS.map((k) => github.received.get(k)?.length)).toEqual([1, 1, 1, 1]);
    expect(await tokenOf(root, 'github')).toMatchObject({ rotated_at: '2026-06-16', rotated_by: 'bob', expires_at: '2027-02-27' });
    expect(await storedValue(root, admins, 'keys/roobot/tokens/github.asc')).toBe(NEW_GITHUB_TOKEN);
    noLeak(NEW_GITHUB_TOKEN, resumed, root);
  });

  describe('bad input: refused with the right code, nothing secret shown, the registry unchanged or true', () => {
    const cases: Array<[string, string, number, boolean]> = [
      // [what, stdin, exit code, registry unchanged]
      ['an empty value', '\n', 3, true],
      ['a whitespace value', '   \t \n', 3, true],
      ['a value with a newline in the middle', `${NEW_GITHUB_TOKEN.slice(0, 20)}\n${NEW_GITHUB_TOKEN.slice(20)}\n`, 3, true],
      ['a token GitHub rejects (401)', 'github_pat_11UNKNOWNtokenNOBODYknows0123456789abcdef\n', 5, true],
      ['a token of another login', `${OTHER_LOGIN_TOKEN}\n`, 3, true],
    ];
    it.each(cases)('%s', async (_what, stdin, code, unchanged) => {
      const root = await tokenRegistry(admins);
      const before = await treeDigest(root);
      const ctx = ctxFor(root, stdin);
      const e = await rejection(rotateToken(ctx, { ref: 'roobot/github' }));
      expect(e.exitCode).toBe(code);
      if (unchanged) expect(await treeDigest(root)).toBe(before);
      for (const s of [stdin.trim(), ...stdin.split('\n')].filter((x) => x.trim().length >= 8)) noLeak(s, ctx, root, e);
      expect(github.requests.filter((q) => q.method === 'PUT')).toEqual([]);
    });

    it('a token without permission to write secrets (403): exit 5, the pending rotation recorded, the permission named', async () => {
      const root = await tokenRegistry(admins);
      const ctx = ctxFor(root, READ_ONLY_TOKEN);
      const e = await rejection(rotateToken(ctx, { ref: 'roobot/github' }));
      expect(e.exitCode).toBe(5);
      expect(e.message).toContain('403');
      expect(e.message).toContain('not done: github_secret:example-coop/organizing:API_TOKEN_BOT');
      expect((await tokenOf(root, 'github')).pending.left).toHaveLength(5);
      noLeak(READ_ONLY_TOKEN, ctx, root, e);
    });

    it('an admin without a PGP key: exit 3 naming them, before any consumer changes', async () => {
      const root = await tokenRegistry(admins);
      await fs.rm(path.join(root, 'keys/bob/pgp.asc'));
      const before = await treeDigest(root);
      const ctx = ctxFor(root, NEW_GITHUB_TOKEN);
      const e = await rejection(rotateToken(ctx, { ref: 'roobot/github' }));
      expect(e.exitCode).toBe(3);
      expect(e.message).toContain('keys/bob/pgp.asc');
      expect(await treeDigest(root)).toBe(before);
      expect(github.requests.filter((q) => q.method === 'PUT')).toEqual([]);
      noLeak(NEW_GITHUB_TOKEN, ctx, root, e);
    });

    it('a consumer naming an unknown environment or group is refused by add (exit 3), nothing written', async () => {
      const root = await tokenRegistry(admins);
      const before = await treeDigest(root);
      for (const consumer of ['ansible_vault_var:nowhere:bots:x_token', 'ansible_vault_var:production:nogroup:x_token']) {
        const e = await rejection(addToken(ctxFor(root), { handle: 'roobot', name: 'new', kind: 'generic', consumers: [consumer] }));
        expect(e.exitCode).toBe(3);
        expect(e.message).toMatch(/no environment "nowhere"|no group "nogroup"/);
      }
      expect(await treeDigest(root)).toBe(before);
    });

    it('a wrong passphrase: exit 3, nothing changes', async () => {
      const root = await tokenRegistry(admins);
      github.fail({ status: 500, method: 'PUT', nth: 1 });
      await rejection(rotateToken(ctxFor(root, NEW_GITHUB_TOKEN), { ref: 'roobot/github' }));
      const before = await treeDigest(root);
      const key = await writeKey(root, 'bob.asc', admins.bob.privateKey);
      const ctx = ctxFor(root, undefined, { INFRA_PGP_PASSPHRASE: 'not the passphrase' });
      const e = await rejection(rotateToken(ctx, { ref: 'roobot/github', resume: true, key }));
      expect(e.exitCode).toBe(3);
      expect(e.message).toContain('wrong passphrase');
      expect(await treeDigest(root)).toBe(before);
      noLeak(NEW_GITHUB_TOKEN, ctx, root, e);
    });

    it('a corrupted .asc: exit 3 saying it is damaged, nothing shown', async () => {
      const root = await tokenRegistry(admins);
      const file = path.join(root, 'keys/roobot/tokens/github.asc');
      const text = await fs.readFile(file, 'utf8');
      const lines = text.split('\n');
      lines[3] = lines[3].split('').reverse().join('');
      await fs.writeFile(file, lines.join('\n'));
      const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
      const ctx = ctxFor(root);
      const e = await rejection(showToken(ctx, { ref: 'roobot/github', reveal: true, key }));
      expect(e.exitCode).toBe(3);
      expect(e.message).toContain('keys/roobot/tokens/github.asc');
      expect(ctx.output.stdout).toBe('');
    });

    it('--resume with nothing pending: exit 3', async () => {
      const root = await tokenRegistry(admins);
      const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
      const e = await rejection(rotateToken(ctxFor(root), { ref: 'roobot/github', resume: true, key }));
      expect(e.exitCode).toBe(3);
      expect(e.message).toContain('nothing to resume');
    });

    it('Ctrl+C mid-rotation: stops at a recorded point (exit 130), and --resume converges', async () => {
      const root = await tokenRegistry(admins);
      let asked = 0;
      const ctx = ctxFor(root, NEW_GITHUB_TOKEN);
      const e = await rejection(rotateToken(ctx, { ref: 'roobot/github', cancelled: () => ++asked > 2 }));
      expect(e.exitCode).toBe(130);
      expect(e.message).toContain('not done: github_env_secret');
      const pending = (await tokenOf(root, 'github')).pending;
      expect(pending.left).toHaveLength(3);
      expect(github.secret(FAKE_KEYS[0])).toBe(NEW_GITHUB_TOKEN);
      expect(github.secret(FAKE_KEYS[1])).toBeUndefined();
      noLeak(NEW_GITHUB_TOKEN, ctx, root, e);
      const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
      await rotateToken(ctxFor(root), { ref: 'roobot/github', resume: true, key });
      for (const k of FAKE_KEYS) expect(github.secret(k)).toBe(NEW_GITHUB_TOKEN);
      expect(await vaultValue(root, 'roobot_github_token')).toBe(NEW_GITHUB_TOKEN);
      expect((await tokenOf(root, 'github')).rotated_at).toBe(TODAY);
    });

    it('a rotation over an unfinished one is refused, naming --resume', async () => {
      const root = await tokenRegistry(admins);
      github.fail({ status: 500, method: 'PUT', nth: 1 });
      await rejection(rotateToken(ctxFor(root, NEW_GITHUB_TOKEN), { ref: 'roobot/github' }));
      const e = await rejection(rotateToken(ctxFor(root, NEW_GITHUB_TOKEN), { ref: 'roobot/github' }));
      expect(e.exitCode).toBe(3);
      expect(e.hint).toContain('--resume');
    });
  });

  it('--dry-run lists the steps and changes nothing', async () => {
    const root = await tokenRegistry(admins);
    const before = await treeDigest(root);
    const r = await rotateToken(ctxFor(root), { ref: 'roobot/github', dryRun: true });
    expect(r.steps!.join('\n')).toMatch(/GET \/user[\s\S]*API_TOKEN_BOT of example-coop\/organizing[\s\S]*infra\.tokens\.yml[\s\S]*revoke/);
    expect(await treeDigest(root)).toBe(before);
    expect(github.requests).toEqual([]);
  });
});

describe('rotate a matrix token', () => {
  it('logs in on a new device, checks whoami, updates the consumer, then logs the old token out', async () => {
    const matrix = await startFakeMatrix({ users: { '@roobot:matrix.example': 'bot password with spaces' } });
    try {
      const old = matrix.issueToken('@roobot:matrix.example');
      const root = await tokenRegistry(admins, { homeserver: matrix.url, stored: { chat: old.accessToken } });
      const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
      const ctx = ctxFor(root, 'bot password with spaces\n');
      const r = await rotateToken(ctx, { ref: 'roobot/chat', key });
      const fresh = await storedValue(root, admins, 'keys/roobot/tokens/chat.asc');
      expect(fresh).not.toBe(old.accessToken);
      expect(await vaultValue(root, 'roobot_matrix_token')).toBe(fresh);
      expect(matrix.isValid(fresh)).toBe(true);
      expect(matrix.isValid(old.accessToken)).toBe(false);
      expect(r.old_token_logged_out).toBe(true);
      expect(matrix.requests.filter((q) => q.sentDeviceId !== undefined).map((q) => q.sentDeviceId)).toEqual([false]);
      expect((await tokenOf(root, 'chat')).rotated_at).toBe(TODAY);
      for (const s of [fresh, old.accessToken, 'bot password with spaces']) noLeak(s, ctx, root);
    } finally {
      await matrix.close();
    }
  });

  it('a wrong password: exit 3, nothing recorded, the old token still works', async () => {
    const matrix = await startFakeMatrix({ users: { '@roobot:matrix.example': 'right password' } });
    try {
      const old = matrix.issueToken('@roobot:matrix.example');
      const root = await tokenRegistry(admins, { homeserver: matrix.url, stored: { chat: old.accessToken } });
      const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
      const before = await treeDigest(root);
      const e = await rejection(rotateToken(ctxFor(root, 'wrong password here'), { ref: 'roobot/chat', key }));
      expect(e.exitCode).toBe(3);
      expect(await treeDigest(root)).toBe(before);
      expect(matrix.isValid(old.accessToken)).toBe(true);
    } finally {
      await matrix.close();
    }
  });
});

describe('generic tokens and --due', () => {
  it('--due rotates the due generic token (32 random bytes) and lists the ones that need a person', async () => {
    const root = await tokenRegistry(admins);
    const ctx = ctxFor(root, undefined, { GITHUB_TOKEN: OLD_GITHUB_TOKEN });
    const r = await rotateDue(ctx, {});
    expect(r.rotated.map((t) => t.token)).toEqual(['roobot/hook']);
    expect(r.need_person.map((p) => p.token)).toEqual(['roobot/github']); // chat was rotated 2026-05-01: not due
    const value = await storedValue(root, admins, 'keys/roobot/tokens/hook.asc');
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(github.secret('repo:example-coop/organizing:WEBHOOK_SECRET')).toBe(value);
    expect(await vaultValue(root, 'roobot_webhook_secret')).toBe(value);
    noLeak(value, ctx, root);
  });

  it('a generic token with GitHub consumers needs GITHUB_TOKEN: refused before anything changes', async () => {
    const root = await tokenRegistry(admins);
    const before = await treeDigest(root);
    const e = await rejection(rotateToken(ctxFor(root), { ref: 'roobot/hook' }));
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain('GITHUB_TOKEN');
    expect(await treeDigest(root)).toBe(before);
  });
});

describe('add, list, show, reencrypt', () => {
  it('add registers a token that list shows without any secret, and show --reveal decrypts', async () => {
    const root = await tokenRegistry(admins);
    const r = await addToken(ctxFor(root), {
      handle: 'roobot',
      name: 'deploy',
      kind: 'generic',
      every: 30,
      consumers: ['github_secret:example-coop/site:DEPLOY_KEY', 'ansible_vault_var:production:bots:roobot_deploy_key'],
    });
    expect(r.written).toEqual(['keys/roobot/member.yml']);
    const ctx = ctxFor(root);
    const { tokens } = await listTokens(ctx);
    expect(tokens.map((t) => t.token)).toEqual(['roobot/github', 'roobot/hook', 'roobot/chat', 'roobot/deploy']);
    expect(tokens.find((t) => t.token === 'roobot/deploy')).toMatchObject({ kind: 'generic', status: 'overdue', stored: false, consumers: ['github_secret:example-coop/site:DEPLOY_KEY', 'ansible_vault_var:production:bots:roobot_deploy_key'] });
    expect(tokens.find((t) => t.token === 'roobot/github')).toMatchObject({ next_due: '2026-04-10', status: 'overdue', stored: true });
    expectNoSecret(OLD_GITHUB_TOKEN, [JSON.stringify(tokens), ctx.output.stdout, ctx.output.stderr]);
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    expect((await showToken(ctx, { ref: 'roobot/github' })).value).toBeUndefined();
    expect((await showToken(ctx, { ref: 'roobot/github', reveal: true, key })).value).toBe(OLD_GITHUB_TOKEN);
  });

  it('add refuses a human, a taken name, a matrix token without a homeserver', async () => {
    const root = await tokenRegistry(admins);
    const ctx = ctxFor(root);
    expect((await rejection(addToken(ctx, { handle: 'alice', name: 'x', kind: 'generic', consumers: [] }))).message).toContain('only bots');
    expect((await rejection(addToken(ctx, { handle: 'roobot', name: 'github', kind: 'generic', consumers: [] }))).message).toContain('already has');
    expect((await rejection(addToken(ctx, { handle: 'roobot', name: 'm', kind: 'matrix', consumers: [] }))).exitCode).toBe(2);
  });

  it('reencrypt after an admin change: carol reads every value, bob is listed as able to read them', async () => {
    const carol = await makeAdmin('carol');
    const root = await tokenRegistry(admins, { stored: { github: OLD_GITHUB_TOKEN, hook: 'hook-value-0123456789abcdef' } });
    await fs.writeFile(path.join(root, 'keys/carol/pgp.asc'), carol.publicKey);
    const config = path.join(root, 'infra.yml');
    await fs.writeFile(config, (await fs.readFile(config, 'utf8')).replace(/admins:\n(?:\s+- \w+\n)+/, 'admins:\n  - alice\n  - carol\n'));
    // the values were encrypted to alice and bob
    const tokensFile = path.join(root, 'keys/roobot/member.yml');
    await fs.writeFile(tokensFile, (await fs.readFile(tokensFile, 'utf8')).replace(/rotated_by: (\w+)\n/g, 'rotated_by: $1\n    readable_by: [alice, bob]\n'));
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const r = await reencryptTokens(ctxFor(root), { key });
    expect(r.reencrypted).toEqual(['keys/roobot/tokens/github.asc', 'keys/roobot/tokens/hook.asc']);
    const { decryptWithKey } = await import('../../src/adapters/openpgp-tokens.js');
    expect(await decryptWithKey(await fs.readFile(path.join(root, 'keys/roobot/tokens/hook.asc'), 'utf8'), carol.privateKey)).toBe('hook-value-0123456789abcdef');
    const bobCannot = await rejection(decryptWithKey(await fs.readFile(path.join(root, 'keys/roobot/tokens/github.asc'), 'utf8'), admins.bob.privateKey, admins.bob.passphrase));
    expect(bobCannot.message).toContain('not one');
    // roobot/chat holds no stored value, so there is nothing of it to read
    expect(r.exposed.map((x) => [x.token, x.readable_by_former_admins, x.command])).toEqual([
      ['roobot/github', ['bob'], 'infra tokens rotate roobot/github'],
      ['roobot/hook', ['bob'], 'infra tokens rotate roobot/hook'],
    ]);
    // each recipient named by handle and fingerprint
    const { keyFingerprint } = await import('../../src/adapters/openpgp-tokens.js');
    expect(r.recipients).toEqual([
      { handle: 'alice', fingerprint: await keyFingerprint(admins.alice.publicKey) },
      { handle: 'carol', fingerprint: await keyFingerprint(carol.publicKey) },
    ]);
    expect((await tokenOf(root, 'github')).readable_by).toEqual(['alice', 'bob', 'carol']);
  });
});

