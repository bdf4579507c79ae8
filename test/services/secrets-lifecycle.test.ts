/**
 * Admin-held secrets through an admin's departure, called as services with the local GitHub stand-in:
 * readable_by is read from the ciphertext; a resume after an admin left refuses and points at --abort;
 * --abort destroys the pending value and lists the consumers already updated; a fresh rotation then
 * starts clean; --dry-run names what a real run would miss; offboarding lists every secret by kind with
 * its command; reencrypt covers the vault password and the CA key and the audit keeps reporting who could
 * read them until they are rotated.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decryptWithKey, encryptToAdmins, keyFingerprint, messageRecipients } from '../../src/adapters/openpgp-tokens.js';
import { offboardMember } from '../../src/services/members.js';
import { runAudit } from '../../src/services/audit.js';
import { abortRotation } from '../../src/services/token-rotation.js';
import { reencryptTokens, rotateDue, rotateToken } from '../../src/services/tokens.js';
import { testContext } from '../helpers/context.js';
import { startFakeGithub, type FakeGithub } from '../helpers/fake-github.js';
import { makeAdmin, type TestAdmin } from '../helpers/pgp-keys.js';
import { expectNoSecret } from '../helpers/secrets.js';
import { rejection } from '../helpers/thrown.js';
import { fakeGithubData, makeAdmins, OLD_GITHUB_TOKEN, plainFiles, storedValue, tokenOf, tokenRegistry, writeKey, type Admins } from '../helpers/tokens-fixture.js';

const TODAY = '2026-06-15';
let admins: Admins;
let carol: TestAdmin;
let github: FakeGithub;

beforeAll(async () => {
  admins = await makeAdmins();
  carol = await makeAdmin('carol');
});
beforeEach(async () => {
  github = await startFakeGithub(fakeGithubData());
});
afterEach(async () => {
  await github.close();
});

const env = (root: string, extra: Record<string, string> = {}) => ({
  INFRA_GITHUB_API_URL: github.url,
  ANSIBLE_VAULT_PASSWORD_FILE: path.join(root, 'vault-pass'),
  INFRA_ADMIN: 'alice',
  GITHUB_TOKEN: OLD_GITHUB_TOKEN,
  ...extra,
});
const ctxFor = (root: string, extra: Record<string, string> = {}) => testContext({ root, today: TODAY, env: env(root, extra) });

async function setAdmins(root: string, handles: string[]): Promise<void> {
  const file = path.join(root, 'infra.yml');
  await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace(/admins:\n(?:\s+- \w+\n)+/, `admins:\n${handles.map((h) => `  - ${h}\n`).join('')}`));
}

const keysOf = async (armoredPublic: string) => {
  const openpgp = await import('openpgp');
  return (await openpgp.readKey({ armoredKey: armoredPublic })).getKeys().map((k) => k.getKeyID().toHex().toUpperCase());
};

/** A rotation of roobot/hook stopped by Ctrl+C after its first consumer (the GitHub secret) was written. */
async function stoppedRotation(root: string): Promise<void> {
  let asked = 0;
  const e = await rejection(rotateToken(ctxFor(root), { ref: 'roobot/hook', cancelled: () => ++asked > 1 }));
  expect(e.exitCode).toBe(130);
  expect((await tokenOf(root, 'hook')).pending.left).toEqual(['ansible_vault_var:production:bots:roobot_webhook_secret']);
}

