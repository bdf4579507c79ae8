/**
 * A local stand-in for the parts of GitHub's REST API that token rotation uses: a real HTTP server on
 * 127.0.0.1 (port 0). It knows its tokens (login, expiry header, whether they may write secrets),
 * holds an X25519 key pair per repository, environment and organisation (libsodium), OPENS every sealed
 * box it receives and records the plaintext per secret, and fails on demand (a status on the Nth
 * matching call, or a dropped connection).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import sodium from 'libsodium-wrappers';
import { json, readBody, takeFailure } from './http-server.js';

export interface FakeGithubToken {
  login: string;
  /** Sent as github-authentication-token-expiration, e.g. "2027-01-30 12:00:00 UTC". */
  expiration?: string;
  /** false: secret endpoints answer 403 like a token without the Secrets/Environments permission. Default true. */
  canWriteSecrets?: boolean;
}

export interface FakeGithubData {
  tokens: Record<string, FakeGithubToken>;
  /** "owner/name" -> its deployment environments. */
  repos: Record<string, { environments?: string[] }>;
  /** org login -> existing org secrets with their visibility. */
  orgs?: Record<string, { secrets?: Record<string, 'all' | 'private' | 'selected'> }>;
  /** Called as each request arrives, before it is answered (a crash test kills its client here). */
  onRequest?: (request: FakeGithubRequest) => void;
}

export interface FakeFailure {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Close the connection without answering. */
  destroy?: boolean;
  /** Never answer: the request hangs until the client gives up (or the server closes). */
  hang?: boolean;
  /** Which matching call fails, counting from when the failure was added (1 = the next one). */
  nth?: number;
  method?: string;
  path?: RegExp;
}

export interface FakeGithubRequest {
  method: string;
  path: string;
  /** The login the Authorization header belongs to, "(none)" or "(unknown)". */
  as: string;
}

export interface FakeGithub {
  url: string;
  requests: FakeGithubRequest[];
  /** Plaintexts received per secret, oldest first; keys: repo:OWNER/NAME:SECRET, env:OWNER/NAME:ENV:SECRET, org:ORG:SECRET (names upper-cased). */
  received: Map<string, string[]>;
  /** The latest plaintext of a secret. */
  secret(key: string): string | undefined;
  orgVisibility(org: string, name: string): string | undefined;
  fail(failure: FakeFailure): void;
  close(): Promise<void>;
}

interface KeyPair {
  keyId: string;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export async function startFakeGithub(data: FakeGithubData): Promise<FakeGithub> {
  await sodium.ready;
  const requests: FakeGithubRequest[] = [];
  const received = new Map<string, string[]>();
  const keyPairs = new Map<string, KeyPair>();
  const orgSecrets = new Map<string, string>(); // org:NAME -> visibility
  for (const [org, o] of Object.entries(data.orgs ?? {})) for (const [name, v] of Object.entries(o.secrets ?? {})) orgSecrets.set(`${org.toLowerCase()}:${name.toUpperCase()}`, v);
  const failures: Array<FakeFailure & { seen: number }> = [];
  let nextKeyId = 3380204578043523000;

  const keyFor = (scope: string): KeyPair => {
    let pair = keyPairs.get(scope);
    if (!pair) {
      const kp = sodium.crypto_box_keypair();
      pair = { keyId: String(nextKeyId++), publicKey: kp.publicKey, privateKey: kp.privateKey };
      keyPairs.set(scope, pair);
    }
    return pair;
  };
  const repoOf = (owner: string, name: string) => Object.keys(data.repos).find((r) => r.toLowerCase() === `${owner}/${name}`.toLowerCase());

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = decodeURIComponent(url.pathname);
    const method = req.method ?? 'GET';
    const auth = req.headers.authorization ?? '';
    const token = /^(?:token|bearer) (.+)$/i.exec(auth)?.[1];
    const user = token === undefined ? undefined : data.tokens[token];
    requests.push({ method, path, as: token === undefined ? '(none)' : (user?.login ?? '(unknown)') });
    data.onRequest?.(requests[requests.length - 1]);

    const f = takeFailure(failures, method, path);
    if (f) {
      if (f.destroy) return void req.socket.destroy();
      if (f.hang) return;
      return json(res, f.status ?? 500, f.body ?? { message: 'Server Error' }, f.headers);
    }

    if (!user) return json(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
    if (method === 'GET' && path === '/user') {
      return json(res, 200, { login: user.login, id: 4242, type: 'User' }, user.expiration ? { 'github-authentication-token-expiration': user.expiration } : {});
    }
    const forbidden = () => json(res, 403, { message: 'Resource not accessible by personal access token', documentation_url: 'https://docs.github.com/rest/actions/secrets', status: '403' });
    const notFound = () => json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });

