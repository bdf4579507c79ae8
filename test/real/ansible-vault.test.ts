/**
 * The real Ansible reads what infra writes, and infra reads what Ansible writes: `ansible-vault
 * view`/`decrypt` and an ad-hoc `ansible -m debug` print the token set in group_vars by writeVaultVar
 * (other variables kept), and we decrypt `ansible-vault encrypt_string` output. Passwords are given by
 * file (--vault-password-file / ANSIBLE_VAULT_PASSWORD_FILE) and values on stdin, never in argv.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readVaultPasswordFile, vaultEncrypt } from '../../src/adapters/ansible-vault.js';
import { readVaultVar, vaultDecrypt, writeVaultVar } from '../helpers/vault-vars.js';
import { requireTool } from '../helpers/real-tools.js';
import { expectNoSecret } from '../helpers/secrets.js';

const d = requireTool('ansible-vault', 'ansible') && requireTool('ansible', 'ansible') ? describe : describe.skip;
const TOKEN = 'tok_Rq4vX8nL1mZ7pK2sW5yB9cJ3hF6dG0aT';
const PASSWORD = 'Vault-pw-Xk93mQz71Lp';
const TIMEOUT = 120_000;

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'infra-ansible-vault-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[], options: { input?: string; env?: Record<string, string>; cwd?: string } = {}) {
  const r = spawnSync(cmd, args, {
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: TIMEOUT,
    cwd: options.cwd ?? dir,
    env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_NOCOLOR: '1', ANSIBLE_HOME: join(dir, '.ansible'), ANSIBLE_LOCAL_TEMP: join(dir, '.ansible', 'tmp'), ...options.env },
  });
  if (r.error) throw r.error;
  for (const arg of args) expectNoSecret(TOKEN, [arg]); // the token never goes on a command line
  return r;
}

/** A password file as a person would write it: trailing newline, mode 0600. */
function passwordFile(name: string, content: string, mode = 0o600): string {
  const f = join(dir, name);
  writeFileSync(f, content);
  chmodSync(f, mode);
  return f;
}

d('Ansible reads what infra writes', () => {
  it('ansible-vault view and decrypt give back the token', () => {
    const pw = passwordFile('pw-view', `${PASSWORD}\n`);
    const file = join(dir, 'value.vault');
    writeFileSync(file, vaultEncrypt(TOKEN, PASSWORD));
    const view = run('ansible-vault', ['view', '--vault-password-file', pw, file], { env: { PAGER: 'cat' } });
    expect([view.status, view.stdout]).toEqual([0, `${TOKEN}\n`]); // view ends what it shows with a line break
    const decrypted = run('ansible-vault', ['decrypt', '--vault-password-file', pw, '--output', '-', file]);
    expect([decrypted.status, decrypted.stdout]).toEqual([0, TOKEN]);
  });

  it('ansible -m debug prints the vaulted variable from group_vars; the other variables stay', async () => {
    const inventory = join(dir, 'inventories', 'production');
    mkdirSync(join(inventory, 'group_vars', 'bots'), { recursive: true });
    writeFileSync(join(inventory, 'hosts.yml'), 'bots:\n  hosts:\n    localhost:\n      ansible_connection: local\n');
    const varsFile = join(inventory, 'group_vars', 'bots', 'infra.tokens.yml');
    const before = '# kept\nbot_name: roobot  # the bot\nbot_rooms:\n  - "#general"\n  - "#infra"\n';
    writeFileSync(varsFile, before);
    // Whitespace around the password: Ansible strips it from a password file, and so must infra.
    const pw = passwordFile('pw-adhoc', `  ${PASSWORD}  \n`);
    const { password } = await readVaultPasswordFile(pw);
    await writeVaultVar(varsFile, 'roobot_token', 'an-older-value-99999', password);
    await writeVaultVar(varsFile, 'roobot_token', TOKEN, password);
    const written = readFileSync(varsFile, 'utf8');
    expect(written.startsWith(before)).toBe(true);
    expectNoSecret(TOKEN, { [varsFile]: written });

    const debug = (variable: string) => {
      const r = run('ansible', ['localhost', '-i', join(inventory, 'hosts.yml'), '-m', 'ansible.builtin.debug', '-a', `var=${variable}`], { env: { ANSIBLE_VAULT_PASSWORD_FILE: pw } });
      expect(r.status).toBe(0);
      const json = r.stdout.slice(r.stdout.indexOf('=>') + 2);
      return JSON.parse(json)[variable];
    };
    expect(debug('roobot_token')).toBe(TOKEN);
    expect(debug('bot_rooms')).toEqual(['#general', '#infra']);
  });

  it('a password script works the same for infra and Ansible', async () => {
    const script = passwordFile('pw-script.sh', `#!/bin/sh\necho '${PASSWORD}'\n`, 0o700);
    const { password } = await readVaultPasswordFile(script);
    const file = join(dir, 'script.vault');
    writeFileSync(file, vaultEncrypt(TOKEN, password));
    const decrypted = run('ansible-vault', ['decrypt', '--vault-password-file', script, '--output', '-', file]);
    expect([decrypted.status, decrypted.stdout]).toEqual([0, TOKEN]);
  });
});

d('infra reads what Ansible writes', () => {
  it('decrypts ansible-vault encrypt_string output (value on stdin)', async () => {
    const pw = passwordFile('pw-encrypt', `${PASSWORD}\n`);
    const r = run('ansible-vault', ['encrypt_string', '--vault-password-file', pw, '--stdin-name', 'roobot_token'], { input: TOKEN });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^roobot_token: !vault \|\n {10}\$ANSIBLE_VAULT;1\.1;AES256\n/);
    const envelope = readVaultVar(r.stdout, 'roobot_token')!;
    expect(vaultDecrypt(envelope, (await readVaultPasswordFile(pw)).password)).toBe(TOKEN);
    expect(() => vaultDecrypt(envelope, 'wrong-password')).toThrow(/HMAC check failed/);
  });

  it('decrypts a whole file encrypted by ansible-vault encrypt, and its 1.2 form with a vault id', () => {
    const pw = passwordFile('pw-file', `${PASSWORD}\n`);
    const file = join(dir, 'plain.txt');
    writeFileSync(file, TOKEN);
    expect(run('ansible-vault', ['encrypt', '--vault-password-file', pw, file]).status).toBe(0);
    expect(vaultDecrypt(readFileSync(file, 'utf8'), PASSWORD)).toBe(TOKEN);
    writeFileSync(file, TOKEN);
    expect(run('ansible-vault', ['encrypt', '--vault-id', `bots@${pw}`, file]).status).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('$ANSIBLE_VAULT;1.2;AES256;bots\n')).toBe(true);
    expect(vaultDecrypt(text, PASSWORD)).toBe(TOKEN);
  });
});
