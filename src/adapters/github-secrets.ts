/**
 * GitHub for token rotation, with the real @octokit/rest (imported lazily): who a token belongs to
 * (and when it expires), and Actions secrets written for a repository, an environment or an
 * organisation, each value sealed with libsodium's sealed box to the public key GitHub hands out.
 *
 * @octokit/rest carries no retry or throttling plugin, so every call is made once: a failure is
 * reported at once (exit 5) and the rotation records what is done, which keeps `--resume` exact.
 * Every message is scrubbed of the tokens involved.
 */
import { ExitCode, InfraError } from '../lib/errors.js';
import { describeConsumer, githubPermissionFor, parseGithubExpiration } from '../core/tokens.js';
import type { IsoDate, TokenConsumer } from '../core/types.js';
import { assertTokenTransport, parseBaseUrl } from './forge-keys.js';

export type GithubConsumer = Extract<TokenConsumer, { github_secret: unknown } | { github_env_secret: unknown } | { github_org_secret: unknown }>;

export interface GithubIdentity {
  login: string;
  /** The UTC day the token expires, from the github-authentication-token-expiration header. */
  expiresAt?: IsoDate;
  /** The header as sent (kept when it could not be read as a date). */
  expirationHeader?: string;
}

/** What the token services need from GitHub; tests of services pass a fake with the same shape. */
export interface GithubSecrets {
  whoAmI(token: string): Promise<GithubIdentity>;
  writeSecret(consumer: GithubConsumer, value: string, authToken: string): Promise<'created' | 'updated'>;
}

export interface GithubSecretsOptions {
  /** API base URL: INFRA_GITHUB_API_URL, or https://api.github.com. */
  baseUrl: string;
  /** Per request; a server that does not answer in time is a remote failure. */
  timeoutMs?: number;
  /** Aborts the request in flight at once (Ctrl-C during a rotation): the error is then `cancelled` (130). */
  signal?: AbortSignal;
}

const init0 = (timeoutMs: number) => AbortSignal.timeout(timeoutMs);
const SILENT = { debug() {}, info() {}, warn() {}, error() {} };

/** Replaces every secret in `text` with [REDACTED]: a server may echo what it was sent. */
export function redact(text: string, secrets: Array<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[REDACTED]');
  return out;
}

interface OctokitError {
  status?: number;
  message?: string;
  name?: string;
  response?: { headers?: Record<string, string | undefined>; data?: unknown };
}


