/**
 * The vault commands as a user runs them (bin/run.js, built): --json shapes, a password given as an
 * argument refused without being echoed, and no secret in any output.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { spawnCli } from '../helpers/cli.js';
import { expectNoSecret } from '../helpers/secrets.js';
import { makeAdmins, writeKey, type Admins } from '../helpers/tokens-fixture.js';
import { OLD_PASSWORD, vaultRegistry } from '../helpers/vault-fixture.js';

let admins: Admins;
beforeAll(async () => {
  admins = await makeAdmins();
});
const env = (root: string) => ({ INFRA_DIR: root, INFRA_ADMIN: 'alice' });

it('vault init SECRET: exit 2, the argument is not echoed, nothing is written', async () => {
  const root = await vaultRegistry(admins, { stored: false });
  const r = await spawnCli(['vault', 'init', OLD_PASSWORD], { env: env(root) });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/never taken from the command line/);
  expectNoSecret(OLD_PASSWORD, { stdout: r.stdout, stderr: r.stderr });
  await expect(fs.access(path.join(root, 'vault/password.asc'))).rejects.toThrow();
});

it('vault init - --json, then vault password --json on a pipe: the JSON shapes, the password only where asked for', async () => {
  const root = await vaultRegistry(admins, { stored: false });
  const init = await spawnCli(['vault', 'init', '-', '--json'], { env: env(root), input: `${OLD_PASSWORD}\n` });
  expect(init.code).toBe(0);
  expect(JSON.parse(init.stdout)).toEqual({
    password_file: 'vault/password.asc',
    state_file: 'vault/vault.yml',
    client_file: 'ansible/vault-pass-client',
    client_written: true,
    encrypted_to: ['alice', 'bob'],
    generated: false,
    created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
    created_by: 'alice',
    written: ['ansible/vault-pass-client', 'vault/password.asc', 'vault/vault.yml'],
  });
  expectNoSecret(OLD_PASSWORD, { stdout: init.stdout, stderr: init.stderr });
  const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
  const shown = await spawnCli(['vault', 'password', '--key', key], { env: env(root) });
  expect([shown.code, shown.stdout]).toEqual([0, `${OLD_PASSWORD}\n`]);
  expectNoSecret(OLD_PASSWORD, { stderr: shown.stderr });
  const json = await spawnCli(['vault', 'password', '--key', key, '--json'], { env: env(root) });
  expect(JSON.parse(json.stdout)).toEqual({ password: OLD_PASSWORD });
});

it('vault rotate --json: the result shape, and no secret in the output', async () => {
  const root = await vaultRegistry(admins);
  const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
  const r = await spawnCli(['vault', 'rotate', '--key', key, '--json'], { env: env(root) });
  expect(r.code).toBe(0);
  const result = JSON.parse(r.stdout);
  expect(result).toMatchObject({ resumed: false, items: 7, rotated_by: 'alice', encrypted_to: ['alice', 'bob'], already_done: [], links_not_followed: [] });
  expect(result.rewritten).toHaveLength(5);
  expect(r.stderr).toBe('');
  expectNoSecret(OLD_PASSWORD, { stdout: r.stdout });
});
