/**
 * A local stand-in for a Matrix homeserver's login endpoints: a real HTTP server on 127.0.0.1 (port 0)
 * with real token semantics. Each access token lives on a device; /logout ends the token's device and
 * every token on it; a login with a known device_id reuses that device (so its tokens die together);
 * a logged-out token is unknown from then on. Fails on demand like the GitHub stand-in.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { json, readBody, takeFailure } from './http-server.js';

export interface FakeMatrixOptions {
  serverName?: string;
  /** user id -> password */
  users: Record<string, string>;
  /** Login flows offered; default password and SSO. */
  flows?: string[];
}

export interface FakeMatrixRequest {
  method: string;
  path: string;
  /** For POST /login: whether the body carried a device_id. */
  sentDeviceId?: boolean;
}

export interface FakeMatrixFailure {
  status?: number;
  body?: unknown;
  destroy?: boolean;
  nth?: number;
  method?: string;
  path?: RegExp;
}

export interface FakeMatrix {
  url: string;
  requests: FakeMatrixRequest[];
  /** Issues a token directly (the "old" token of a test), on a new device or a given one. */
  issueToken(userId: string, deviceId?: string): { accessToken: string; deviceId: string };
  isValid(accessToken: string): boolean;
  devicesOf(userId: string): string[];
  fail(failure: FakeMatrixFailure): void;
  close(): Promise<void>;
}

export async function startFakeMatrix(options: FakeMatrixOptions): Promise<FakeMatrix> {
  const serverName = options.serverName ?? 'matrix.example';
  const flows = options.flows ?? ['m.login.password', 'm.login.sso', 'm.login.token'];
  const requests: FakeMatrixRequest[] = [];
  const failures: Array<FakeMatrixFailure & { seen: number }> = [];
  const tokens = new Map<string, { userId: string; deviceId: string }>();
  const devices = new Map<string, { userId: string }>();

  const issueToken = (userId: string, deviceId?: string) => {
    const device = deviceId ?? `DEV${randomBytes(5).toString('hex').toUpperCase()}`;
    devices.set(device, { userId });
    const accessToken = `syt_${randomBytes(18).toString('base64url')}`;
    tokens.set(accessToken, { userId, deviceId: device });
    return { accessToken, deviceId: device };
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const raw = method === 'POST' ? await readBody(req) : '';
    let body: Record<string, unknown> = {};
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      return json(res, 400, { errcode: 'M_NOT_JSON', error: 'Content not JSON.' });
    }
    requests.push({ method, path, ...(path.endsWith('/login') && method === 'POST' ? { sentDeviceId: 'device_id' in body } : {}) });

    const f = takeFailure(failures, method, path);
    if (f) {
      if (f.destroy) return void req.socket.destroy();
      return json(res, f.status ?? 500, f.body ?? { errcode: 'M_UNKNOWN', error: 'Internal server error' });
    }

    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const session = bearer ? tokens.get(bearer) : undefined;
    const unknownToken = () => json(res, 401, { errcode: bearer ? 'M_UNKNOWN_TOKEN' : 'M_MISSING_TOKEN', error: bearer ? 'Invalid access token passed.' : 'Missing access token.', soft_logout: false });

    if (path === '/_matrix/client/v3/login' && method === 'GET') return json(res, 200, { flows: flows.map((type) => ({ type })) });
    if (path === '/_matrix/client/v3/login' && method === 'POST') {
      if (body.type !== 'm.login.password' || !flows.includes('m.login.password')) return json(res, 400, { errcode: 'M_UNKNOWN', error: 'Unknown login type' });
      const identifier = body.identifier as { type?: string; user?: string } | undefined;
      const given = identifier?.type === 'm.id.user' ? identifier.user : (body.user as string | undefined);
      const userId = given?.startsWith('@') ? given : `@${given}:${serverName}`;
      if (!given || options.users[userId] === undefined || options.users[userId] !== body.password) return json(res, 403, { errcode: 'M_FORBIDDEN', error: 'Invalid username or password' });
      const requested = typeof body.device_id === 'string' ? body.device_id : undefined;
      const issued = issueToken(userId, requested); // a known device_id is reused: its tokens now share one device
      return json(res, 200, { user_id: userId, access_token: issued.accessToken, device_id: issued.deviceId, home_server: serverName });
    }
    if (path === '/_matrix/client/v3/account/whoami' && method === 'GET') {
      if (!session) return unknownToken();
      return json(res, 200, { user_id: session.userId, device_id: session.deviceId, is_guest: false });
    }
    if (path === '/_matrix/client/v3/logout' && method === 'POST') {
      if (!session) return unknownToken();
      // Logging out deletes the device, and with it every token on that device.
      for (const [t, s] of tokens) if (s.deviceId === session.deviceId) tokens.delete(t);
      devices.delete(session.deviceId);
      return json(res, 200, {});
    }
    return json(res, 404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    issueToken,
    isValid: (t) => tokens.has(t),
    devicesOf: (userId) => [...devices].filter(([, d]) => d.userId === userId).map(([id]) => id),
    fail: (failure) => failures.push({ ...failure, seen: 0 }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
