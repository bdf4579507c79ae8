/**
 * The vault password services called directly: init (random, or the existing one from stdin), password
 * (printed only to a program or with --reveal), rotate (every kind of item re-encrypted, labels and every
 * other byte kept, a recorded sequence), and every bad input: after each, the exit code, nothing changed,
 * and no secret in any output, error or plain file.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decryptWithKey } from '../../src/adapters/openpgp-tokens.js';
import { initVault, rotateVault, vaultPassword } from '../../src/services/vault.js';
import { testContext, type TestContext } from '../helpers/context.js';
import { treeDigest } from '../helpers/example.js';
import { makeAdmin } from '../helpers/pgp-keys.js';
import { errorText, expectNoSecret } from '../helpers/secrets.js';
import { rejection } from '../helpers/thrown.js';
import { makeAdmins, plainFiles, writeKey, type Admins } from '../helpers/tokens-fixture.js';
import { FILES, OLD_PASSWORD, openedItems, PLAINTEXTS, VALUES, vaultRegistry, withoutEnvelopes } from '../helpers/vault-fixture.js';

const TODAY = '2026-06-15';
let admins: Admins;
beforeAll(async () => {
  admins = await makeAdmins();
});

const ctxFor = (root: string, opts: { stdin?: string; terminal?: boolean; env?: Record<string, string> } = {}) =>
  testContext({ root, today: TODAY, stdin: opts.stdin, terminal: opts.terminal ?? false, env: { INFRA_ADMIN: 'alice', ...opts.env } });

const stored = async (root: string, rel = 'vault/password.asc') => decryptWithKey(await fs.readFile(path.join(root, rel), 'utf8'), admins.alice.privateKey);

/** No secret anywhere: the outputs, the error, the registry's plain files (the .asc are OpenPGP messages). */
function noLeak(secrets: string[], ctx: TestContext, root: string, error?: unknown) {
  for (const s of secrets) expectNoSecret(s, { stdout: ctx.output.stdout, stderr: ctx.output.stderr, error: error === undefined ? '' : errorText(error), ...plainFiles(root) });
}
const ITEM_SECRETS = Object.values(VALUES);

describe('vault init', () => {
  it('stores a new random password encrypted to every admin, records it, and writes the client script', async () => {
    const root = await vaultRegistry(admins, { stored: false });
    const ctx = ctxFor(root);
    const r = await initVault(ctx, {});
    const password = await stored(root);
    expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await decryptWithKey(await fs.readFile(path.join(root, 'vault/password.asc'), 'utf8'), admins.bob.privateKey, admins.bob.passphrase)).toBe(password);
    expect(r).toMatchObject({ generated: true, encrypted_to: ['alice', 'bob'], created_at: TODAY, created_by: 'alice', client_written: true });
    expect(await fs.readFile(path.join(root, 'vault/vault.yml'), 'utf8')).toMatch(/\ncreated_at: 2026-06-15\ncreated_by: alice\nrotated_at: 2026-06-15\nrotated_by: alice\n$/);
    const client = await fs.stat(path.join(root, 'ansible/vault-pass-client'));
    expect(client.mode & 0o777).toBe(0o755);
    expect(await fs.readFile(path.join(root, 'ansible/vault-pass-client'), 'utf8')).toMatch(/exec infra vault password --dir "\$here\/\.\." --key "\$INFRA_ADMIN_KEY"/);
    noLeak([password], ctx, root);
  });

  it('takes the existing password from stdin with -, stripped as Ansible strips a password file, and records no rotation', async () => {
    const root = await vaultRegistry(admins, { stored: false });
    const ctx = ctxFor(root, { stdin: `  ${OLD_PASSWORD}\n\n` });
    const r = await initVault(ctx, { source: '-' });
    expect(await stored(root)).toBe(OLD_PASSWORD);
    expect(r.generated).toBe(false);
    const state = await fs.readFile(path.join(root, 'vault/vault.yml'), 'utf8');
    expect(state).toMatch(/created_by: alice\n$/);
    expect(state).not.toMatch(/rotated_at/); // its history before infra is unknown
    noLeak([OLD_PASSWORD], ctx, root);
  });

  it.each([
    ['a password on the command line', { source: OLD_PASSWORD }, '', 2, /never taken from the command line/],
    ['an empty stdin', { source: '-' }, ' \n', 3, /empty/],
  ])('refuses %s, changing nothing', async (_what, input, stdin, code, message) => {
    const root = await vaultRegistry(admins, { stored: false });
    const before = await treeDigest(root);
    const ctx = ctxFor(root, { stdin });
    const e = await rejection(initVault(ctx, input));
    expect([e.exitCode, e.message]).toEqual([code, expect.stringMatching(message)]);
    expect(await treeDigest(root)).toBe(before);
    noLeak([OLD_PASSWORD], ctx, root, e);
  });

  it('refuses to replace an existing password.asc and says how to rotate instead', async () => {
    const root = await vaultRegistry(admins);
    const before = await treeDigest(root);
    const e = await rejection(initVault(ctxFor(root), {}));
    expect([e.exitCode, e.message, e.hint]).toEqual([3, expect.stringMatching(/vault\/password\.asc already exists/), expect.stringMatching(/infra vault rotate --key/)]);
    expect(await treeDigest(root)).toBe(before);
  });

  it('keeps a hand-edited client script', async () => {
    const root = await vaultRegistry(admins, { stored: false });
    await fs.mkdir(path.join(root, 'ansible'), { recursive: true });
    await fs.writeFile(path.join(root, 'ansible/vault-pass-client'), '#!/bin/sh\necho mine\n', { mode: 0o700 });
    const ctx = ctxFor(root);
    expect((await initVault(ctx, {})).client_written).toBe(false);
    expect(await fs.readFile(path.join(root, 'ansible/vault-pass-client'), 'utf8')).toBe('#!/bin/sh\necho mine\n');
    expect(ctx.output.stderr).toMatch(/exists and differs/);
  });
});

