/**
 * Campaign "Secrets", for the VPN: a `vpn join` or `vpn rekey` without --public-key makes the
 * device's private key here. It may appear only in the config delivered — stdout by default, the --out
 * file (0600), the QR code, or the message encrypted to the member — and in --json's `config` field (docs/reference.md:
 * the delivered config). The secrets harness (test/helpers/secrets.ts) checks everything else captured:
 * stderr, every file of the registry, the --json text without `config`, error messages.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { generatePrivateKey } from '../../src/core/wireguard.js';
import { jsonText } from '../../src/lib/style.js';
import { joinVpn, rekeyVpn, type VpnConfigResult } from '../../src/services/vpn.js';
import { seededRandom, testContext } from '../helpers/context.js';
import { tempDir } from '../helpers/example.js';
import { makeAdmin } from '../helpers/pgp-keys.js';
import { baseConfig, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { errorText, expectNoSecret, filesUnder, findSecret } from '../helpers/secrets.js';
import { rejection } from '../helpers/thrown.js';

/** The private key a context with the default seed makes first: derived from the seed, not read from the output. */
const PRIVATE = generatePrivateKey(seededRandom('infra-test'));

const server = Buffer.alloc(32, 9).toString('base64');
const meet = { ipv4: '10.77.0.0/24', endpoint: 'vpn.example.org:51820', server_public_key: server, reserved: ['10.77.0.1'], allowed_ips: ['10.77.0.0/24'], servers: 'vpn' };
const fixture = (files: Record<string, string> = {}) =>
  makeRegistry({
    config: baseConfig({ vpn: { meet } }),
    members: { alice: memberData('alice') },
    files: { 'inventories/production/hosts.yml': 'all:\n  children:\n    vpn:\n      hosts:\n        vpn1:\n', ...files },
  });

/** --json's text without the delivered config: what a script would log. */
const jsonWithoutConfig = (result: VpnConfigResult) => {
  const { config: _config, ...rest } = result as VpnConfigResult & { config?: unknown };
  return jsonText(rest);
};

/** Not in stderr, not in any registry file, not in the result apart from its config. */
function expectOnlyDelivered(root: string, ctx: ReturnType<typeof testContext>, result: VpnConfigResult, extra: Record<string, string> = {}): void {
  expectNoSecret(PRIVATE, { stderr: ctx.output.stderr, json: jsonWithoutConfig(result), ...filesUnder(root), ...extra });
}

describe.each([
  ['vpn join', 'join'],
  ['vpn rekey', 'rekey'],
] as const)('%s without --public-key: the private key made here goes only where it is delivered', (_, which) => {
  /** A registry where alice has the peer already for rekey (joined with another seed, so its key differs). */
  const setUp = async (files: Record<string, string> = {}) => {
    const root = await fixture(files);
    if (which === 'rekey') await joinVpn(testContext({ root, seed: 'first-key', json: true }), { handle: 'alice', device: 'laptop' });
    return root;
  };
  const act = (ctx: ReturnType<typeof testContext>, input: Parameters<typeof joinVpn>[1]) => (which === 'join' ? joinVpn(ctx, input) : rekeyVpn(ctx, input));

  it('default: stdout holds it (the config); stderr, the registry files and the rest of the result do not', async () => {
    const root = await setUp();
    const ctx = testContext({ root });
    const result = await act(ctx, { handle: 'alice', device: 'laptop' });
    expect(findSecret(PRIVATE, { stdout: ctx.output.stdout })).toEqual(['stdout at offset ' + ctx.output.stdout.indexOf(PRIVATE)]);
    expectOnlyDelivered(root, ctx, result);
  });

  it('--json: nothing on stdout or stderr; only the result\'s config field holds it', async () => {
    const root = await setUp();
    const ctx = testContext({ root, json: true });
    const result = await act(ctx, { handle: 'alice', device: 'laptop' });
    expect(ctx.output).toEqual({ stdout: '', stderr: '' });
    expect(result.config).toContain(`PrivateKey = ${PRIVATE}`); // the delivered artifact (docs/reference.md, "infra vpn join")
    expect(findSecret(PRIVATE, { json: jsonText(result) })).toHaveLength(1); // so the check below can fail
    expectOnlyDelivered(root, ctx, result);
  });

  it('--out: only the 0600 file holds it; stdout too is free of it', async () => {
    const root = await setUp();
    const out = path.join(await tempDir(), 'laptop.conf');
    const ctx = testContext({ root });
    const result = await act(ctx, { handle: 'alice', device: 'laptop', out });
    expect((await fs.readFile(out, 'utf8')).includes(`PrivateKey = ${PRIVATE}`)).toBe(true);
    expect((await fs.stat(out)).mode & 0o777).toBe(0o600);
    expectOnlyDelivered(root, ctx, result, { stdout: ctx.output.stdout });
  });

  it('--qr on a terminal: the QR code carries it, never as text', async () => {
    const root = await setUp();
    const ctx = testContext({ root, terminal: true });
    const result = await act(ctx, { handle: 'alice', device: which === 'rekey' ? 'laptop' : 'phone', qr: true });
    expect(result.private_key_included).toBe(true);
    expectOnlyDelivered(root, ctx, result, { stdout: ctx.output.stdout });
  });

  it('--encrypt: stdout holds only the message encrypted to the member, which decrypts to the config with the key', async () => {
    const member = await makeAdmin('alice');
    const root = await setUp({ 'keys/alice/pgp.asc': member.publicKey });
    const ctx = testContext({ root });
    const result = await act(ctx, { handle: 'alice', device: 'laptop', encrypt: true });
    expect(ctx.output.stdout).toContain('-----BEGIN PGP MESSAGE-----');
    expectOnlyDelivered(root, ctx, result, { stdout: ctx.output.stdout, config: result.config ?? '' });
    const message = await openpgp.readMessage({ armoredMessage: ctx.output.stdout });
    const { data } = await openpgp.decrypt({ message, decryptionKeys: await openpgp.readPrivateKey({ armoredKey: member.privateKey }), date: new Date('2026-06-15T12:00:00Z') });
    expect(String(data)).toContain(`PrivateKey = ${PRIVATE}`);
  });

  it('refused (an --out that is a folder): the error and the registry hold no private key', async () => {
    const root = await setUp();
    const ctx = testContext({ root });
    const e = await rejection(act(ctx, { handle: 'alice', device: 'laptop', out: await tempDir() }));
    expect(e).toMatchObject({ exitCode: 3 });
    expectNoSecret(PRIVATE, { stdout: ctx.output.stdout, stderr: ctx.output.stderr, error: errorText(e), ...filesUnder(root) });
  });
});