export function githubSecrets(options: GithubSecretsOptions): GithubSecrets {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const host = new URL(baseUrl).host;

  async function client(auth: string) {
    // a token goes only over https (or to this machine): INFRA_GITHUB_API_URL=http://... elsewhere is refused
    assertTokenTransport(parseBaseUrl(baseUrl, 'INFRA_GITHUB_API_URL'), auth, 'the token');
    const { Octokit } = await import('@octokit/rest');
    const stop = [init0(timeoutMs), ...(options.signal ? [options.signal] : [])];
    const timedFetch: typeof fetch = (input, init) => fetch(input, { ...init, signal: AbortSignal.any([...(init?.signal ? [init.signal] : []), ...stop]) });
    return new Octokit({ auth, baseUrl, userAgent: 'infra (co-op token rotation)', log: SILENT, request: { fetch: timedFetch } });
  }

  /** One InfraError (exit 5) per failure, saying what was being done and what to do about it. */
  function remoteError(e: unknown, doing: string, secrets: string[], consumer?: GithubConsumer): InfraError {
    if (options.signal?.aborted) return new InfraError(ExitCode.cancelled, `cancelled while ${doing}`);
    const err = e as OctokitError;
    const status = err.response ? err.status : undefined;
    const said = (() => {
      const data = err.response?.data as { message?: unknown } | undefined;
      return typeof data?.message === 'string' ? `: ${redact(data.message, secrets).split('\n')[0].slice(0, 200)}` : '';
    })();
    const fail = (message: string, hint?: string) => new InfraError(ExitCode.remote, redact(message, secrets), { hint, cause: undefined });
    if (status === undefined) {
      const cause = (err as { cause?: { name?: string } }).cause;
      const timedOut = [err.name, cause?.name].some((n) => n === 'AbortError' || n === 'TimeoutError');
      return fail(
        timedOut ? `GitHub (${host}) did not answer within ${timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`} while ${doing}` : `could not reach GitHub (${host}) while ${doing} (${redact(err.message ?? 'network error', secrets).split('\n')[0]})`,
        'check the network (or INFRA_GITHUB_API_URL), then run the command again',
      );
    }
    if (status === 401) return fail(`GitHub rejected the token (401${said}) while ${doing}`, 'the token is wrong, expired or revoked: make a new one and run the command again');
    if (status === 403 || status === 429) {
      const headers = err.response?.headers ?? {};
      if (headers['x-ratelimit-remaining'] === '0' || status === 429 || /rate limit/i.test(said)) {
        const reset = Number(headers['x-ratelimit-reset']);
        const when = Number.isFinite(reset) && reset > 0 ? ` until ${new Date(reset * 1000).toISOString().slice(11, 16)} UTC` : '';
        return fail(`GitHub's rate limit is reached${when} (while ${doing})`, 'wait, then run the command again (with --resume if a rotation started)');
      }
      const permission = consumer ? githubPermissionFor(consumer) : undefined;
      return fail(
        `the token may not do this (403${said}) while ${doing}`,
        permission
          ? `give the token writing secrets "${permission.fineGrained}" on ${permission.on} (fine-grained token) or the "${permission.classicScope}" scope (classic token), then run again; GITHUB_TOKEN, when set, is the one used to write secrets`
          : 'give the token the permissions it needs, then run again',
      );
    }
    if (status === 404) {
      const what = !consumer
        ? 'the resource'
        : 'github_secret' in consumer
          ? `repository ${consumer.github_secret.repo}`
          : 'github_env_secret' in consumer
            ? `repository ${consumer.github_env_secret.repo} or its environment "${consumer.github_env_secret.environment}"`
            : `organisation ${consumer.github_org_secret.org}`;
      return fail(`GitHub says ${what} does not exist, or the token cannot see it (404) while ${doing}`, 'check the consumer in member.yml (infra tokens list), and that the token has access to it');
    }
    if (status === 422) return fail(`GitHub refused the request (422${said}) while ${doing}`);
    return fail(`GitHub failed (${status}${said}) while ${doing}`, 'GitHub had a problem: run the command again later (with --resume if a rotation started)');
  }

  return {
    async whoAmI(token) {
      const octokit = await client(token);
      let response;
      try {
        response = await octokit.rest.users.getAuthenticated();
      } catch (e) {
        throw remoteError(e, 'checking the token with GET /user', [token]);
      }
      const header = response.headers['github-authentication-token-expiration' as keyof typeof response.headers] as string | undefined;
      const expiresAt = parseGithubExpiration(header);
      return { login: response.data.login, ...(expiresAt ? { expiresAt } : {}), ...(header ? { expirationHeader: String(header) } : {}) };
    },

    async writeSecret(consumer, value, authToken) {
      const octokit = await client(authToken);
      const secrets = [value, authToken];
      const doing = `writing ${describeConsumer(consumer)}`;
      const sodium = (await import('libsodium-wrappers')).default;
      await sodium.ready;
      const seal = (key: string) =>
        sodium.to_base64(sodium.crypto_box_seal(sodium.from_string(value), sodium.from_base64(key, sodium.base64_variants.ORIGINAL)), sodium.base64_variants.ORIGINAL);
      try {
        let status: number;
        if ('github_secret' in consumer) {
          const [owner, repo] = consumer.github_secret.repo.split('/');
          const { data: key } = await octokit.rest.actions.getRepoPublicKey({ owner, repo });
          ({ status } = await octokit.rest.actions.createOrUpdateRepoSecret({ owner, repo, secret_name: consumer.github_secret.name, encrypted_value: seal(key.key), key_id: key.key_id }));
        } else if ('github_env_secret' in consumer) {
          const [owner, repo] = consumer.github_env_secret.repo.split('/');
          const environment_name = consumer.github_env_secret.environment;
          const { data: key } = await octokit.rest.actions.getEnvironmentPublicKey({ owner, repo, environment_name });
          ({ status } = await octokit.rest.actions.createOrUpdateEnvironmentSecret({ owner, repo, environment_name, secret_name: consumer.github_env_secret.name, encrypted_value: seal(key.key), key_id: key.key_id }));
        } else {
          const { org, name } = consumer.github_org_secret;
          const { data: key } = await octokit.rest.actions.getOrgPublicKey({ org });
          // Keep the visibility people chose; a new organisation secret is visible to private repositories only.
          let visibility: 'all' | 'private' | 'selected' = 'private';
          try {
            visibility = (await octokit.rest.actions.getOrgSecret({ org, secret_name: name })).data.visibility;
          } catch (e) {
            if ((e as OctokitError).status !== 404) throw e;
          }
          ({ status } = await octokit.rest.actions.createOrUpdateOrgSecret({ org, secret_name: name, encrypted_value: seal(key.key), key_id: key.key_id, visibility }));
        }
        return status === 201 ? 'created' : 'updated';
      } catch (e) {
        throw remoteError(e, doing, secrets, consumer);
      }
    },
  };
}
