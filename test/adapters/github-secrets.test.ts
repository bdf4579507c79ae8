/**
 * GitHub secrets with the real @octokit/rest against a local stand-in that opens every sealed box:
 * what it recorded must equal the value written. Failures on demand map to exit 5 with messages that
 * say what to do and never hold a token.
 */
import { githubSecrets, type GithubConsumer } from '../../src/adapters/github-secrets.js';
import { parseConsumer } from '../../src/core/tokens.js';
import type { InfraError } from '../../src/lib/errors.js';
import { startFakeGithub, type FakeGithub } from '../helpers/fake-github.js';
import { errorText, expectNoSecret } from '../helpers/secrets.js';
import { rejection } from '../helpers/thrown.js';

const BOT_TOKEN = 'github_pat_11BOTBOTBOT0123456789_abcdefghijklmnopqrstu';
const ADMIN_TOKEN = 'ghp_ADMINadmin0123456789abcdefghijklmnop';
const READONLY_TOKEN = 'ghp_READONLYro0123456789abcdefghijklmnop';
const NEW_VALUE = 'new-secret-Vq7xL2mZ9pK4sW1yB8cJ';

let gh: FakeGithub;
beforeEach(async () => {
  gh = await startFakeGithub({
    tokens: {
      [BOT_TOKEN]: { login: 'example-roobot', expiration: '2027-01-30 12:00:00 UTC' },
      [ADMIN_TOKEN]: { login: 'alice-gh' },
      [READONLY_TOKEN]: { login: 'example-roobot', canWriteSecrets: false },
    },
    repos: { 'example-coop/organizing': {}, 'example-coop/site': { environments: ['production', 'prod deploy'] } },
    orgs: { 'example-coop': { secrets: { SHARED_TOKEN: 'selected' } } },
  });
});
afterEach(() => gh.close());

const consumer = (text: string) => parseConsumer(text) as GithubConsumer;


describe('whoAmI', () => {
  it('returns the login and the expiry day from the header', async () => {
    expect(await githubSecrets({ baseUrl: gh.url }).whoAmI(BOT_TOKEN)).toEqual({ login: 'example-roobot', expiresAt: '2027-01-30', expirationHeader: '2027-01-30 12:00:00 UTC' });
    expect(await githubSecrets({ baseUrl: `${gh.url}/` }).whoAmI(ADMIN_TOKEN)).toEqual({ login: 'alice-gh' });
    expect(gh.requests.map((r) => `${r.method} ${r.path} as ${r.as}`)).toEqual(['GET /user as example-roobot', 'GET /user as alice-gh']);
  });

  it('a token GitHub rejects is exit 5 and the message never holds it', async () => {
    const bad = 'ghp_REJECTEDrejected0123456789abcdefghij';
    const e = await rejection(githubSecrets({ baseUrl: gh.url }).whoAmI(bad));
    expect([e.exitCode, e.message]).toEqual([5, 'GitHub rejected the token (401: Bad credentials) while checking the token with GET /user']);
    expectNoSecret(bad, [errorText(e)]);
  });
});

