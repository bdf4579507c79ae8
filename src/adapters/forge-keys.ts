/**
 * Members' SSH authentication keys as GitHub (via @octokit/rest) and GitLab (plain HTTP) publish them.
 * Each call either returns every key or throws an InfraError: nothing partial reaches the caller,
 * so a failure on page 3 never leaves a half-imported member.
 * Keys are returned as the forge sends them; the caller validates them against policy.
 */
import { ExitCode, InfraError } from '../lib/errors.js';
import { GITHUB_LOGIN_RE, GITLAB_USERNAME_RE, type IsoDate } from '../core/types.js';

export interface ForgeKey {
  id: number | string;
  /** `type base64` as the forge returns it (GitLab may append the comment it was uploaded with). */
  key: string;
  title?: string;
  /** `github:<user>/<id>` or `gitlab:<host>/<user>/<id>` */
  source: string;
  /** GitLab only: the key's own expiry date, so the caller can record it as `expires`. */
  expires?: IsoDate;
}

export interface ForgeOptions {
  baseUrl?: string;
  token?: string;
  fetch?: typeof fetch;
  /** Per request; an unreachable or silent server fails after this long. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
const USER_AGENT = 'infra-cli';
// A forge that keeps answering "next page" must not keep us looping: 100 pages of 100 keys is plenty.
const MAX_PAGES = 100;

export { GITHUB_LOGIN_RE, GITLAB_USERNAME_RE };

const FILE_HINT = 'check the username, or pass the key as a file: infra keys add HANDLE FILE';

export async function fetchGithubKeys(user: string, opts: ForgeOptions = {}): Promise<ForgeKey[]> {
  if (!GITHUB_LOGIN_RE.test(user)) {
    throw new InfraError(ExitCode.invalid, `'${printable(user)}' is not a GitHub username (letters, digits and single hyphens, at most 39)`, {
      hint: FILE_HINT,
    });
  }
  const baseUrl = parseBaseUrl(opts.baseUrl ?? process.env.INFRA_GITHUB_API_URL ?? 'https://api.github.com', 'INFRA_GITHUB_API_URL');
  const token = opts.token ?? (process.env.GITHUB_TOKEN || undefined);
  assertTokenTransport(baseUrl, token, 'GITHUB_TOKEN');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { Octokit } = await import('@octokit/rest');
  const octokit = new Octokit({
    baseUrl,
    auth: token,
    userAgent: USER_AGENT,
    // Errors are reported once, as InfraError; octokit's own request log would repeat them on stderr.
    log: { debug: () => {}, info: () => {}, warn: console.warn, error: () => {} },
    request: { fetch: guardedFetch(opts.fetch ?? globalThis.fetch, baseUrl, timeoutMs) },
  });

  let data: unknown[];
  try {
    data = await octokit.paginate(octokit.rest.users.listPublicKeysForUser, { username: user, per_page: 100 });
  } catch (error) {
    throw githubError(error, user, baseUrl, token !== undefined, timeoutMs);
  }
  // GET /users/{user}/keys lists authentication keys only; signing keys live at /users/{user}/ssh_signing_keys.
  return data.map((entry) => {
    const { id, key } = requireKeyShape(entry, 'GitHub', baseUrl);
    return { id, key, source: `github:${user}/${id}` };
  });
}

export async function fetchGitlabKeys(user: string, opts: ForgeOptions = {}): Promise<ForgeKey[]> {
  if (!GITLAB_USERNAME_RE.test(user)) {
    throw new InfraError(ExitCode.invalid, `'${printable(user)}' is not a GitLab username (letters, digits, '_', '-', '.')`, {
      hint: FILE_HINT,
    });
  }
  const baseUrl = parseBaseUrl(opts.baseUrl ?? process.env.INFRA_GITLAB_URL ?? 'https://gitlab.com', '--gitlab-url');
  const token = opts.token ?? (process.env.GITLAB_TOKEN || undefined);
  assertTokenTransport(baseUrl, token, 'GITLAB_TOKEN');
  const host = new URL(baseUrl).host;
  const client = new GitlabClient(baseUrl, token, opts.fetch ?? globalThis.fetch, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);

  const users = await client.getJson(`${baseUrl}/api/v4/users?${new URLSearchParams({ username: user })}`, user);
  // The username filter is case-insensitive on GitLab; pick the exact account, never a neighbour.
  const match = Array.isArray(users.data)
    ? users.data.find((u: unknown) => isRecord(u) && typeof u.username === 'string' && u.username.toLowerCase() === user.toLowerCase())
    : undefined;
  if (!isRecord(match)) {
    throw new InfraError(ExitCode.invalid, `GitLab at ${baseUrl} has no user '${user}'`, { hint: FILE_HINT });
  }
  if (!Number.isSafeInteger(match.id) || (match.id as number) <= 0) {
    throw unexpected('GitLab', baseUrl, 'a user without a numeric id');
  }
  const username = String(match.username);

  const keys: ForgeKey[] = [];
  let url: string | undefined = `${baseUrl}/api/v4/users/${match.id}/keys?per_page=100`;
  for (let page = 0; url !== undefined; page++) {
    if (page >= MAX_PAGES) throw unexpected('GitLab', baseUrl, `more than ${MAX_PAGES} pages of keys`);
    const response = await client.getJson(url, user);
    if (!Array.isArray(response.data)) throw unexpected('GitLab', baseUrl, 'a key list that is not a JSON array');
    for (const entry of response.data) {
      const { id, key } = requireKeyShape(entry, 'GitLab', baseUrl);
      const record = entry as Record<string, unknown>;
      // GitLab 15.7+ marks keys 'auth' | 'signing' | 'auth_and_signing'; older versions omit it (all auth).
      if (record.usage_type === 'signing') continue;
      const forgeKey: ForgeKey = { id, key, source: `gitlab:${host}/${username}/${id}` };
      if (typeof record.title === 'string' && record.title !== '') forgeKey.title = record.title;
      if (typeof record.expires_at === 'string' && /^\d{4}-\d{2}-\d{2}/.test(record.expires_at)) {
        forgeKey.expires = record.expires_at.slice(0, 10);
      }
      keys.push(forgeKey);
    }
    url = client.nextPage(url, response.headers);
  }
  return keys;
}

class GitlabClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string | undefined,
    private readonly fetchImpl: typeof fetch,
    private readonly timeoutMs: number,
  ) {}

  async getJson(url: string, user: string): Promise<{ data: unknown; headers: Headers }> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await this.fetchImpl(url, { headers, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
    } catch (error) {
      throw unreachable('GitLab', this.baseUrl, transportReason(error, this.timeoutMs), error);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw this.httpError(response, user);
    }
    let data: unknown;
    try {
      data = await response.json();
    } catch (error) {
      throw unexpected('GitLab', this.baseUrl, `a body that is not JSON (${transportReason(error, this.timeoutMs)})`);
    }
    return { data, headers: response.headers };
  }

  /** The next page from `x-next-page` (GitLab's own header), else from `Link: <...>; rel="next"` on the same server. */
  nextPage(current: string, headers: Headers): string | undefined {
    const nextPage = headers.get('x-next-page')?.trim();
    if (nextPage) {
      if (!/^\d+$/.test(nextPage)) throw unexpected('GitLab', this.baseUrl, `x-next-page '${printable(nextPage)}'`);
      const url = new URL(current);
      url.searchParams.set('page', nextPage);
      return url.href;
    }
    const link = headers.get('link')?.match(/<([^<>]+)>;\s*rel="next"/)?.[1];
    if (!link) return undefined;
    const url = new URL(link, this.baseUrl);
    // The token goes with every request: only follow links back into the same server's API.
    if (!url.href.startsWith(`${this.baseUrl}/api/v4/`)) {
      throw unexpected('GitLab', this.baseUrl, `a next-page link to another place (${url.origin}${url.pathname})`);
    }
    return url.href;
  }

