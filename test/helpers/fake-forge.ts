/**
 * A local stand-in for GitHub's and GitLab's public-key endpoints: a real HTTP server on 127.0.0.1,
 * answering the way the real APIs do (pagination headers, 404 bodies), recording every request,
 * and failing on demand (rate limit, 404, 5xx, a dropped connection, a server that never answers).
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeGithubKey {
  id: number;
  key: string;
}

export interface FakeGitlabKey {
  id: number;
  key: string;
  title: string;
  usage_type?: 'auth' | 'signing' | 'auth_and_signing';
  expires_at?: string | null;
}

export interface FakeForgeData {
  github?: Record<string, FakeGithubKey[]>;
  gitlab?: Record<string, FakeGitlabKey[]>;
}

export interface FakeForgeOptions {
  /** GitLab answers with only a `Link` header for pagination (as it does for keyset pagination), no `x-next-page`. */
  gitlabLinkOnly?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
}

export interface Failure {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Close the socket without any answer. */
  destroy?: boolean;
  /** Accept the request and never answer. */
  hang?: boolean;
  /** Let this many requests through normally first. */
  skip?: number;
}

export interface FakeForge {
  url: string;
  requests: RecordedRequest[];
  failNext(failure: Failure): void;
  close(): Promise<void>;
  /** GitLab user ids the server assigned, by username. */
  gitlabUserIds: Record<string, number>;
}

const GITLAB_FIRST_USER_ID = 4001;

export async function startFakeForge(data: FakeForgeData, options: FakeForgeOptions = {}): Promise<FakeForge> {
  const requests: RecordedRequest[] = [];
  const failures: Failure[] = [];
  const gitlabUserIds: Record<string, number> = {};
  Object.keys(data.gitlab ?? {}).forEach((name, index) => {
    gitlabUserIds[name] = GITLAB_FIRST_USER_ID + index;
  });
  let origin = '';

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    requests.push({ method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers });

    const failure = takeFailure(failures);
    if (failure?.destroy) {
      req.socket.destroy();
      return;
    }
    if (failure?.hang) return;
    if (failure) {
      sendJson(res, failure.status ?? 500, failure.body ?? { message: `fake failure ${failure.status ?? 500}` }, failure.headers);
      return;
    }
    if (req.method !== 'GET') {
      sendJson(res, 405, { message: 'Method Not Allowed' });
      return;
    }

    const github = url.pathname.match(/^\/users\/([^/]+)\/keys$/);
    if (github) {
      const keys = data.github?.[decodeURIComponent(github[1])];
      if (!keys) {
        sendJson(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/users/keys#list-public-keys-for-a-user', status: '404' });
        return;
      }
      const { items, page, lastPage, perPage } = paginate(keys, url, 30);
      const link = linkHeader(url, page, lastPage, perPage);
      sendJson(res, 200, items, { 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '59', ...(link ? { link } : {}) });
      return;
    }

    if (url.pathname === '/api/v4/users') {
      const wanted = (url.searchParams.get('username') ?? '').toLowerCase();
      const name = Object.keys(gitlabUserIds).find((n) => n.toLowerCase() === wanted);
      const users = name
        ? [{ id: gitlabUserIds[name], username: name, name: `Name of ${name}`, state: 'active', avatar_url: null, web_url: `${origin}/${name}` }]
        : [];
      sendJson(res, 200, users);
      return;
    }

    const gitlabKeys = url.pathname.match(/^\/api\/v4\/users\/(\d+)\/keys$/);
    if (gitlabKeys) {
      const name = Object.keys(gitlabUserIds).find((n) => gitlabUserIds[n] === Number(gitlabKeys[1]));
      if (name === undefined) {
        sendJson(res, 404, { message: '404 User Not Found' });
        return;
      }
      const all = data.gitlab![name].map((k) => ({ created_at: '2025-01-02T03:04:05.000Z', expires_at: null, usage_type: 'auth_and_signing', ...k }));
      const { items, page, lastPage, perPage } = paginate(all, url, 20);
      const link = linkHeader(url, page, lastPage, perPage);
      const headers: Record<string, string> = link ? { link } : {};
      if (!options.gitlabLinkOnly) {
        Object.assign(headers, {
          'x-page': String(page),
          'x-per-page': String(perPage),
          'x-next-page': page < lastPage ? String(page + 1) : '',
          'x-prev-page': page > 1 ? String(page - 1) : '',
          'x-total': String(all.length),
          'x-total-pages': String(lastPage),
        });
      }
      sendJson(res, 200, items, headers);
      return;
    }

    sendJson(res, 404, { message: 'Not Found' });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: origin,
    requests,
    gitlabUserIds,
    failNext: (failure) => failures.push({ ...failure }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** A port on 127.0.0.1 where nothing listens (bound once, then released). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function takeFailure(failures: Failure[]): Failure | undefined {
  const next = failures[0];
  if (!next) return undefined;
  if (next.skip && next.skip > 0) {
    next.skip--;
    return undefined;
  }
  return failures.shift();
}

function paginate<T>(all: T[], url: URL, defaultPerPage: number) {
  const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? defaultPerPage) || defaultPerPage));
  const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
  const lastPage = Math.max(1, Math.ceil(all.length / perPage));
  return { items: all.slice((page - 1) * perPage, page * perPage), page, lastPage, perPage };
}

/** `Link: <...page=2>; rel="next", <...page=3>; rel="last"`, as both forges send it. */
function linkHeader(url: URL, page: number, lastPage: number, perPage: number): string | undefined {
  const at = (p: number) => {
    const u = new URL(url);
    u.searchParams.set('per_page', String(perPage));
    u.searchParams.set('page', String(p));
    return `<${u.href}>`;
  };
  const parts: string[] = [];
  if (page > 1) parts.push(`${at(page - 1)}; rel="prev"`);
  if (page < lastPage) parts.push(`${at(page + 1)}; rel="next"`, `${at(lastPage)}; rel="last"`);
  if (page > 1) parts.push(`${at(1)}; rel="first"`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