describe('writeSecret', () => {
  it.each([
    ['github_secret:example-coop/organizing:API_TOKEN_BOT', 'repo:example-coop/organizing:API_TOKEN_BOT'],
    ['github_secret:Example-Coop/Organizing:api_token_bot', 'repo:example-coop/organizing:API_TOKEN_BOT'],
    ['github_env_secret:example-coop/site:production:DEPLOY_TOKEN', 'env:example-coop/site:production:DEPLOY_TOKEN'],
    ['github_env_secret:example-coop/site:prod deploy:DEPLOY_TOKEN', 'env:example-coop/site:prod deploy:DEPLOY_TOKEN'],
    ['github_org_secret:example-coop:BOT_TOKEN', 'org:example-coop:BOT_TOKEN'],
  ])('%s: the server opens the sealed box and finds the value', async (text, key) => {
    const client = githubSecrets({ baseUrl: gh.url });
    expect(await client.writeSecret(consumer(text), NEW_VALUE, ADMIN_TOKEN)).toBe('created');
    expect(gh.secret(key)).toBe(NEW_VALUE);
    expect(await client.writeSecret(consumer(text), `${NEW_VALUE}-2`, BOT_TOKEN)).toBe('updated');
    expect(gh.received.get(key)).toEqual([NEW_VALUE, `${NEW_VALUE}-2`]);
    expect(new Set(gh.requests.map((r) => r.as))).toEqual(new Set(['alice-gh', 'example-roobot']));
  });

  it('the stand-in refuses a box sealed for another repository (it really opens them)', async () => {
    const { Octokit } = await import('@octokit/rest');
    const sodium = (await import('libsodium-wrappers')).default;
    await sodium.ready;
    const octokit = new Octokit({ auth: ADMIN_TOKEN, baseUrl: gh.url });
    const { data: siteKey } = await octokit.rest.actions.getRepoPublicKey({ owner: 'example-coop', repo: 'site' });
    const { data: orgKey } = await octokit.rest.actions.getRepoPublicKey({ owner: 'example-coop', repo: 'organizing' });
    const sealed = sodium.to_base64(sodium.crypto_box_seal(sodium.from_string(NEW_VALUE), sodium.from_base64(siteKey.key, sodium.base64_variants.ORIGINAL)), sodium.base64_variants.ORIGINAL);
    await expect(octokit.rest.actions.createOrUpdateRepoSecret({ owner: 'example-coop', repo: 'organizing', secret_name: 'A', encrypted_value: sealed, key_id: orgKey.key_id })).rejects.toMatchObject({ status: 422 });
    expect(gh.received.size).toBe(0);
  });

  it('keeps an organisation secret’s visibility; a new one is private', async () => {
    const client = githubSecrets({ baseUrl: gh.url });
    await client.writeSecret(consumer('github_org_secret:example-coop:SHARED_TOKEN'), NEW_VALUE, ADMIN_TOKEN);
    await client.writeSecret(consumer('github_org_secret:example-coop:NEW_TOKEN'), NEW_VALUE, ADMIN_TOKEN);
    expect([gh.orgVisibility('example-coop', 'SHARED_TOKEN'), gh.orgVisibility('example-coop', 'NEW_TOKEN')]).toEqual(['selected', 'private']);
  });

  type Case = [string, string, string, (gh: FakeGithub) => void, RegExp, RegExp | undefined];
  const cases: Case[] = [
    ['401', 'github_secret:example-coop/organizing:A', ADMIN_TOKEN, (g) => g.fail({ status: 401, body: { message: 'Bad credentials' } }), /^GitHub rejected the token \(401: Bad credentials\) while writing GitHub Actions secret A of example-coop\/organizing$/, /make a new one/],
    ['403 without the Secrets permission', 'github_secret:example-coop/organizing:A', READONLY_TOKEN, () => {}, /^the token may not do this \(403: Resource not accessible by personal access token\)/, /"Secrets: Read and write \(repository\)" on example-coop\/organizing .*"repo" scope/],
    ['403 for an environment', 'github_env_secret:example-coop/site:production:A', READONLY_TOKEN, () => {}, /403/, /"Environments: Read and write \(repository\)" on example-coop\/site/],
    ['403 for an organisation', 'github_org_secret:example-coop:A', READONLY_TOKEN, () => {}, /403/, /"Secrets: Read and write \(organization\)" on example-coop .*"admin:org" scope/],
    ['403 rate limit', 'github_secret:example-coop/organizing:A', ADMIN_TOKEN, (g) => g.fail({ status: 403, body: { message: 'API rate limit exceeded' }, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1795000000' } }), /^GitHub's rate limit is reached until \d\d:\d\d UTC/, /wait/],
    ['404 repository', 'github_secret:example-coop/nope:A', ADMIN_TOKEN, () => {}, /^GitHub says repository example-coop\/nope does not exist, or the token cannot see it \(404\)/, /member\.yml/],
    ['404 environment', 'github_env_secret:example-coop/site:staging:A', ADMIN_TOKEN, () => {}, /repository example-coop\/site or its environment "staging" does not exist/, undefined],
    ['404 organisation', 'github_org_secret:other-org:A', ADMIN_TOKEN, () => {}, /organisation other-org does not exist/, undefined],
    ['500 on the PUT', 'github_secret:example-coop/organizing:A', ADMIN_TOKEN, (g) => g.fail({ status: 500, method: 'PUT' }), /^GitHub failed \(500: Server Error\) while writing/, /--resume/],
    ['502 on the public key', 'github_secret:example-coop/organizing:A', ADMIN_TOKEN, (g) => g.fail({ status: 502, path: /public-key$/ }), /^GitHub failed \(502/, undefined],
    ['a dropped connection', 'github_secret:example-coop/organizing:A', ADMIN_TOKEN, (g) => g.fail({ destroy: true }), /^could not reach GitHub \(127\.0\.0\.1:\d+\) while writing/, /network/],
    ['an echo of the token in the error body', 'github_secret:example-coop/organizing:A', ADMIN_TOKEN, (g) => g.fail({ status: 500, body: { message: `boom ${ADMIN_TOKEN} ${NEW_VALUE}` } }), /\(500: boom \[REDACTED\] \[REDACTED\]\)/, undefined],
  ];
  it.each(cases)('%s is exit 5 with a clear message and no secret', async (_what, text, auth, arrange, message, hint) => {
    arrange(gh);
    const e = await rejection(githubSecrets({ baseUrl: gh.url }).writeSecret(consumer(text), NEW_VALUE, auth));
    expect(e.exitCode).toBe(5);
    expect(e.message).toMatch(message);
    if (hint) expect(e.hint).toMatch(hint);
    for (const secret of [NEW_VALUE, ADMIN_TOKEN, READONLY_TOKEN]) expectNoSecret(secret, [errorText(e)]);
    expect([...gh.received.values()].flat()).toEqual([]);
  });

  it('fails on the Nth call only: one attempt per call, no hidden retries', async () => {
    const client = githubSecrets({ baseUrl: gh.url });
    gh.fail({ status: 500, method: 'PUT', nth: 3 });
    const names = ['A', 'B', 'C', 'D'];
    const outcomes: string[] = [];
    for (const n of names) {
      try {
        outcomes.push(await client.writeSecret(consumer(`github_secret:example-coop/organizing:${n}`), NEW_VALUE, ADMIN_TOKEN));
      } catch (e) {
        outcomes.push(`exit ${(e as InfraError).exitCode}`);
      }
    }
    expect(outcomes).toEqual(['created', 'created', 'exit 5', 'created']);
    expect(gh.requests.filter((r) => r.method === 'PUT')).toHaveLength(4);
    expect([...gh.received.keys()]).toEqual(['repo:example-coop/organizing:A', 'repo:example-coop/organizing:B', 'repo:example-coop/organizing:D']);
  });

  it('a server that never answers is a remote failure after the timeout', async () => {
    const { createServer } = await import('node:http');
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as { port: number }).port;
      const e = await rejection(githubSecrets({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 200 }).whoAmI(BOT_TOKEN));
      expect([e.exitCode, e.message]).toEqual([5, `GitHub (127.0.0.1:${port}) did not answer within 200 ms while checking the token with GET /user`]);
    } finally {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });
});

describe('transport', () => {
  it('refuses to send a token over plain http to another machine', async () => {
    const e = await rejection(githubSecrets({ baseUrl: 'http://github.example.org/api/v3' }).whoAmI('ghp_notsentanywhere'));
    expect(e.message).toContain('plain http');
    expect(e.message).not.toContain('ghp_notsentanywhere');
  });
});
