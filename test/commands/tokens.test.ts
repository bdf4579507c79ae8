/**
 * `infra tokens` as a process over a copy of the example registry, whose token values decrypt with the
 * test admin keys under test/fixtures/admin-keys (the example itself holds public keys only).
 */
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnCli } from '../helpers/cli.js';
import { copyExample, REPO_ROOT, treeDigest } from '../helpers/example.js';
import { startFakeGithub } from '../helpers/fake-github.js';
import { errorText, expectNoSecret, filesUnder } from '../helpers/secrets.js';

const KEYS = path.join(REPO_ROOT, 'test/fixtures/admin-keys');
const VALUES = JSON.parse(readFileSync(path.join(KEYS, 'example-values.json'), 'utf8')) as Record<string, string>;
const NEW_TOKEN = 'github_pat_11NEWexampleTOKENforCOMMANDtests0123456789abcdefAB';

const noValueIn = (...texts: string[]) => {
  for (const v of Object.values(VALUES)) expectNoSecret(v, texts);
};

it('list (table and --json) shows every token of the example without a secret', async () => {
  const dir = await copyExample();
  const table = await spawnCli(['tokens', 'list', '--dir', dir]);
  const json = await spawnCli(['tokens', 'list', '--dir', dir, '--json']);
  expect([table.code, json.code]).toEqual([0, 0]);
  const { tokens } = JSON.parse(json.stdout);
  expect(tokens.map((t: { token: string; kind: string }) => `${t.token}:${t.kind}`)).toEqual(['roobot/github:github', 'roobot/matrix:matrix', 'roobot/webhook-secret:generic']);
  expect(tokens[0]).toMatchObject({ next_due: '2026-09-29', stored: true, consumers: ['github_secret:example-coop/organizing:API_TOKEN_BOT', 'ansible_vault_var:production:bots:roobot_github_token'] });
  noValueIn(table.stdout, table.stderr, json.stdout, json.stderr);
});

it.each(['alice', 'bob'])('show --reveal with %s\'s test key prints the value alone; without --reveal nothing secret', async (admin) => {
  const dir = await copyExample();
  for (const name of ['github', 'matrix', 'webhook-secret']) {
    const r = await spawnCli(['tokens', 'show', `roobot/${name}`, '--dir', dir, '--reveal', '--key', path.join(KEYS, `${admin}.sec.asc`)]);
    expect([r.code, r.stdout]).toEqual([0, `${VALUES[name]}\n`]);
  }
  const meta = await spawnCli(['tokens', 'show', 'roobot/github', '--dir', dir, '--json']);
  expect(meta.code).toBe(0);
  expect(JSON.parse(meta.stdout).value).toBeUndefined();
  noValueIn(meta.stdout, meta.stderr);
});

