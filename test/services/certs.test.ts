/**
 * Shift access through the services, with a fixed clock and real OpenPGP keys: ca init, certs sign (the
 * record, the certificate's fields as infra's own parser reads them back), list, revoke, ca rotate, and every
 * refusal the issue lists: each leaves member.yml byte for byte as it was, and no output carries the CA's
 * private key.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { decryptWithKey } from '../../src/adapters/openpgp-tokens.js';
import { parseOpensshEd25519 } from '../../src/core/openssh-private-key.js';
import { parseAuthorizedKeyLine } from '../../src/core/ssh-key.js';
import { ExitCode, InfraError } from '../../src/lib/errors.js';
import { initCa, rotateCa } from '../../src/services/ca.js';
import { listCertificates, revokeCertificates, signCertificate, type SignInput } from '../../src/services/certs.js';
import { checkRegistry } from '../../src/services/registry.js';
import { testContext } from '../helpers/context.js';
import { makeAdmin, type TestAdmin } from '../helpers/pgp-keys.js';
import { baseConfig, ed25519Line, makeRegistry, memberData, rsaLine } from '../helpers/registry-fixture.js';

let alice: TestAdmin;
let bob: TestAdmin;
let mallory: TestAdmin;
beforeAll(async () => {
  [alice, bob, mallory] = await Promise.all([makeAdmin('alice'), makeAdmin('bob', { passphrase: 'bob-pass' }), makeAdmin('mallory')]);
});

const TODAY = '2026-06-15';

async function registry(extra: { config?: Record<string, unknown>; carol?: Record<string, unknown> } = {}): Promise<string> {
  const root = await makeRegistry({
    config: baseConfig({ admins: ['alice', 'bob'], ...(extra.config ?? {}) }),
    members: {
      alice: memberData('alice', { ssh_keys: [{ name: 'laptop', key: ed25519Line('alice-laptop'), added: '2026-01-01' }] }),
      bob: memberData('bob'),
      carol: memberData('carol', {
        ssh_keys: [
          { name: 'laptop', key: ed25519Line('carol-laptop'), added: '2026-01-01' },
          { name: 'old', key: ed25519Line('carol-old'), added: '2025-01-01', expires: '2026-06-01' },
          { name: 'weak', key: rsaLine(2048), added: '2026-01-01' },
        ],
        ...(extra.carol ?? {}),
      }),
      mallory: memberData('mallory'),
    },
  });
  await fs.writeFile(path.join(root, 'keys/alice/pgp.asc'), alice.publicKey);
  await fs.writeFile(path.join(root, 'keys/bob/pgp.asc'), bob.publicKey);
  await fs.writeFile(path.join(root, 'keys/mallory/pgp.asc'), mallory.publicKey);
  await fs.writeFile(path.join(root, 'alice.sec.asc'), alice.privateKey, { mode: 0o600 });
  await fs.writeFile(path.join(root, 'bob.sec.asc'), bob.privateKey, { mode: 0o600 });
  await fs.writeFile(path.join(root, 'mallory.sec.asc'), mallory.privateKey, { mode: 0o600 });
  return root;
}

const ctxAt = (root: string, over: Parameters<typeof testContext>[0] extends infer O ? Partial<O> : never = {}) => testContext({ root, today: TODAY, env: { INFRA_PGP_PASSPHRASE: 'bob-pass' }, ...over });

async function withCa(extra?: Parameters<typeof registry>[0]): Promise<string> {
  const root = await registry(extra);
  await initCa(ctxAt(root, { seed: 'ca-seed' }));
  return root;
}

const sign = (root: string, input: Partial<SignInput>, ctx = ctxAt(root)) => signCertificate(ctx, { handle: 'carol', key: 'laptop', hours: '8', caKey: 'alice.sec.asc', ...input });

async function refusal(promise: Promise<unknown>): Promise<InfraError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof InfraError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('ca init', () => {
  test('writes the public key and the private key encrypted to every admin; each admin key decrypts it to the same CA', async () => {
    const root = await registry();
    const ctx = ctxAt(root, { seed: 'ca-seed' });
    const result = await initCa(ctx);
    expect(result.written).toEqual(['ca/user_ca.asc', 'ca/user_ca.pub']);
    expect(result.encrypted_to).toEqual(['alice', 'bob']);
    const pub = await fs.readFile(path.join(root, 'ca/user_ca.pub'), 'utf8');
    expect(pub).toBe(`${result.public_key} infra-user-ca\n`);
    expect(parseAuthorizedKeyLine(pub.trim()).fingerprint).toBe(result.fingerprint);
    const asc = await fs.readFile(path.join(root, 'ca/user_ca.asc'), 'utf8');
    expect(asc).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    for (const [admin, pass] of [[alice, undefined], [bob, 'bob-pass']] as const) {
      const ca = parseOpensshEd25519(await decryptWithKey(asc, admin.privateKey, pass));
      expect(`ssh-ed25519 ${ca.publicBlob.toString('base64')}`).toBe(result.public_key);
    }
    expect(ctx.output.stdout + ctx.output.stderr + JSON.stringify(result)).not.toMatch(/PRIVATE KEY|b3BlbnNzaC1rZXktdjE/);
  });

  test('refuses when the registry has a CA, and changes nothing', async () => {
    const root = await withCa();
    const before = await fs.readFile(path.join(root, 'ca/user_ca.asc'), 'utf8');
    const e = await refusal(initCa(ctxAt(root, { seed: 'other' })));
    expect(e.exitCode).toBe(ExitCode.invalid);
    expect(e.message).toMatch(/ca\/user_ca\.pub exists/);
    expect(e.hint).toMatch(/infra ca rotate/);
    expect(await fs.readFile(path.join(root, 'ca/user_ca.asc'), 'utf8')).toBe(before);
  });
});

describe('certs sign', () => {
  test('records the certificate in member.yml and returns it with principal, key id, serial and window', async () => {
    const root = await withCa();
    const memberFile = path.join(root, 'keys/carol/member.yml');
    const before = await fs.readFile(memberFile, 'utf8');
    const ctx = ctxAt(root);
    const r = await sign(root, { reason: 'on-call weekend' }, ctx);
    expect(r).toMatchObject({ serial: 1, member: 'carol', key: 'laptop', key_id: 'carol/laptop#1', principals: ['carol'], signed_by: 'alice', reason: 'on-call weekend' });
    const start = new Date(`${TODAY}T12:00:00`).getTime() / 1000;
    expect(r.valid_after).toBe(new Date(start * 1000).toISOString().replace('.000Z', 'Z'));
    expect(r.valid_before).toBe(new Date((start + 8 * 3600) * 1000).toISOString().replace('.000Z', 'Z'));
    const cert = parseAuthorizedKeyLine(r.certificate);
    expect(cert.type).toBe('ssh-ed25519-cert-v01@openssh.com');
    expect(cert.fingerprint).toBe(parseAuthorizedKeyLine(ed25519Line('carol-laptop')).fingerprint);
    const after = await fs.readFile(memberFile, 'utf8');
    expect(after.startsWith(before.trimEnd())).toBe(true); // an append: every earlier byte kept
    const record = (parse(after) as { certificates: unknown[] }).certificates;
    expect(record).toEqual([
      { serial: 1, key: 'laptop', fingerprint: cert.fingerprint, ca: expect.stringMatching(/^SHA256:/), valid_after: r.valid_after, valid_before: r.valid_before, signed_by: 'alice', reason: 'on-call weekend' },
    ]);
    // serials are registry-wide: the next one, for another member, is 2
    const second = await sign(root, { handle: 'alice', key: undefined, hours: '1', caKey: 'bob.sec.asc' });
    expect([second.serial, second.signed_by, second.key_id]).toEqual([2, 'bob', 'alice/laptop#2']);
    expect(ctx.output.stdout + ctx.output.stderr + JSON.stringify(r)).not.toMatch(/PRIVATE KEY|b3BlbnNzaC1rZXktdjE/);
  });

  test('--from/--until in local time, with Z, and with an offset', async () => {
    const root = await withCa();
    const local = await sign(root, { hours: undefined, from: '2026-06-15T14:00', until: '2026-06-15T20:00' });
    expect(local.valid_after).toBe(new Date(2026, 5, 15, 14, 0, 0).toISOString().replace('.000Z', 'Z'));
    const z = await sign(root, { hours: undefined, from: '2026-06-16T08:00Z', until: '2026-06-16T20:00Z' });
    expect([z.valid_after, z.valid_before]).toEqual(['2026-06-16T08:00:00Z', '2026-06-16T20:00:00Z']);
    const off = await sign(root, { hours: undefined, from: '2026-06-16T08:00+02:00', until: '2026-06-16T10:30:00+02:00' });
    expect([off.valid_after, off.valid_before]).toEqual(['2026-06-16T06:00:00Z', '2026-06-16T08:30:00Z']);
  });

  test('-o writes the certificate with mode 0644; a folder gets KEY-cert.pub', async () => {
    const root = await withCa();
    const r = await sign(root, { out: '.' });
    const file = path.join(root, 'laptop-cert.pub');
    expect(r.file).toBe(file);
    expect(await fs.readFile(file, 'utf8')).toBe(`${r.certificate}\n`);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o644);
  });

  const refusals: Array<[string, Partial<SignInput>, number, RegExp, Parameters<typeof registry>[0]?]> = [
    ['a departed member', {}, ExitCode.invalid, /departed/, { carol: { status: 'departed', departed: '2026-06-01' } }],
    ['a weak key', { key: 'weak' }, ExitCode.invalid, /fails the SSH policy.*below the policy minimum/],
    ['an expired key', { key: 'old' }, ExitCode.invalid, /expired on 2026-06-01/],
    ['a key that is not registered', { key: 'desktop' }, ExitCode.invalid, /no registered key named "desktop"/],
    ['a member with several keys and no --key', { key: undefined }, ExitCode.usage, /has 3 keys: say which one with --key/],
    ['a --ca-key that is not an admin', { caKey: 'mallory.sec.asc' }, ExitCode.invalid, /is not the key of an admin \(tried the keys of alice, bob\)/],
    ['a --ca-key that is a public key', { caKey: 'keys/alice/pgp.asc' }, ExitCode.invalid, /public key; signing needs your private key/],
    ['a window that ends before it starts', { hours: undefined, from: '2026-06-16T10:00', until: '2026-06-16T09:00' }, ExitCode.invalid, /ends before it starts/],
    ['a window wholly in the past', { hours: undefined, from: '2026-06-14T08:00', until: '2026-06-14T12:00' }, ExitCode.invalid, /wholly in the past/],
    ['--hours 0', { hours: '0' }, ExitCode.invalid, /whole number of hours from 1 to 24/],
    ['--hours beyond policy', { hours: '25' }, ExitCode.invalid, /--hours 25 is beyond policy: certificates last at most 24 hours/],
    ['a window beyond policy', { hours: undefined, from: '2026-06-16T08:00', until: '2026-06-17T08:01' }, ExitCode.invalid, /beyond policy/],
    ['--hours not a number', { hours: '8h' }, ExitCode.invalid, /whole number of hours/],
    ['a time that is not ISO 8601', { hours: undefined, from: 'tomorrow', until: '2026-06-16T09:00' }, ExitCode.invalid, /--from "tomorrow" is not a time/],
    ['a day that does not exist', { hours: undefined, from: '2026-02-30T08:00', until: '2026-03-01T09:00' }, ExitCode.invalid, /is not a time/],
    ['--hours with --from', { from: '2026-06-16T08:00', until: '2026-06-16T09:00' }, ExitCode.usage, /two ways to give the window/],
    ['no window', { hours: undefined }, ExitCode.usage, /missing the window/],
    ['no --ca-key', { caKey: undefined }, ExitCode.usage, /missing --ca-key/],
    ['a reason with a newline', { reason: 'a\nb' }, ExitCode.invalid, /--reason must not contain newlines/],
    ['-o into a folder that does not exist', { out: 'nowhere/x-cert.pub' }, ExitCode.invalid, /does not exist/],
  ];
  // a rest parameter: jest passes `done` to a function declaring more parameters than a row has
  test.each(refusals)('refuses %s (nothing recorded)', async (...row) => {
    const [, input, code, message, extra] = row;
    const root = await withCa(extra);
    const memberFile = path.join(root, 'keys/carol/member.yml');
    const before = await fs.readFile(memberFile, 'utf8');
    const ctx = ctxAt(root);
    const e = await refusal(sign(root, input, ctx));
    expect([e.exitCode, e.message]).toEqual([code, expect.stringMatching(message)]);
    expect(e.hint).toBeTruthy();
    expect(await fs.readFile(memberFile, 'utf8')).toBe(before);
    expect(e.message + (e.hint ?? '') + ctx.output.stdout + ctx.output.stderr).not.toMatch(/PRIVATE KEY|b3BlbnNzaC1rZXktdjE/);
  });

  test('a policy that allows longer windows and fewer extensions is followed', async () => {
    const root = await withCa({ config: { policy: { ...(baseConfig().policy as object), certs: { max_hours: 72, extensions: ['permit-pty'] } } } });
    const r = await sign(root, { hours: '48' });
    expect(r.extensions).toEqual(['permit-pty']);
  });

  test('a ca/user_ca.asc that does not match ca/user_ca.pub, or does not decrypt, is refused', async () => {
    const root = await withCa();
    const other = await registry();
    await initCa(ctxAt(other, { seed: 'another-ca' }));
    await fs.copyFile(path.join(other, 'ca/user_ca.asc'), path.join(root, 'ca/user_ca.asc'));
    const memberFile = path.join(root, 'keys/carol/member.yml');
    const before = await fs.readFile(memberFile, 'utf8');
    const e = await refusal(sign(root, {}));
    expect([e.exitCode, e.message]).toEqual([ExitCode.invalid, expect.stringMatching(/ca\/user_ca\.asc does not match ca\/user_ca\.pub/)]);
    await fs.writeFile(path.join(root, 'ca/user_ca.asc'), '-----BEGIN PGP MESSAGE-----\n\nnot really\n-----END PGP MESSAGE-----\n');
    const e2 = await refusal(sign(root, {}));
    expect([e2.exitCode, e2.message]).toEqual([ExitCode.invalid, expect.stringMatching(/damaged and cannot be decrypted/)]);
    expect(await fs.readFile(memberFile, 'utf8')).toBe(before);
  });

  test('without a CA the error names `infra ca init`', async () => {
    const root = await registry();
    const e = await refusal(sign(root, {}));
    expect([e.exitCode, e.hint]).toEqual([ExitCode.invalid, expect.stringMatching(/infra ca init/)]);
  });
});

describe('certs list and revoke', () => {
  test('list shows certificates in force; --all adds expired and revoked; revoke by serial, key and member', async () => {
    const root = await withCa();
    await sign(root, {}); // 1
    await sign(root, { hours: undefined, from: '2026-06-15T10:00', until: '2026-06-15T11:00' }).catch(() => undefined); // wholly past: refused
    await sign(root, { handle: 'alice', key: undefined }); // 2
    await sign(root, { hours: '2' }); // 3
    const ctx = ctxAt(root);
    expect((await listCertificates(ctx, {})).certificates.map((c) => [c.serial, c.status])).toEqual([[1, 'valid'], [2, 'valid'], [3, 'valid']]);
    const r = await revokeCertificates(ctx, { target: '3' });
    expect(r.revoked.map((x) => x.serial)).toEqual([3]);
    expect((await listCertificates(ctx, { handle: 'carol' })).certificates.map((c) => c.serial)).toEqual([1]);
    expect((await listCertificates(ctx, { handle: 'carol', all: true })).certificates.map((c) => [c.serial, c.status, c.revoked])).toEqual([[1, 'valid', undefined], [3, 'revoked', TODAY]]);
    const byKey = await revokeCertificates(ctx, { target: 'carol/laptop' });
    expect([byKey.revoked.map((x) => x.serial), byKey.unchanged.map((x) => [x.serial, x.why])]).toEqual([[1], [[3, 'revoked']]]);
    const byMember = await revokeCertificates(ctx, { target: 'alice' });
    expect(byMember.revoked.map((x) => x.serial)).toEqual([2]);
    // a day later, all expired: list is empty, --all shows them
    const later = ctxAt(root, { today: '2026-06-17' });
    expect((await listCertificates(later, {})).certificates).toEqual([]);
    expect((await listCertificates(later, { all: true })).certificates.map((c) => c.status)).toEqual(['revoked', 'revoked', 'revoked']);
  });

  test.each([['99', /no certificate with serial 99/], ['carol/desktop', /no key named desktop/], ['../x', /not a certificate serial/], ['nobody', /no member "nobody"/]])('revoke %s is refused', async (target, message) => {
    const root = await withCa();
    await sign(root, {});
    const before = await fs.readFile(path.join(root, 'keys/carol/member.yml'), 'utf8');
    const e = await refusal(revokeCertificates(ctxAt(root), { target }));
    expect([e.exitCode, e.message]).toEqual([ExitCode.invalid, expect.stringMatching(message)]);
    expect(await fs.readFile(path.join(root, 'keys/carol/member.yml'), 'utf8')).toBe(before);
  });
});

describe('ca rotate', () => {
  test('keeps the old CA as retired while a certificate it signed is in force, and drops it otherwise', async () => {
    const root = await withCa();
    const oldPub = await fs.readFile(path.join(root, 'ca/user_ca.pub'), 'utf8');
    await sign(root, {});
    const r = await rotateCa(ctxAt(root, { seed: 'rotated' }), { caKey: 'bob.sec.asc' });
    expect(r.checked_old_key).toBe(true);
    expect(r.retired?.file).toMatch(/^ca\/retired-[0-9a-f]{16}\.pub$/);
    expect(await fs.readFile(path.join(root, r.retired!.file!), 'utf8')).toBe(oldPub.replace('infra-user-ca', 'infra-user-ca-retired'));
    expect(await fs.readFile(path.join(root, 'ca/user_ca.pub'), 'utf8')).not.toBe(oldPub);
    // the new CA signs; the record names it
    const next = await sign(root, { hours: '1' });
    expect(next.serial).toBe(2);
    // a rotation after the old certificate expired removes the retired file
    const r2 = await rotateCa(ctxAt(root, { seed: 'again', today: '2026-06-17' }), {});
    expect(r2.retired?.file).toBeUndefined();
    await expect(fs.stat(path.join(root, r.retired!.file!))).rejects.toThrow();
  });

  test('with --ca-key, an old key that does not match its public key stops the rotation', async () => {
    const root = await withCa();
    const other = await registry();
    await initCa(ctxAt(other, { seed: 'another-ca' }));
    await fs.copyFile(path.join(other, 'ca/user_ca.pub'), path.join(root, 'ca/user_ca.pub'));
    const e = await refusal(rotateCa(ctxAt(root, { seed: 'x' }), { caKey: 'alice.sec.asc' }));
    expect(e.message).toMatch(/does not match/);
  });
});

describe('check', () => {
  test('reports hand-edited records: a serial reused across members, a signer who is no person, a CA the registry does not have, a key replaced', async () => {
    const root = await withCa();
    await sign(root, {});
    const record = (parse(await fs.readFile(path.join(root, 'keys/carol/member.yml'), 'utf8')) as { certificates: Array<Record<string, unknown>> }).certificates[0];
    const aliceFile = path.join(root, 'keys/alice/member.yml');
    await fs.appendFile(aliceFile, `certificates:\n  - ${JSON.stringify({ ...record, key: 'laptop', signed_by: 'ghost', ca: `SHA256:${'A'.repeat(43)}` })}\n`);
    const result = await checkRegistry(ctxAt(root));
    const messages = result.problems.map((p) => `${p.file}: ${p.field}: ${p.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^keys\/carol\/member\.yml: certificates\[0\]\.serial: serial 1 is already recorded for alice\/laptop/),
        expect.stringMatching(/certificates\[0\]\.signed_by: ghost is not a person/),
        expect.stringMatching(/certificates\[0\]\.ca: SHA256:A+ is none of the registry's CAs/),
        expect.stringMatching(/certificates\[0\]\.fingerprint: alice\/laptop is not the key this certificate was made for/),
      ]),
    );
    expect(result.ok).toBe(false);
  });

  test('a record with a window that ends before it starts, or a serial twice in one file, does not load', async () => {
    const root = await withCa();
    await sign(root, {});
    const file = path.join(root, 'keys/carol/member.yml');
    const text = await fs.readFile(file, 'utf8');
    const record = (parse(text) as { certificates: Array<Record<string, unknown>> }).certificates[0];
    await fs.writeFile(file, text.replace(/certificates:[\s\S]*$/, `certificates:\n  - ${JSON.stringify({ ...record, valid_before: record.valid_after })}\n  - ${JSON.stringify(record)}\n  - ${JSON.stringify(record)}\n`));
    const result = await checkRegistry(ctxAt(root));
    const messages = result.problems.map((p) => `${p.field}: ${p.message}`);
    expect(messages).toEqual(expect.arrayContaining([expect.stringMatching(/certificates\[0\]\.valid_before: must be after valid_after/), expect.stringMatching(/certificates\[1\]\.serial: serial 1 is already used by certificates\[0\]/)]));
  });
});