describe('readable_by is who the ciphertext is encrypted to', () => {
  it('a rotation records the handles of the message recipients, and names each by fingerprint', async () => {
    const root = await tokenRegistry(admins);
    const r = await rotateToken(ctxFor(root), { ref: 'roobot/hook' });
    const recipients = await messageRecipients(await fs.readFile(path.join(root, 'keys/roobot/tokens/hook.asc'), 'utf8'));
    const aliceIds = await keysOf(admins.alice.publicKey);
    const bobIds = await keysOf(admins.bob.publicKey);
    expect(recipients.every((id) => aliceIds.includes(id) || bobIds.includes(id))).toBe(true);
    expect((await tokenOf(root, 'hook')).readable_by).toEqual(['alice', 'bob']);
    expect(r.encrypted_to).toEqual([
      { handle: 'alice', fingerprint: await keyFingerprint(admins.alice.publicKey) },
      { handle: 'bob', fingerprint: await keyFingerprint(admins.bob.publicKey) },
    ]);
  });

  it('a resume after an admin was added encrypts the finished value to them too', async () => {
    const root = await tokenRegistry(admins);
    await stoppedRotation(root);
    await fs.writeFile(path.join(root, 'keys/carol/pgp.asc'), carol.publicKey);
    await setAdmins(root, ['alice', 'bob', 'carol']);
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    await rotateToken(ctxFor(root), { ref: 'roobot/hook', resume: true, key });
    const value = await storedValue(root, admins, 'keys/roobot/tokens/hook.asc');
    expect(await decryptWithKey(await fs.readFile(path.join(root, 'keys/roobot/tokens/hook.asc'), 'utf8'), carol.privateKey)).toBe(value);
    expect((await tokenOf(root, 'hook')).readable_by).toEqual(['alice', 'bob', 'carol']);
  });
});

describe('a rotation an admin could read, resumed after they left', () => {
  it('--resume refuses and points at --abort; --abort lists the consumers already updated; a fresh rotation starts clean', async () => {
    const root = await tokenRegistry(admins);
    await stoppedRotation(root);
    const pendingValue = await storedValue(root, admins, 'keys/roobot/tokens/hook.pending.asc');
    await setAdmins(root, ['alice']); // bob, who could read the pending value, is no longer an admin
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);

    // the audit says so, with the command that ends it
    const audit = await runAudit(ctxFor(root), { format: 'json' });
    expect(audit.findings).toContainEqual(expect.objectContaining({ code: 'secret-exposed', subject: 'roobot/hook (pending)', fix: 'infra tokens rotate roobot/hook --abort' }));

    const refused = await rejection(rotateToken(ctxFor(root), { ref: 'roobot/hook', resume: true, key }));
    expect(refused.exitCode).toBe(3);
    expect(refused.message).toContain('could be read by bob');
    expect(refused.hint).toBe('give it up and start afresh: infra tokens rotate roobot/hook --abort, then infra tokens rotate roobot/hook');
    expect(await fs.readFile(path.join(root, 'keys/roobot/tokens/hook.pending.asc'), 'utf8')).toContain('BEGIN PGP MESSAGE'); // nothing changed

    const ctx = ctxFor(root);
    const aborted = await abortRotation(ctx, 'roobot/hook');
    expect(aborted).toMatchObject({ token: 'roobot/hook', discarded: 'keys/roobot/tokens/hook.pending.asc', consumers_updated: ['github_secret:example-coop/organizing:WEBHOOK_SECRET'], consumers_not_updated: ['ansible_vault_var:production:bots:roobot_webhook_secret'] });
    await expect(fs.access(path.join(root, 'keys/roobot/tokens/hook.pending.asc'))).rejects.toThrow();
    expect((await tokenOf(root, 'hook')).pending).toBeUndefined();
    expectNoSecret(pendingValue, { stderr: ctx.output.stderr, stdout: ctx.output.stdout, ...plainFiles(root) });
    expect((await rejection(abortRotation(ctxFor(root), 'roobot/hook'))).message).toContain('nothing to abort');

    // a fresh rotation: a new value, encrypted to alice only, which bob's key cannot read
    const fresh = await rotateToken(testContext({ root, today: TODAY, env: env(root), seed: 'another run' }), { ref: 'roobot/hook' });
    expect(fresh.updated).toHaveLength(2);
    const value = await storedValue(root, admins, 'keys/roobot/tokens/hook.asc');
    expect(value).not.toBe(pendingValue);
    expect(github.secret('repo:example-coop/organizing:WEBHOOK_SECRET')).toBe(value);
    const bobCannot = await rejection(decryptWithKey(await fs.readFile(path.join(root, 'keys/roobot/tokens/hook.asc'), 'utf8'), admins.bob.privateKey, admins.bob.passphrase));
    expect(bobCannot.message).toContain('not one');
    expect((await tokenOf(root, 'hook')).readable_by).toEqual(['alice']);
  });

  it('a pending value re-encrypted away from bob is still refused: who could read it is kept beside it', async () => {
    const root = await tokenRegistry(admins);
    await stoppedRotation(root);
    await setAdmins(root, ['alice']);
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const r = await reencryptTokens(ctxFor(root), { key });
    expect(r.exposed.map((x) => [x.subject, x.readable_by_former_admins])).toContainEqual(['roobot/hook (pending)', ['bob']]);
    expect((await rejection(rotateToken(ctxFor(root), { ref: 'roobot/hook', resume: true, key }))).hint).toContain('--abort');
  });
});