describe('a token value on the command line is refused, never echoed, and nothing changes', () => {
  it.each([
    ['after --', ['tokens', 'rotate', 'roobot/github', '--', NEW_TOKEN]],
    ['as an extra argument', ['tokens', 'rotate', 'roobot/github', NEW_TOKEN]],
    ['in place of HANDLE/NAME', ['tokens', 'rotate', NEW_TOKEN]],
  ])('%s', async (_where, args) => {
    const dir = await copyExample();
    const before = await treeDigest(dir);
    const r = await spawnCli([...args, '--dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/stdin/);
    expectNoSecret(NEW_TOKEN, [r.stdout, r.stderr]);
    expect(await treeDigest(dir)).toBe(before);
  });
});

it('rotate roobot/github from stdin against the local GitHub: exit 0, ends with the revoke page; --json error on a 500 exits 5', async () => {
  const github = await startFakeGithub({ tokens: { [NEW_TOKEN]: { login: 'example-roobot', expiration: '2027-03-01 00:00:00 UTC' } }, repos: { 'example-coop/organizing': {} } });
  try {
    const dir = await copyExample();
    await fs.writeFile(path.join(dir, 'vault-pass'), 'vault password of the example\n', { mode: 0o600 });
    const env = { INFRA_GITHUB_API_URL: github.url, ANSIBLE_VAULT_PASSWORD_FILE: path.join(dir, 'vault-pass'), INFRA_ADMIN: 'alice', GITHUB_TOKEN: '' };
    const r = await spawnCli(['tokens', 'rotate', 'roobot/github', '--dir', dir], { input: `${NEW_TOKEN}\n`, env });
    expect([r.code, r.stderr]).toEqual([0, expect.stringContaining('[2/2] wrote')]);
    expect(r.stdout.trim().split('\n').at(-1)).toBe(`Now revoke the old token, signed in as the bot: ${github.url}/settings/personal-access-tokens`);
    expect(github.secret('repo:example-coop/organizing:API_TOKEN_BOT')).toBe(NEW_TOKEN);
    const shown = await spawnCli(['tokens', 'show', 'roobot/github', '--dir', dir, '--reveal', '--key', path.join(KEYS, 'bob.sec.asc')]);
    expect(shown.stdout).toBe(`${NEW_TOKEN}\n`);
    expectNoSecret(NEW_TOKEN, { stdout: r.stdout, stderr: r.stderr, ...filesUnder(dir, (rel) => rel.endsWith('.asc')) });

    github.fail({ status: 500, method: 'PUT' });
    const other = 'github_pat_11SECONDexampleTOKENforCOMMANDtests0123456789abcdef';
    const json = await spawnCli(['tokens', 'rotate', 'roobot/webhook-secret', '--dir', dir, '--json'], { env: { ...env, GITHUB_TOKEN: NEW_TOKEN, INFRA_ADMIN: 'bob' }, input: other });
    expect(json.code).toBe(5);
    const error = JSON.parse(json.stdout).error;
    expect(error).toMatchObject({ code: 5, message: expect.stringContaining('not done: github_secret:example-coop/organizing:WEBHOOK_SECRET') });
    expect(json.stderr).toBe('');
    expectNoSecret(NEW_TOKEN, [json.stdout, errorText(error.message)]);
  } finally {
    await github.close();
  }
});

it('reencrypt --key with a test admin key re-encrypts every stored secret, the vault password too; they still decrypt with either admin key', async () => {
  const dir = await copyExample();
  const r = await spawnCli(['tokens', 'reencrypt', '--dir', dir, '--key', path.join(KEYS, 'alice.sec.asc'), '--json']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).reencrypted).toEqual(['keys/roobot/tokens/github.asc', 'keys/roobot/tokens/matrix.asc', 'keys/roobot/tokens/webhook-secret.asc', 'vault/password.asc']);
  const shown = await spawnCli(['tokens', 'show', 'roobot/matrix', '--dir', dir, '--reveal', '--key', path.join(KEYS, 'bob.sec.asc')]);
  expect(shown.stdout).toBe(`${VALUES.matrix}\n`);
  noValueIn(r.stdout, r.stderr);
});

it.each([
  [['roobot', 'github'], 'infra tokens rotate roobot/github'],
  [['webhook-secret', 'roobot', '--dry-run'], 'infra tokens rotate roobot/webhook-secret --dry-run'],
])('rotate %j (BOT NAME, either order) is said back as BOT/NAME, exit 2, nothing written', async (words, hint) => {
  const dir = await copyExample();
  const before = await treeDigest(dir);
  const r = await spawnCli(['tokens', 'rotate', ...words, '--dir', dir]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(hint);
  expect(await treeDigest(dir)).toBe(before);
});

it('rotate BOT WORD where WORD is no token name keeps the word out of the output (it may be a value)', async () => {
  const dir = await copyExample();
  const r = await spawnCli(['tokens', 'rotate', 'roobot', 'ghp_notANameButAValue123', '--dir', dir]);
  expect(r.code).toBe(2);
  expect(r.stdout + r.stderr).not.toContain('ghp_notANameButAValue123');
});

it('show BOT NAME is said back as BOT/NAME (exit 2); an extra word that is no token name is not echoed', async () => {
  const dir = await copyExample();
  const split = await spawnCli(['tokens', 'show', 'roobot', 'matrix', '--dir', dir]);
  expect([split.code, split.stdout]).toEqual([2, '']);
  expect(split.stderr).toContain('hint: infra tokens show roobot/matrix');
  const extra = await spawnCli(['tokens', 'show', 'roobot/github', 'ghp_notANameButAValue123', '--dir', dir]);
  expect(extra.code).toBe(2);
  expect(extra.stdout + extra.stderr).not.toContain('ghp_notANameButAValue123');
});