    const publicKey = (scope: string) => {
      const pair = keyFor(scope);
      return json(res, 200, { key_id: pair.keyId, key: sodium.to_base64(pair.publicKey, sodium.base64_variants.ORIGINAL) });
    };
    const secretName = (name: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !/^GITHUB_/i.test(name) ? name.toUpperCase() : undefined);

    let m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/secrets\/([^/]+)$/.exec(path);
    if (m) {
      const repo = repoOf(m[1], m[2]);
      if (!repo) return notFound();
      if (user.canWriteSecrets === false) return forbidden();
      if (m[3] === 'public-key' && method === 'GET') return publicKey(`repo:${repo}`);
      const name = secretName(m[3]);
      if (method === 'PUT' && name) return recordSealed(await readBody(req), `repo:${repo}`, `repo:${repo}:${name}`);
      return json(res, 422, { message: 'Invalid request' });
    }
    m = /^\/repos\/([^/]+)\/([^/]+)\/environments\/([^/]+)\/secrets\/([^/]+)$/.exec(path);
    if (m) {
      const repo = repoOf(m[1], m[2]);
      const env = repo ? data.repos[repo].environments?.find((e) => e.toLowerCase() === m![3].toLowerCase()) : undefined;
      if (!repo || !env) return notFound();
      if (user.canWriteSecrets === false) return forbidden();
      if (m[4] === 'public-key' && method === 'GET') return publicKey(`env:${repo}:${env}`);
      const name = secretName(m[4]);
      if (method === 'PUT' && name) return recordSealed(await readBody(req), `env:${repo}:${env}`, `env:${repo}:${env}:${name}`);
      return json(res, 422, { message: 'Invalid request' });
    }
    m = /^\/orgs\/([^/]+)\/actions\/secrets\/([^/]+)$/.exec(path);
    if (m) {
      const org = Object.keys(data.orgs ?? {}).find((o) => o.toLowerCase() === m![1].toLowerCase());
      if (!org) return notFound();
      if (user.canWriteSecrets === false) return forbidden();
      if (m[2] === 'public-key' && method === 'GET') return publicKey(`org:${org}`);
      const name = secretName(m[2]);
      if (!name) return json(res, 422, { message: 'Invalid request' });
      const key = `${org.toLowerCase()}:${name}`;
      if (method === 'GET') {
        const visibility = orgSecrets.get(key);
        return visibility ? json(res, 200, { name, visibility, created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' }) : notFound();
      }
      if (method === 'PUT') {
        const body = await readBody(req);
        const parsed = JSON.parse(body) as { visibility?: string };
        if (!['all', 'private', 'selected'].includes(parsed.visibility ?? '')) return json(res, 422, { message: 'visibility is required' });
        orgSecrets.set(key, parsed.visibility!);
        return recordSealed(body, `org:${org}`, `org:${org}:${name}`);
      }
    }
    return notFound();

    /** Opens the sealed box with the scope's key pair, records the plaintext; 201 when new, 204 when updated. */
    function recordSealed(body: string, scope: string, key: string) {
      const parsed = JSON.parse(body) as { encrypted_value?: string; key_id?: string };
      const pair = keyFor(scope);
      if (parsed.key_id !== pair.keyId) return json(res, 422, { message: `key_id ${parsed.key_id} does not match ${pair.keyId}` });
      let plaintext: string;
      try {
        plaintext = sodium.to_string(sodium.crypto_box_seal_open(sodium.from_base64(parsed.encrypted_value ?? '', sodium.base64_variants.ORIGINAL), pair.publicKey, pair.privateKey));
      } catch {
        return json(res, 422, { message: 'encrypted_value could not be decrypted' });
      }
      const list = received.get(key) ?? [];
      const existed = list.length > 0;
      list.push(plaintext);
      received.set(key, list);
      return json(res, existed ? 204 : 201, existed ? undefined : {});
    }
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    received,
    secret: (key) => received.get(key)?.at(-1),
    orgVisibility: (org, name) => orgSecrets.get(`${org.toLowerCase()}:${name.toUpperCase()}`),
    fail: (failure) => failures.push({ ...failure, seen: 0 }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
