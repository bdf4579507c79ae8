import { generateKeyPairSync } from 'node:crypto';
import { fetchGithubKeys, fetchGitlabKeys } from '../../src/adapters/forge-keys.js';
import { startFakeForge, unusedPort, type FakeForge, type FakeGitlabKey } from '../helpers/fake-forge.js';
import { rejection } from '../helpers/thrown.js';

/** `ssh-ed25519 <base64 of the SSH wire blob>` for a freshly generated key. */
function ed25519PublicKey(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const sshString = (bytes: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), bytes]);
  return `ssh-ed25519 ${Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]).toString('base64')}`;
}


const ENV_VARS = ['GITHUB_TOKEN', 'GITLAB_TOKEN', 'INFRA_GITHUB_API_URL', 'INFRA_GITLAB_URL'] as const;
const savedEnv: Record<string, string | undefined> = {};
beforeEach(() => {
  for (const name of ENV_VARS) {
    savedEnv[name] = process.env[name];
    delete process.env[name];
  }
});
afterEach(() => {
  for (const name of ENV_VARS) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
});

const githubKeys = Array.from({ length: 250 }, (_, i) => ({ id: 900_000 + i * 7, key: ed25519PublicKey() }));
const gitlabUsage = ['auth', 'signing', 'auth_and_signing', undefined] as const;
const gitlabKeys: FakeGitlabKey[] = Array.from({ length: 250 }, (_, i) => ({
  id: 50 + i,
  key: `${ed25519PublicKey()} bob@host${i}`,
  title: `device-${i}`,
  ...(gitlabUsage[i % 4] ? { usage_type: gitlabUsage[i % 4] } : {}),
}));

const HOSTILE_NAMES = ['', '../etc', 'a/b', '..', 'alice\n', 'a b', 'a%2F..', '?x=1', 'a#b'];

let forge: FakeForge;
beforeEach(async () => {
  forge = await startFakeForge({
    github: { 'alice-gh': githubKeys, 'no-keys': [], ['x'.repeat(39)]: [] },
    gitlab: {
      bob: gitlabKeys,
      carol: [
        { id: 7, key: ed25519PublicKey(), title: 'old laptop', usage_type: 'auth', expires_at: '2020-05-06T00:00:00.000Z' },
        { id: 8, key: ed25519PublicKey(), title: 'signer', usage_type: 'signing' },
      ],
    },
  });
});
afterEach(async () => {
  await forge.close();
});