describe('vault password', () => {
  it('prints the password to a program (stdout not a terminal), with a passphrase-protected key too', async () => {
    const root = await vaultRegistry(admins);
    const bobKey = await writeKey(root, 'bob.asc', admins.bob.privateKey);
    const r = await vaultPassword(ctxFor(root, { env: { INFRA_PGP_PASSPHRASE: admins.bob.passphrase! } }), { key: bobKey });
    expect(r.password).toBe(OLD_PASSWORD);
  });

  it('refuses to print it on a terminal without --reveal, and prints it with --reveal', async () => {
    const root = await vaultRegistry(admins);
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const ctx = ctxFor(root, { terminal: true });
    const e = await rejection(vaultPassword(ctx, { key }));
    expect([e.exitCode, e.hint]).toEqual([2, expect.stringMatching(/--reveal/)]);
    noLeak([OLD_PASSWORD], ctx, root, e);
    expect((await vaultPassword(ctx, { key, reveal: true })).password).toBe(OLD_PASSWORD);
  });

  it('without vault/password.asc: says to run vault init', async () => {
    const root = await vaultRegistry(admins, { stored: false });
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const e = await rejection(vaultPassword(ctxFor(root), { key }));
    expect([e.exitCode, e.hint]).toEqual([3, expect.stringMatching(/infra vault init/)]);
  });

  it("a key file holding no admin's secret key: names whose keys were tried", async () => {
    const root = await vaultRegistry(admins);
    const mallory = await makeAdmin('mallory');
    const key = await writeKey(root, 'mallory.asc', mallory.privateKey);
    const ctx = ctxFor(root);
    const e = await rejection(vaultPassword(ctx, { key }));
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(/holds none of the admins' secret keys; tried alice \([0-9A-F]{40}\), bob \([0-9A-F]{40}\)/);
    noLeak([OLD_PASSWORD], ctx, root, e);
  });
});

describe('vault rotate', () => {
  it('re-encrypts every item with a new password, keeps labels and every other byte, and records who did it', async () => {
    const root = await vaultRegistry(admins);
    const kept = Object.fromEntries(await Promise.all(Object.values(FILES).map(async (f) => [f, await withoutEnvelopes(root, f)])));
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const ctx = ctxFor(root);
    const r = await rotateVault(ctx, { key });
    const next = await stored(root);
    expect(next).not.toBe(OLD_PASSWORD);
    expect(Object.values(await openedItems(root, next)).sort()).toEqual(PLAINTEXTS);
    expect(Object.values(await openedItems(root, OLD_PASSWORD)).every((v) => v === '(does not open)')).toBe(true);
    for (const [f, text] of Object.entries(kept)) expect([f, await withoutEnvelopes(root, f)]).toEqual([f, text]);
    // a labelled item keeps its label; a comment after a block survives
    expect(await fs.readFile(path.join(root, FILES.hand), 'utf8')).toMatch(/prod_only: !vault \|\n {2}\$ANSIBLE_VAULT;1\.2;AES256;prod\n/);
    expect(await fs.readFile(path.join(root, FILES.binary), 'latin1')).toMatch(/^\$ANSIBLE_VAULT;1\.2;AES256;staging\n/);
    expect(await fs.readFile(path.join(root, FILES.tokens), 'utf8')).toMatch(/\n {2}# a note after the block\nother: 1\n$/);
    expect(r).toMatchObject({ resumed: false, items: 7, rotated_at: TODAY, rotated_by: 'alice', encrypted_to: ['alice', 'bob'] });
    expect(r.rewritten.map((x) => x.file).sort()).toEqual(Object.values(FILES).sort());
    expect(await fs.readFile(path.join(root, 'vault/vault.yml'), 'utf8')).toMatch(/\ncreated_at: 2026-01-10\ncreated_by: bob\nrotated_at: 2026-06-15\nrotated_by: alice\n$/);
    await expect(fs.access(path.join(root, 'vault/password.pending.asc'))).rejects.toThrow();
    noLeak([OLD_PASSWORD, next, ...ITEM_SECRETS], ctx, root);
  });

  it('an item made with another password: stops before changing anything, naming file and line', async () => {
    const root = await vaultRegistry(admins);
    const { vaultBlock, vaultEncrypt } = await import('../../src/adapters/ansible-vault.js');
    const foreign = 'inventories/staging/group_vars/all/foreign.yml';
    await fs.writeFile(path.join(root, foreign), `a: 1\n${vaultBlock('other', vaultEncrypt('mW4tH9aN2oT7hE1rP6wD3xZ8', 'another password entirely'))}`);
    const before = await treeDigest(root);
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const ctx = ctxFor(root);
    const e = await rejection(rotateVault(ctx, { key }));
    expect(e.exitCode).toBe(3);
    expect(e.message).toBe(`${foreign}:2: vault: does not decrypt with the vault password in vault/password.asc (made with another password?)`);
    expect(e.hint).toMatch(/nothing was changed/);
    expect(await treeDigest(root)).toBe(before);
    noLeak([OLD_PASSWORD, 'mW4tH9aN2oT7hE1rP6wD3xZ8', ...ITEM_SECRETS], ctx, root, e);
  });

  it.each([
    ['not valid YAML', 'inventories/production/group_vars/all/broken.yml', Buffer.from(`a: [1\nb: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3031\n`), /broken\.yml:\d+: \(yaml\): not valid YAML/],
    ['not UTF-8', 'inventories/production/group_vars/all/latin1.yml', Buffer.concat([Buffer.from('# caf'), Buffer.from([0xe9]), Buffer.from('\nb: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3031\n')]), /latin1\.yml:1: \(encoding\): is not valid UTF-8/],
  ])('a vars file that is %s: refused with its line, nothing rewritten', async (_what, rel, content, message) => {
    const root = await vaultRegistry(admins);
    await fs.writeFile(path.join(root, rel), content);
    const before = await treeDigest(root);
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const ctx = ctxFor(root);
    const e = await rejection(rotateVault(ctx, { key }));
    expect([e.exitCode, e.message]).toEqual([3, expect.stringMatching(message)]);
    expect(await treeDigest(root)).toBe(before);
    noLeak([OLD_PASSWORD, ...ITEM_SECRETS], ctx, root, e);
  });

  it('without vault/password.asc: says to run vault init', async () => {
    const root = await vaultRegistry(admins, { stored: false });
    const before = await treeDigest(root);
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const e = await rejection(rotateVault(ctxFor(root), { key }));
    expect([e.exitCode, e.message, e.hint]).toEqual([3, expect.stringMatching(/vault\/password\.asc does not exist/), expect.stringMatching(/infra vault init/)]);
    expect(await treeDigest(root)).toBe(before);
  });

  it("a key file without an admin's secret key: names whose keys were tried, changes nothing", async () => {
    const root = await vaultRegistry(admins);
    const before = await treeDigest(root);
    const mallory = await makeAdmin('mallory');
    const ctx = ctxFor(root);
    for (const armored of [mallory.privateKey, admins.alice.publicKey]) {
      const key = await writeKey(root, 'wrong.asc', armored);
      const e = await rejection(rotateVault(ctx, { key }));
      expect(e.exitCode).toBe(3);
      expect(e.message).toMatch(/tried alice \([0-9A-F]{40}\), bob \([0-9A-F]{40}\)|this is a public key/);
      expect(await treeDigest(root)).toBe(before);
      noLeak([OLD_PASSWORD, ...ITEM_SECRETS], ctx, root, e);
    }
  });

  it('a hostile vault.yml is refused with its line before anything changes', async () => {
    const root = await vaultRegistry(admins);
    await fs.writeFile(path.join(root, 'vault/vault.yml'), 'created_at: 2026-01-10\ncreated_by: bob\npending:\n  started_at: 2026-01-11\n  started_by: bob\n  left: [../../etc/passwd]\n');
    const before = await treeDigest(root);
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const e = await rejection(rotateVault(ctxFor(root), { key, resume: true }));
    expect([e.exitCode, e.message]).toEqual([3, 'vault/vault.yml:6: pending.left.0: must be a path relative to the registry root, without `..`']);
    expect(await treeDigest(root)).toBe(before);
  });

  it('refuses a fresh rotation while one is unfinished, and --resume with nothing unfinished says so', async () => {
    const root = await vaultRegistry(admins);
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const ctx = ctxFor(root);
    expect(await rotateVault(ctx, { key, resume: true })).toMatchObject({ nothing_to_resume: true });
    let calls = 0;
    const e = await rejection(rotateVault(ctx, { key, cancelled: () => ++calls > 2 }));
    expect(e.exitCode).toBe(130);
    expect(e.hint).toMatch(/infra vault rotate --resume --key/);
    expect(e.message).toMatch(/re-encrypted: \S+, \S+; not yet: /);
    const again = await rejection(rotateVault(ctx, { key }));
    expect([again.exitCode, again.hint]).toEqual([3, expect.stringMatching(/--resume/)]);
    const pending = await stored(root, 'vault/password.pending.asc');
    const r = await rotateVault(ctx, { key, resume: true });
    expect(r.resumed).toBe(true);
    expect(r.already_done).toHaveLength(2);
    expect(await stored(root)).toBe(pending);
    expect(Object.values(await openedItems(root, pending)).sort()).toEqual(PLAINTEXTS);
  });
});

describe('offboarding an admin lists the vault password with the exact command', () => {
  it.each([
    // stored: the secret catalog's line (bob is among password.asc's recipients); by hand: how to bring it in first
    ['stored in the registry', true, /vault\/password\.asc: `infra vault rotate --key [A-Z-]+\.asc` \(readable by bob until then\)/],
    ['kept by hand', false, /Vault password: bob knows the Ansible vault password, kept outside the registry.*`infra vault rotate --key FILE`/],
  ])('%s', async (_what, isStored, line) => {
    const { offboardMember } = await import('../../src/services/members.js');
    const root = await vaultRegistry(admins, { stored: isStored });
    const r = await offboardMember(ctxFor(root), 'bob', TODAY);
    expect(r.checklist.filter((l) => /vault password/i.test(l) && !l.startsWith('Secrets:'))).toEqual([expect.stringMatching(line)]);
  });

  it('a member who was not an admin: no vault line', async () => {
    const { offboardMember } = await import('../../src/services/members.js');
    const root = await vaultRegistry(admins);
    const r = await offboardMember(ctxFor(root), 'carol', TODAY);
    expect(r.checklist.some((l) => l.startsWith('Vault password:'))).toBe(false);
  });
});

describe('tokens rotate takes the vault password from vault/password.asc with --key', () => {
  const VAULT_ONLY = [{ ansible_vault_var: { environment: 'production', group: 'bots', var: 'roobot_hook' } }];
  async function tokenRoot(): Promise<string> {
    const { tokenRegistry, VAULT_PASSWORD } = await import('../helpers/tokens-fixture.js');
    const { encryptToAdmins } = await import('../../src/adapters/openpgp-tokens.js');
    const root = await tokenRegistry(admins, { genericConsumers: VAULT_ONLY });
    await fs.rm(path.join(root, 'vault-pass'));
    await fs.mkdir(path.join(root, 'vault'));
    const keys = [
      { handle: 'alice', armoredKey: admins.alice.publicKey },
      { handle: 'bob', armoredKey: admins.bob.publicKey },
    ];
    await fs.writeFile(path.join(root, 'vault/password.asc'), await encryptToAdmins(VAULT_PASSWORD, keys, new Date('2026-06-01T00:00:00Z')));
    return root;
  }

  it('without ANSIBLE_VAULT_PASSWORD_FILE: the vault variable is written with the stored password', async () => {
    const { rotateToken } = await import('../../src/services/tokens.js');
    const { vaultValue, storedValue } = await import('../helpers/tokens-fixture.js');
    const root = await tokenRoot();
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const ctx = ctxFor(root);
    await rotateToken(ctx, { ref: 'roobot/hook', key });
    const value = await storedValue(root, admins, 'keys/roobot/tokens/hook.asc');
    expect(await vaultValue(root, 'roobot_hook')).toBe(value);
  });

  it('without --key either: a usage error naming both ways', async () => {
    const { rotateToken } = await import('../../src/services/tokens.js');
    const root = await tokenRoot();
    const before = await treeDigest(root);
    const e = await rejection(rotateToken(ctxFor(root), { ref: 'roobot/hook' }));
    expect([e.exitCode, e.message]).toEqual([2, expect.stringMatching(/pass --key FILE .* or set ANSIBLE_VAULT_PASSWORD_FILE/)]);
    expect(await treeDigest(root)).toBe(before);
  });

  it('while a vault rotation is unfinished: refused, pointing at vault rotate --resume', async () => {
    const { rotateToken } = await import('../../src/services/tokens.js');
    const root = await tokenRoot();
    await fs.writeFile(path.join(root, 'vault/vault.yml'), 'created_at: 2026-01-10\ncreated_by: bob\npending:\n  started_at: 2026-06-14\n  started_by: bob\n  left: []\n');
    const before = await treeDigest(root);
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const e = await rejection(rotateToken(ctxFor(root), { ref: 'roobot/hook', key }));
    expect([e.exitCode, e.hint]).toEqual([3, expect.stringMatching(/infra vault rotate --resume --key/)]);
    expect(await treeDigest(root)).toBe(before);
  });
});

describe('vault rotate and symbolic links', () => {
  it('a link under the inventories to a vault file outside the registry is named, not followed, and the file outside is untouched', async () => {
    const root = await vaultRegistry(admins);
    const outside = `${root}-outside.yml`;
    const { vaultBlock, vaultEncrypt } = await import('../../src/adapters/ansible-vault.js');
    const text = `s: ${vaultBlock('x', vaultEncrypt('oU7sI2dE5lN8kF3jR6wQ9tZ1', OLD_PASSWORD)).slice(3)}`;
    await fs.writeFile(outside, text);
    await fs.symlink(outside, path.join(root, 'inventories/production/group_vars/all/linked.yml'));
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const ctx = ctxFor(root);
    const r = await rotateVault(ctx, { key });
    expect(r.links_not_followed).toEqual(['inventories/production/group_vars/all/linked.yml']);
    expect(ctx.output.stderr).toMatch(/linked\.yml is a symbolic link; infra does not follow it/);
    expect(await fs.readFile(outside, 'utf8')).toBe(text);
  });
});

describe('infra check validates vault/vault.yml', () => {
  it.each([
    ['valid', 'created_at: 2026-01-10\ncreated_by: bob\n', []],
    ['an unknown field', 'created_at: 2026-01-10\ncreated_by: bob\npassword: hunter2hunter2\n', ['vault/vault.yml:3: password: unknown field (known: created_at, created_by, rotated_at, rotated_by, pending)']],
    ['not YAML', 'created_at: [2026\n', [expect.stringMatching(/^vault\/vault\.yml:\d+: \(yaml\): YAML syntax error/)]],
  ])('%s', async (_what, text, expected) => {
    const { checkRegistry } = await import('../../src/services/registry.js');
    const { formatProblem } = await import('../../src/lib/errors.js');
    const root = await vaultRegistry(admins);
    await fs.writeFile(path.join(root, 'vault/vault.yml'), text);
    const r = await checkRegistry(ctxFor(root));
    expect(r.problems.filter((p) => p.file === 'vault/vault.yml').map(formatProblem)).toEqual(expected);
  });
});

describe('a resumed rotation whose new password a former admin could read', () => {
  it('finishes, names them and says to rotate again', async () => {
    const root = await vaultRegistry(admins);
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const ctx = ctxFor(root);
    let calls = 0;
    expect((await rejection(rotateVault(ctx, { key, cancelled: () => ++calls > 1 }))).exitCode).toBe(130);
    const config = path.join(root, 'infra.yml');
    await fs.writeFile(config, (await fs.readFile(config, 'utf8')).replace(/admins:\n(\s+- .*\n)+/, 'admins:\n  - alice\n'));
    const r = await rotateVault(ctx, { key, resume: true });
    expect(r.readable_by_former_admins).toEqual(['bob']);
    expect(ctx.output.stderr).toMatch(/bob could read it, and they are no admin now.*infra vault rotate --key FILE/);
  });
});