describe('--dry-run says what a real run would miss', () => {
  it('a GitHub consumer without GITHUB_TOKEN, a vault consumer without the password: named, nothing changed', async () => {
    const root = await tokenRegistry(admins, { hookRotatedAt: '2025-01-01' });
    const ctx = ctxFor(root, { GITHUB_TOKEN: '', ANSIBLE_VAULT_PASSWORD_FILE: '' });
    const r = await rotateToken(ctx, { ref: 'roobot/hook', dryRun: true });
    expect(r.blocked_by?.map((b) => b.message)).toEqual([expect.stringContaining('needs the Ansible vault password'), expect.stringContaining('needs GITHUB_TOKEN')]);
    const due = await rotateDue(ctx, { dryRun: true });
    expect(due.rotated.map((t) => [t.token, t.blocked_by?.length])).toEqual([['roobot/hook', 2]]);
    // and the real run stops at the first of them
    expect((await rejection(rotateToken(ctx, { ref: 'roobot/hook' }))).message).toBe(r.blocked_by![0].message);
    expect(await rotateToken(ctxFor(root), { ref: 'roobot/hook', dryRun: true })).not.toHaveProperty('blocked_by');
  });
});

describe('every kind of secret: offboarding, reencrypt and the audit', () => {
  async function registryWithAllKinds(): Promise<string> {
    const root = await tokenRegistry(admins, { stored: { github: OLD_GITHUB_TOKEN, hook: 'hook-value-0123456789abcdef' } });
    const keys = [
      { handle: 'alice', armoredKey: admins.alice.publicKey },
      { handle: 'bob', armoredKey: admins.bob.publicKey },
    ];
    const now = new Date('2026-06-01T00:00:00Z');
    await fs.mkdir(path.join(root, 'vault'), { recursive: true });
    await fs.mkdir(path.join(root, 'ca'), { recursive: true });
    await fs.writeFile(path.join(root, 'vault/password.asc'), await encryptToAdmins('the-vault-password-0123456789', keys, now));
    await fs.writeFile(path.join(root, 'ca/user_ca.asc'), await encryptToAdmins('-----BEGIN OPENSSH PRIVATE KEY-----\nca\n', keys, now));
    return root;
  }

  it('offboarding bob lists every secret he could read, by kind, each with its exact rotate command', async () => {
    const root = await registryWithAllKinds();
    const r = await offboardMember(ctxFor(root), 'bob');
    expect(r.secrets_to_rotate.map((s) => [s.kind, s.subject, s.rotate])).toEqual([
      ['ca-key', 'ca/user_ca.asc', 'infra ca rotate'],
      ['token', 'roobot/github', 'infra tokens rotate roobot/github'],
      ['token', 'roobot/hook', 'infra tokens rotate roobot/hook'],
      ['vault-password', 'vault/password.asc', 'infra vault rotate --key YOUR-KEY.asc'],
    ]);
    expect(r.checklist).toContain('Rotate the Ansible vault password vault/password.asc: `infra vault rotate --key YOUR-KEY.asc` (readable by bob until then).');
    expect(r.checklist).toContain('Rotate the SSH user CA private key ca/user_ca.asc: `infra ca rotate` (readable by bob until then).');
  });

  it('after bob leaves: exposed until rotated, even once re-encrypted; a new admin is secret-not-readable until reencrypt', async () => {
    const root = await registryWithAllKinds();
    await fs.writeFile(path.join(root, 'keys/carol/pgp.asc'), carol.publicKey);
    await setAdmins(root, ['alice', 'carol']);
    const codes = async () => (await runAudit(ctxFor(root), { format: 'json' })).findings.filter((f) => /secret|ca-exposed/.test(f.code)).map((f) => [f.code, f.subject]);
    const exposed = [
      ['ca-exposed', 'ca/user_ca.asc'],
      ['secret-exposed', 'roobot/github'],
      ['secret-exposed', 'roobot/hook'],
      ['secret-exposed', 'vault/password.asc'],
    ];
    const notReadable = [
      ['secret-not-readable', 'ca/user_ca.asc'],
      ['secret-not-readable', 'roobot/github'],
      ['secret-not-readable', 'roobot/hook'],
      ['secret-not-readable', 'vault/password.asc'],
    ];
    expect(await codes()).toEqual([...exposed, ...notReadable]);

    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const r = await reencryptTokens(ctxFor(root), { key });
    expect(r.reencrypted).toEqual(['ca/user_ca.asc', 'keys/roobot/tokens/github.asc', 'keys/roobot/tokens/hook.asc', 'vault/password.asc']);
    expect(await decryptWithKey(await fs.readFile(path.join(root, 'vault/password.asc'), 'utf8'), carol.privateKey)).toBe('the-vault-password-0123456789');
    expect(r.exposed.map((x) => [x.kind, x.command])).toEqual([
      ['ca-key', 'infra ca rotate'],
      ['token', 'infra tokens rotate roobot/github'],
      ['token', 'infra tokens rotate roobot/hook'],
      ['vault-password', 'infra vault rotate --key YOUR-KEY.asc'],
    ]);
    // bob's key no longer opens them, but he read them before: still exposed; carol reads them now
    expect(await codes()).toEqual(exposed);

    // a rotation of the vault password (a new message, to the current admins) ends its exposure
    await fs.writeFile(path.join(root, 'vault/password.asc'), await encryptToAdmins('a-new-password-0123456789', [{ handle: 'alice', armoredKey: admins.alice.publicKey }, { handle: 'carol', armoredKey: carol.publicKey }], new Date('2026-06-01T00:00:00Z')));
    expect(await codes()).toEqual(exposed.filter(([, s]) => s !== 'vault/password.asc'));
    expectNoSecret('the-vault-password-0123456789', { result: JSON.stringify(r), ...plainFiles(root) });
  });

  it('hostile files are noted, never followed: a linked vault/password.asc, a CA key that is no message', async () => {
    const root = await registryWithAllKinds();
    await fs.rm(path.join(root, 'vault/password.asc'));
    await fs.symlink(path.join(root, 'keys/roobot/tokens/hook.asc'), path.join(root, 'vault/password.asc'));
    await fs.writeFile(path.join(root, 'ca/user_ca.asc'), 'not a message\n');
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const e = await rejection(reencryptTokens(ctxFor(root), { key }));
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(/^ca\/user_ca\.asc is not an OpenPGP message/);
    // the audit says which cannot be read by anyone, and why
    const audit = await runAudit(ctxFor(root), { format: 'json' });
    expect(audit.findings.filter((f) => f.subject === 'vault/password.asc' || f.subject === 'ca/user_ca.asc').map((f) => [f.code, f.subject, f.detail])).toEqual([
      ['secret-not-readable', 'ca/user_ca.asc', expect.stringContaining('is not an OpenPGP message')],
      ['secret-not-readable', 'vault/password.asc', expect.stringContaining('is a symbolic link')],
    ]);
  });
});