  private httpError(response: Response, user: string): InfraError {
    const { status } = response;
    if (status === 404) {
      return new InfraError(ExitCode.invalid, `GitLab at ${this.baseUrl} has no user '${user}'`, { hint: FILE_HINT });
    }
    if (status === 429 || (status === 403 && response.headers.get('ratelimit-remaining') === '0')) {
      const resetAt = epochToIso(response.headers.get('ratelimit-reset')) ?? retryAfterToIso(response.headers.get('retry-after'));
      return rateLimited('GitLab', resetAt, 'GITLAB_TOKEN');
    }
    if (status === 401 || status === 403) {
      return new InfraError(ExitCode.remote, `GitLab at ${this.baseUrl} refused the request (HTTP ${status})`, {
        hint: this.token ? 'check that GITLAB_TOKEN is a valid token with read_api or read_user scope' : 'set GITLAB_TOKEN to a token with read_user scope, then retry',
      });
    }
    return unreachable('GitLab', this.baseUrl, `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''}`);
  }
}

/** Adds a timeout to every request and keeps the token on the configured server, whatever a Link header says. */
function guardedFetch(fetchImpl: typeof fetch, baseUrl: string, timeoutMs: number): typeof fetch {
  return (input, init) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    if (!url.href.startsWith(`${baseUrl}/`)) {
      return Promise.reject(new Error(`refusing to follow a link to ${url.origin}${url.pathname}`));
    }
    return fetchImpl(input, { ...init, redirect: 'error', signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });
  };
}