describe('fetchGithubKeys', () => {
  it('follows pagination across 3 pages and returns every key in order with its source', async () => {
    const keys = await fetchGithubKeys('alice-gh', { baseUrl: forge.url });

    expect(keys).toEqual(githubKeys.map((k) => ({ id: k.id, key: k.key, source: `github:alice-gh/${k.id}` })));
    expect(forge.requests.map((r) => [r.method, r.path, r.query.per_page, r.query.page])).toEqual([
      ['GET', '/users/alice-gh/keys', '100', undefined],
      ['GET', '/users/alice-gh/keys', '100', '2'],
      ['GET', '/users/alice-gh/keys', '100', '3'],
    ]);
    for (const request of forge.requests) {
      expect(request.headers['user-agent']).toMatch(/infra-cli/);
      expect(request.headers.authorization).toBeUndefined();
    }
  });

  it('returns an empty list for a user without keys', async () => {
    expect(await fetchGithubKeys('no-keys', { baseUrl: forge.url })).toEqual([]);
  });

  it.each([
    ['an option', { token: 'ghp_option' }, 'ghp_option'],
    ['GITHUB_TOKEN', {}, 'ghp_env'],
  ])('sends the token from %s as Authorization on every page', async (_label, opts, expected) => {
    process.env.GITHUB_TOKEN = 'ghp_env';
    await fetchGithubKeys('alice-gh', { baseUrl: forge.url, ...opts });
    expect(forge.requests).toHaveLength(3);
    for (const request of forge.requests) expect(request.headers.authorization).toBe(`token ${expected}`);
  });

  it('uses INFRA_GITHUB_API_URL when no baseUrl is given', async () => {
    process.env.INFRA_GITHUB_API_URL = `${forge.url}/`;
    expect(await fetchGithubKeys('no-keys')).toEqual([]);
    expect(forge.requests.map((r) => r.path)).toEqual(['/users/no-keys/keys']);
  });

  it('reports an unknown user as exit 3 with a hint to pass a file', async () => {
    const error = await rejection(fetchGithubKeys('nobody', { baseUrl: forge.url }));
    expect(error.exitCode).toBe(3);
    expect(error.message).toBe("GitHub has no user 'nobody'");
    expect(error.hint).toBe('check the username, or pass the key as a file: infra keys add HANDLE FILE');
  });

  it.each([
    ['403 primary limit', { status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1900000000' } }, 0],
    ['429', { status: 429, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1900000123' } }, 0],
    ['403 on page 2', { status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1900000456' } }, 1],
  ])('reports a rate limit (%s) as exit 5 naming the reset time', async (_label, failure, skip) => {
    forge.failNext({ ...failure, skip, body: { message: 'API rate limit exceeded for 127.0.0.1.' } });
    const resetIso = new Date(Number(failure.headers['x-ratelimit-reset']) * 1000).toISOString();

    const error = await rejection(fetchGithubKeys('alice-gh', { baseUrl: forge.url }));

    expect(error.exitCode).toBe(5);
    expect(error.message).toContain(resetIso);
    expect(error.hint).toContain('GITHUB_TOKEN');
    expect(error.hint).toContain(resetIso);
    expect(forge.requests).toHaveLength(skip + 1);
  });

  it('reports a 403 that is not a rate limit as exit 5 without calling it one', async () => {
    forge.failNext({ status: 403, headers: { 'x-ratelimit-remaining': '42' }, body: { message: 'Forbidden' } });
    const error = await rejection(fetchGithubKeys('alice-gh', { baseUrl: forge.url }));
    expect(error.exitCode).toBe(5);
    expect(error.message).not.toMatch(/rate limit/);
    expect(error.hint).toContain('GITHUB_TOKEN');
  });

  it('reports a 5xx as exit 5 and does not retry', async () => {
    forge.failNext({ status: 502, body: { message: 'Bad Gateway' } });
    const error = await rejection(fetchGithubKeys('alice-gh', { baseUrl: forge.url }));
    expect(error.exitCode).toBe(5);
    expect(error.message).toMatch(new RegExp(`^cannot reach GitHub at ${forge.url}: HTTP 502`));
    expect(forge.requests).toHaveLength(1);
  });

  it('reports a dropped connection on a later page as exit 5', async () => {
    forge.failNext({ destroy: true, skip: 2 });
    const error = await rejection(fetchGithubKeys('alice-gh', { baseUrl: forge.url }));
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain(`cannot reach GitHub at ${forge.url}`);
    expect(forge.requests).toHaveLength(3);
  });

  it('reports a port with nothing listening as exit 5', async () => {
    const baseUrl = `http://127.0.0.1:${await unusedPort()}`;
    const error = await rejection(fetchGithubKeys('alice-gh', { baseUrl }));
    expect(error.exitCode).toBe(5);
    expect(error.message).toMatch(new RegExp(`^cannot reach GitHub at ${baseUrl}: .*ECONNREFUSED`));
  });

  it('gives up on a server that never answers after the timeout', async () => {
    forge.failNext({ hang: true });
    const error = await rejection(fetchGithubKeys('alice-gh', { baseUrl: forge.url, timeoutMs: 300 }));
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain('no answer within 0.3s');
  });

  it('does not follow a next-page link to another server (the token would go with it)', async () => {
    const elsewhere = `http://127.0.0.1:${await unusedPort()}/users/alice-gh/keys?page=2`;
    forge.failNext({ status: 200, body: [githubKeys[0]], headers: { link: `<${elsewhere}>; rel="next"` } });
    const error = await rejection(fetchGithubKeys('alice-gh', { baseUrl: forge.url, token: 'ghp_secret' }));
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain('refusing to follow a link');
  });

  it.each([...HOSTILE_NAMES, '-alice', 'alice-', 'a--b', 'a_b', 'x'.repeat(40)])(
    'refuses the user name %j before any request',
    async (name) => {
      const error = await rejection(fetchGithubKeys(name, { baseUrl: forge.url }));
      expect(error.exitCode).toBe(3);
      expect(forge.requests).toHaveLength(0);
    },
  );

  it('accepts a 39-character login', async () => {
    expect(await fetchGithubKeys('x'.repeat(39), { baseUrl: forge.url })).toEqual([]);
    expect(forge.requests).toHaveLength(1);
  });
});

describe('fetchGitlabKeys', () => {
  const authKeysOfBob = gitlabKeys.filter((k) => k.usage_type !== 'signing');

  it.each([
    ['x-next-page headers', false],
    ['Link headers only', true],
  ])('follows pagination (%s), skips signing keys, keeps order and source', async (_label, gitlabLinkOnly) => {
    await forge.close();
    forge = await startFakeForge({ gitlab: { bob: gitlabKeys } }, { gitlabLinkOnly });
    const port = new URL(forge.url).port;

    const keys = await fetchGitlabKeys('bob', { baseUrl: forge.url });

    expect(authKeysOfBob.length).toBeGreaterThan(150);
    expect(keys).toEqual(authKeysOfBob.map((k) => ({ id: k.id, key: k.key, title: k.title, source: `gitlab:127.0.0.1:${port}/bob/${k.id}` })));
    const userId = String(forge.gitlabUserIds.bob);
    expect(forge.requests.map((r) => [r.path, r.query.username ?? r.query.page ?? null, r.query.per_page ?? null])).toEqual([
      ['/api/v4/users', 'bob', null],
      [`/api/v4/users/${userId}/keys`, null, '100'],
      [`/api/v4/users/${userId}/keys`, '2', '100'],
      [`/api/v4/users/${userId}/keys`, '3', '100'],
    ]);
    for (const request of forge.requests) {
      expect(request.headers['user-agent']).toMatch(/infra-cli/);
      expect(request.headers.authorization).toBeUndefined();
    }
  });

  it('keeps expired keys and reports their expiry date; drops signing-only keys', async () => {
    const keys = await fetchGitlabKeys('carol', { baseUrl: forge.url });
    expect(keys.map((k) => [k.id, k.title, k.expires])).toEqual([[7, 'old laptop', '2020-05-06']]);
  });

  it('finds the account case-insensitively and records its canonical username', async () => {
    const keys = await fetchGitlabKeys('Carol', { baseUrl: forge.url });
    expect(keys.map((k) => k.source)).toEqual([`gitlab:${new URL(forge.url).host}/carol/7`]);
  });

  it.each([
    ['an option', { token: 'glpat-option' }, 'glpat-option'],
    ['GITLAB_TOKEN', {}, 'glpat-env'],
  ])('sends the token from %s as Authorization on every request', async (_label, opts, expected) => {
    process.env.GITLAB_TOKEN = 'glpat-env';
    await fetchGitlabKeys('bob', { baseUrl: forge.url, ...opts });
    expect(forge.requests).toHaveLength(4);
    for (const request of forge.requests) expect(request.headers.authorization).toBe(`Bearer ${expected}`);
  });

  it('uses INFRA_GITLAB_URL when no baseUrl is given', async () => {
    process.env.INFRA_GITLAB_URL = forge.url;
    expect(await fetchGitlabKeys('carol')).toHaveLength(1);
  });

  it('reports an unknown user as exit 3 after one lookup', async () => {
    const error = await rejection(fetchGitlabKeys('nobody', { baseUrl: forge.url }));
    expect(error.exitCode).toBe(3);
    expect(error.message).toBe(`GitLab at ${forge.url} has no user 'nobody'`);
    expect(error.hint).toContain('infra keys add HANDLE FILE');
    expect(forge.requests).toHaveLength(1);
  });

  it('reports a 404 from the keys endpoint as exit 3', async () => {
    forge.failNext({ status: 404, skip: 1, body: { message: '404 User Not Found' } });
    const error = await rejection(fetchGitlabKeys('bob', { baseUrl: forge.url }));
    expect(error.exitCode).toBe(3);
  });

  it.each([
    ['429 with RateLimit-Reset', { status: 429, headers: { 'ratelimit-reset': '1900000789', 'retry-after': '60' } }, 0],
    ['429 on page 3', { status: 429, headers: { 'ratelimit-reset': '1900000999' } }, 3],
  ])('reports a rate limit (%s) as exit 5 naming the reset time', async (_label, failure, skip) => {
    forge.failNext({ ...failure, skip, body: { message: 'Retry later' } });
    const resetIso = new Date(Number(failure.headers['ratelimit-reset']) * 1000).toISOString();

    const error = await rejection(fetchGitlabKeys('bob', { baseUrl: forge.url }));

    expect(error.exitCode).toBe(5);
    expect(error.message).toContain(resetIso);
    expect(error.hint).toContain('GITLAB_TOKEN');
    expect(forge.requests).toHaveLength(skip + 1);
  });

  it.each([
    ['a 500', { status: 500 }, /HTTP 500/],
    ['a dropped connection', { destroy: true }, /./],
  ])('reports %s as exit 5', async (_label, failure, reason) => {
    forge.failNext({ ...failure, skip: 1 });
    const error = await rejection(fetchGitlabKeys('bob', { baseUrl: forge.url }));
    expect(error.exitCode).toBe(5);
    expect(error.message).toMatch(new RegExp(`^cannot reach GitLab at ${forge.url}: `));
    expect(error.message).toMatch(reason);
  });

  it('reports a refused request without a token with a hint to set GITLAB_TOKEN', async () => {
    forge.failNext({ status: 403, body: { message: '403 Forbidden' } });
    const error = await rejection(fetchGitlabKeys('bob', { baseUrl: forge.url }));
    expect(error.exitCode).toBe(5);
    expect(error.hint).toContain('GITLAB_TOKEN');
  });

  it('reports a port with nothing listening as exit 5', async () => {
    const baseUrl = `http://127.0.0.1:${await unusedPort()}`;
    const error = await rejection(fetchGitlabKeys('bob', { baseUrl }));
    expect(error.exitCode).toBe(5);
    expect(error.message).toMatch(new RegExp(`^cannot reach GitLab at ${baseUrl}: .*ECONNREFUSED`));
  });

  it('gives up on a server that never answers after the timeout', async () => {
    forge.failNext({ hang: true });
    const error = await rejection(fetchGitlabKeys('bob', { baseUrl: forge.url, timeoutMs: 300 }));
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain('no answer within 0.3s');
  });

  it('does not follow a next-page link to another server', async () => {
    await forge.close();
    forge = await startFakeForge({ gitlab: { bob: gitlabKeys } }, { gitlabLinkOnly: true });
    const elsewhere = `http://127.0.0.1:${await unusedPort()}/api/v4/users/1/keys?page=2`;
    forge.failNext({ status: 200, skip: 1, body: [], headers: { link: `<${elsewhere}>; rel="next"` } });
    const error = await rejection(fetchGitlabKeys('bob', { baseUrl: forge.url, token: 'glpat-secret' }));
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain('a next-page link to another place');
    expect(forge.requests).toHaveLength(2);
  });

  it.each([...HOSTILE_NAMES, '-bob', '.bob', 'bob.'])('refuses the user name %j before any request', async (name) => {
    const error = await rejection(fetchGitlabKeys(name, { baseUrl: forge.url }));
    expect(error.exitCode).toBe(3);
    expect(forge.requests).toHaveLength(0);
  });

  it.each(['ftp://git.coop', 'not a url', 'https://git.coop/?x=1'])('refuses the base URL %j', async (baseUrl) => {
    const error = await rejection(fetchGitlabKeys('bob', { baseUrl }));
    expect(error.exitCode).toBe(3);
  });
});

describe('tokens never travel in clear text', () => {
  it.each([
    ['GitHub', () => fetchGithubKeys('alice', { baseUrl: 'http://api.example.test', token: 'ghp_secret' })],
    ['GitLab', () => fetchGitlabKeys('alice', { baseUrl: 'http://git.example.test', token: 'glpat-secret' })],
  ])('%s: a token with a plain-http URL to another host is refused before any request (exit 3)', async (_forge, call) => {
    const err = await call().catch((e) => e);
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(/refusing to send (GITHUB|GITLAB)_TOKEN over plain http/);
    expect(err.message).not.toContain('secret');
  });
});
