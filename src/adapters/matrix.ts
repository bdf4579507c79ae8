/**
 * Matrix client-server API for token rotation, with plain fetch: password login for a new access token
 * on a NEW device (no device_id: /logout deletes the device of the token it ends, so a new token on the
 * old device would die with the old token), /account/whoami to check it, /logout to end the old one.
 * Messages never hold the password or a token.
 */
import { ExitCode, InfraError } from '../lib/errors.js';

export interface MatrixLogin {
  accessToken: string;
  userId: string;
  deviceId: string;
}

/** What the token services need from a homeserver; tests of services pass a fake with the same shape. */
export interface Matrix {
  loginFlows(): Promise<string[]>;
  /** `user` is a localpart or a full user id (@bot:server). Checks the homeserver offers password login first. */
  passwordLogin(user: string, password: string, deviceName?: string): Promise<MatrixLogin>;
  whoAmI(accessToken: string): Promise<{ userId: string; deviceId?: string }>;
  /** 'already-invalid' when the homeserver no longer knows the token (a resumed rotation may log out twice). */
  logout(accessToken: string): Promise<'logged-out' | 'already-invalid'>;
}

export interface MatrixOptions {
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Aborts every request at once (Ctrl-C during a rotation). */
  signal?: AbortSignal;
}

const API = '/_matrix/client/v3';

export function matrixClient(homeserver: string, options: MatrixOptions = {}): Matrix {
  const base = homeserver.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const doFetch = options.fetch ?? fetch;
  const cancel = options.signal;
  const secrets: string[] = [];
  const scrub = (text: string) => secrets.reduce((t, s) => (s.length >= 4 ? t.split(s).join('[REDACTED]') : t), text);
  const remote = (message: string, hint = 'run the command again later (with --resume if a rotation started)') => new InfraError(ExitCode.remote, scrub(message), { hint });

  async function call(method: 'GET' | 'POST', path: string, doing: string, options: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    let response: Response;
    try {
      response = await doFetch(`${base}${API}${path}`, {
        method,
        headers: { accept: 'application/json', ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: cancel ? AbortSignal.any([AbortSignal.timeout(timeoutMs), cancel]) : AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
    } catch (e) {
      const name = (e as { name?: string }).name;
      if (cancel?.aborted) throw new InfraError(ExitCode.cancelled, `cancelled while ${doing}`);
      if (name === 'TimeoutError' || name === 'AbortError') throw remote(`the Matrix homeserver ${base} did not answer within ${timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`} while ${doing}`);
      const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
      throw remote(`could not reach the Matrix homeserver ${base} while ${doing} (${cause})`, 'check the token\'s homeserver in member.yml and the network, then run again');
    }
    const text = await response.text().catch(() => '');
    let body: Record<string, unknown>;
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('not an object');
    } catch {
      throw remote(`${base} answered ${response.status} with something that is not Matrix JSON while ${doing}: is homeserver the client API URL?`, 'set homeserver to the URL clients use (https://matrix.example, as /.well-known/matrix/client names it)');
    }
    return { status: response.status, body };
  }

  const said = (body: Record<string, unknown>) => {
    const code = typeof body.errcode === 'string' ? body.errcode : '';
    const error = typeof body.error === 'string' ? body.error.split('\n')[0].slice(0, 200) : '';
    return [code, error].filter(Boolean).join(': ');
  };

  function failure(status: number, body: Record<string, unknown>, doing: string): InfraError {
    const why = said(body);
    if (status === 429 || body.errcode === 'M_LIMIT_EXCEEDED') {
      const after = typeof body.retry_after_ms === 'number' ? ` (retry after ${Math.ceil(body.retry_after_ms / 1000)} s)` : '';
      return remote(`the Matrix homeserver ${base} is rate limiting${after} while ${doing}`, 'wait, then run the command again');
    }
    return remote(`the Matrix homeserver ${base} answered ${status}${why ? ` (${why})` : ''} while ${doing}`);
  }

  const client: Matrix = {
    async loginFlows() {
      const { status, body } = await call('GET', '/login', 'asking which logins it offers');
      if (status !== 200 || !Array.isArray(body.flows)) throw failure(status, body, 'asking which logins it offers');
      return body.flows.map((f) => (f && typeof f === 'object' && typeof (f as { type?: unknown }).type === 'string' ? (f as { type: string }).type : '?'));
    },

    async passwordLogin(user, password, deviceName = 'infra token rotation') {
      secrets.push(password);
      const flows = await client.loginFlows();
      if (!flows.includes('m.login.password'))
        throw new InfraError(ExitCode.remote, `the Matrix homeserver ${base} offers no password login (it offers: ${flows.join(', ') || 'nothing'})`, {
          hint: 'rotate this token by hand (log in as the bot another way), or enable password login for the bot on the homeserver',
        });
      const doing = `logging in as ${user}`;
      // No device_id on purpose: a new device, so that logging out the old token cannot end the new one.
      const { status, body } = await call('POST', '/login', doing, {
        body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, initial_device_display_name: deviceName },
      });
      if (status === 403 && (body.errcode === 'M_FORBIDDEN' || body.errcode === undefined))
        throw new InfraError(ExitCode.invalid, `the Matrix homeserver ${base} refused the password for ${user} (${said(body) || '403'})`, { hint: 'give the bot\'s current password (stdin or the prompt) and run again' });
      if (status === 403 && body.errcode === 'M_USER_DEACTIVATED')
        throw new InfraError(ExitCode.invalid, `the Matrix account ${user} is deactivated on ${base}`, { hint: 'reactivate the bot\'s account, or remove this token' });
      if (status !== 200) throw failure(status, body, doing);
      const { access_token: accessToken, user_id: userId, device_id: deviceId } = body;
      if (typeof accessToken !== 'string' || typeof userId !== 'string' || typeof deviceId !== 'string') throw remote(`the Matrix homeserver ${base} answered the login without access_token, user_id and device_id`);
      secrets.push(accessToken);
      return { accessToken, userId, deviceId };
    },

    async whoAmI(accessToken) {
      secrets.push(accessToken);
      const doing = 'checking the access token with /account/whoami';
      const { status, body } = await call('GET', '/account/whoami', doing, { token: accessToken });
      if (status === 401)
        throw remote(`the Matrix homeserver ${base} does not accept the access token (${said(body) || '401'}) while ${doing}`, 'the token was logged out or expired: rotate it with the bot\'s password');
      if (status !== 200 || typeof body.user_id !== 'string') throw failure(status, body, doing);
      return { userId: body.user_id, ...(typeof body.device_id === 'string' ? { deviceId: body.device_id } : {}) };
    },

    async logout(accessToken) {
      secrets.push(accessToken);
      const doing = 'logging out the old access token';
      const { status, body } = await call('POST', '/logout', doing, { token: accessToken, body: {} });
      if (status === 200) return 'logged-out';
      if (status === 401 && body.errcode === 'M_UNKNOWN_TOKEN') return 'already-invalid';
      throw failure(status, body, doing);
    },
  };
  return client;
}