function githubError(error: unknown, user: string, baseUrl: string, hasToken: boolean, timeoutMs: number): InfraError {
  if (error instanceof InfraError) return error;
  const status = (error as { status?: unknown }).status;
  const headers = ((error as { response?: { headers?: Record<string, string | undefined> } }).response?.headers ?? {}) as Record<string, string | undefined>;
  const answered = (error as { response?: unknown }).response !== undefined;
  if (!answered || typeof status !== 'number') {
    return unreachable('GitHub', baseUrl, transportReason((error as { cause?: unknown }).cause ?? error, timeoutMs), error);
  }
  if (status === 404) {
    return new InfraError(ExitCode.invalid, `GitHub has no user '${user}'`, { hint: FILE_HINT });
  }
  // Primary limit: 403/429 with x-ratelimit-remaining 0; secondary limit: retry-after.
  if (status === 429 || (status === 403 && (headers['x-ratelimit-remaining'] === '0' || headers['retry-after'] !== undefined))) {
    const resetAt = epochToIso(headers['x-ratelimit-reset']) ?? retryAfterToIso(headers['retry-after']);
    return rateLimited('GitHub', resetAt, 'GITHUB_TOKEN');
  }
  if (status === 401 || status === 403) {
    return new InfraError(ExitCode.remote, `GitHub refused the request (HTTP ${status}: ${(error as Error).message})`, {
      hint: hasToken ? 'check that GITHUB_TOKEN is a valid, unexpired token' : 'set GITHUB_TOKEN to a token, then retry',
    });
  }
  return unreachable('GitHub', baseUrl, `HTTP ${status}: ${(error as Error).message}`, error);
}

function rateLimited(forge: 'GitHub' | 'GitLab', resetAt: string | undefined, tokenVar: string): InfraError {
  const when = resetAt ? `resets at ${resetAt}` : 'reset time unknown';
  return new InfraError(ExitCode.remote, `${forge} API rate limit reached (${when})`, {
    hint: `set ${tokenVar} to a token, or retry after ${resetAt ?? 'a few minutes'}`,
  });
}

function unreachable(forge: string, baseUrl: string, reason: string, cause?: unknown): InfraError {
  return new InfraError(ExitCode.remote, `cannot reach ${forge} at ${baseUrl}: ${reason}`, {
    hint: `check the network and retry, or pass the key as a file: infra keys add HANDLE FILE`,
    cause,
  });
}

function unexpected(forge: string, baseUrl: string, what: string): InfraError {
  return new InfraError(ExitCode.remote, `${forge} at ${baseUrl} answered with ${what}`, {
    hint: 'pass the key as a file instead: infra keys add HANDLE FILE',
  });
}

function transportReason(error: unknown, timeoutMs?: number): string {
  if (error instanceof Error || (typeof error === 'object' && error !== null)) {
    const e = error as { name?: string; message?: string; code?: string; cause?: unknown };
    if (e.name === 'TimeoutError') return timeoutMs ? `no answer within ${timeoutMs / 1000}s` : 'timed out';
    // fetch wraps the socket error (ECONNREFUSED, ENOTFOUND, ...) as its cause.
    if (e.name === 'TypeError' && e.cause) return transportReason(e.cause, timeoutMs);
    if (typeof e.message === 'string' && e.message) return e.message;
    if (e.code) return e.code;
  }
  return String(error);
}

function requireKeyShape(entry: unknown, forge: string, baseUrl: string): { id: number | string; key: string } {
  if (!isRecord(entry) || (typeof entry.id !== 'number' && typeof entry.id !== 'string') || typeof entry.key !== 'string') {
    throw unexpected(forge, baseUrl, 'a key entry without id and key');
  }
  return { id: entry.id, key: entry.key.trim() };
}

/** A token never travels in clear text: over plain http only to this machine (tests, an SSH tunnel). */
export function assertTokenTransport(baseUrl: string, token: string | undefined, tokenVar: string): void {
  const url = new URL(baseUrl);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (token && url.protocol === 'http:' && !loopback)
    throw new InfraError(ExitCode.invalid, `refusing to send ${tokenVar} over plain http to ${url.host}`, {
      hint: `use an https:// URL, or unset ${tokenVar} for this command`,
    });
}

export function parseBaseUrl(raw: string, setting: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InfraError(ExitCode.invalid, `${setting} '${printable(raw)}' is not a URL`, { hint: `use an http(s) URL, e.g. https://gitlab.com` });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InfraError(ExitCode.invalid, `${setting} '${printable(raw)}' is not an http(s) URL`, { hint: `use an http(s) URL, e.g. https://gitlab.com` });
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new InfraError(ExitCode.invalid, `${setting} '${printable(raw)}' must be a plain base URL`, { hint: `drop the query, fragment and credentials from the URL` });
  }
  return url.href.replace(/\/+$/, '');
}

function epochToIso(value: string | null | undefined): string | undefined {
  if (!value || !/^\d+$/.test(value.trim())) return undefined;
  return new Date(Number(value) * 1000).toISOString();
}

function retryAfterToIso(value: string | null | undefined): string | undefined {
  if (!value || !/^\d+$/.test(value.trim())) return undefined;
  return new Date(Date.now() + Number(value) * 1000).toISOString();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** User input echoed in a message, without control characters that could rewrite the terminal. */
function printable(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}
