/**
 * Matrix rotation steps with plain fetch against a local homeserver stand-in with real token
 * semantics: the new token lives on a new device, so logging the old one out leaves it working;
 * reusing the old device (what infra must not do) would end both.
 */
import { matrixClient } from '../../src/adapters/matrix.js';
import { startFakeMatrix, type FakeMatrix } from '../helpers/fake-matrix.js';
import { errorText, expectNoSecret } from '../helpers/secrets.js';
import { rejection } from '../helpers/thrown.js';

const BOT = '@roobot:matrix.example';
const PASSWORD = 'bot-Pa55-Hq8vL3xZ9mW2';

let hs: FakeMatrix;
beforeEach(async () => {
  hs = await startFakeMatrix({ users: { [BOT]: PASSWORD } });
});
afterEach(() => hs.close());


describe('a matrix rotation, step by step', () => {
  it('logs in on a new device, checks it, and logging out the old token leaves the new one working', async () => {
    const old = hs.issueToken(BOT);
    const matrix = matrixClient(`${hs.url}/`);
    const fresh = await matrix.passwordLogin('roobot', PASSWORD);
    expect(fresh.userId).toBe(BOT);
    expect(fresh.deviceId).not.toBe(old.deviceId);
    expect(hs.requests.find((r) => r.method === 'POST' && r.path.endsWith('/login'))).toEqual({ method: 'POST', path: '/_matrix/client/v3/login', sentDeviceId: false });
    expect(await matrix.whoAmI(fresh.accessToken)).toEqual({ userId: BOT, deviceId: fresh.deviceId });
    expect(await matrix.whoAmI(old.accessToken)).toEqual({ userId: BOT, deviceId: old.deviceId });

    expect(await matrix.logout(old.accessToken)).toBe('logged-out');
    expect(hs.isValid(old.accessToken)).toBe(false);
    expect(hs.devicesOf(BOT)).toEqual([fresh.deviceId]);
    expect(await matrix.whoAmI(fresh.accessToken)).toEqual({ userId: BOT, deviceId: fresh.deviceId });
    // A resumed rotation may log out again: the token is already gone, which is fine.
    expect(await matrix.logout(old.accessToken)).toBe('already-invalid');
  });

  it('the stand-in ends every token of a device: what reusing device_id would do', async () => {
    const old = hs.issueToken(BOT);
    const sameDevice = hs.issueToken(BOT, old.deviceId);
    expect(await matrixClient(hs.url).logout(old.accessToken)).toBe('logged-out');
    expect(hs.isValid(sameDevice.accessToken)).toBe(false);
  });

  it('accepts a full user id', async () => {
    expect((await matrixClient(hs.url).passwordLogin(BOT, PASSWORD)).userId).toBe(BOT);
  });
});

describe('failures', () => {
  it('a homeserver without password login names the flows it offers (exit 5)', async () => {
    await hs.close();
    hs = await startFakeMatrix({ users: { [BOT]: PASSWORD }, flows: ['m.login.sso', 'm.login.token'] });
    const e = await rejection(matrixClient(hs.url).passwordLogin('roobot', PASSWORD));
    expect([e.exitCode, e.message]).toEqual([5, `the Matrix homeserver ${hs.url} offers no password login (it offers: m.login.sso, m.login.token)`]);
    expect(hs.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('a wrong password is exit 3 and never echoed', async () => {
    const wrong = 'Wr0ng-bot-pa55-Zx81';
    const e = await rejection(matrixClient(hs.url).passwordLogin('roobot', wrong));
    expect([e.exitCode, e.message]).toEqual([3, `the Matrix homeserver ${hs.url} refused the password for roobot (M_FORBIDDEN: Invalid username or password)`]);
    expectNoSecret(wrong, [errorText(e)]);
  });

  it('an unknown token at whoami is exit 5', async () => {
    const e = await rejection(matrixClient(hs.url).whoAmI('syt_not_a_real_token_at_all_xyz'));
    expect(e.exitCode).toBe(5);
    expect(e.message).toMatch(/does not accept the access token \(M_UNKNOWN_TOKEN: Invalid access token passed\.\)/);
    expectNoSecret('syt_not_a_real_token_at_all_xyz', [errorText(e)]);
  });

  it.each([
    ['a 500 at login', () => hs.fail({ status: 500, method: 'POST' }), /answered 500 \(M_UNKNOWN: Internal server error\) while logging in as roobot$/],
    ['rate limiting', () => hs.fail({ status: 429, method: 'POST', body: { errcode: 'M_LIMIT_EXCEEDED', error: 'Too many', retry_after_ms: 2500 } }), /is rate limiting \(retry after 3 s\) while logging in/],
    ['a dropped connection', () => hs.fail({ destroy: true }), /^could not reach the Matrix homeserver .* while asking which logins it offers/],
    ['a body that is not a JSON object', () => hs.fail({ status: 200, body: '<html>' as unknown }), /answered 200 with something that is not Matrix JSON while asking which logins it offers/],
    ['an error that echoes the password', () => hs.fail({ status: 500, method: 'POST', body: { errcode: 'M_UNKNOWN', error: `bad ${PASSWORD}` } }), /\(M_UNKNOWN: bad \[REDACTED\]\)/],
  ])('%s is exit 5 without the password', async (_what, arrange, message) => {
    arrange();
    const e = await rejection(matrixClient(hs.url).passwordLogin('roobot', PASSWORD));
    expect(e.exitCode).toBe(5);
    expect(e.message).toMatch(message);
    expectNoSecret(PASSWORD, [errorText(e)]);
  });

  it('a homeserver that never answers fails after the timeout', async () => {
    const { createServer } = await import('node:http');
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
      const e = await rejection(matrixClient(url, { timeoutMs: 200 }).whoAmI('syt_whatever_token_value_123'));
      expect([e.exitCode, e.message]).toEqual([5, `the Matrix homeserver ${url} did not answer within 200 ms while checking the access token with /account/whoami`]);
    } finally {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });
});
