/**
 * The vault password with the real programs (bin/run.js, built):
 * - `ansible-vault` (Debian's Ansible) opens every item `infra vault rotate` rewrote with the new password,
 *   refuses the old one, and a 1.2 item keeps its label (opened with `--vault-id prod@FILE`);
 * - `ansible-playbook` reads vault values through ansible/vault-pass-client on a pseudo-terminal, with a
 *   passphrase-protected admin key (asked on the terminal) and with one without a passphrase;
 * - GnuPG decrypts vault/password.asc with each current admin's key, and not with a removed admin's key
 *   after `vault rotate`.
 */
import { createHash } from 'node:crypto';
import { promises as fs, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decryptWithKey } from '../../src/adapters/openpgp-tokens.js';
import { spawnCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/example.js';
import { makeAdmin, type TestAdmin } from '../helpers/pgp-keys.js';
import { runSync } from '../helpers/program.js';
import { runCommandOnTerminal } from '../helpers/pty.js';
import { requireTool } from '../helpers/real-tools.js';
import { expectNoSecret } from '../helpers/secrets.js';
import { makeAdmins, plainFiles, writeKey, type Admins } from '../helpers/tokens-fixture.js';
import { FILES, OLD_PASSWORD, PLAINTEXTS, VALUES, vaultRegistry } from '../helpers/vault-fixture.js';

const TIMEOUT = 120_000;
let admins: Admins;
beforeAll(async () => {
  admins = await makeAdmins();
});

const env = (root: string, extra: Record<string, string> = {}) => ({ INFRA_DIR: root, INFRA_ADMIN: 'alice', ...extra });
const password = async (root: string) => decryptWithKey(await fs.readFile(path.join(root, 'vault/password.asc'), 'utf8'), admins.alice.privateKey);
const ansibleEnv = (root: string, extra: Record<string, string> = {}) => ({
  ...process.env,
  ANSIBLE_NOCOLOR: '1',
  ANSIBLE_LOCALHOST_WARNING: 'false',
  ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false',
  ANSIBLE_HOME: path.join(root, '.ansible'),
  ANSIBLE_LOCAL_TEMP: path.join(root, '.ansible/tmp'),
  ...extra,
});

/** Every vault item as ansible-vault reads it: the whole files themselves, each inline envelope in a file of its own. */
async function itemFiles(root: string): Promise<string[]> {
  const { scanVaultFiles } = await import('../../src/adapters/vault-files.js');
  const scan = await scanVaultFiles(root, ['inventories/production', 'inventories/staging']);
  const out: string[] = [];
  for (const f of scan.files)
    for (const [i, item] of f.items.entries()) {
      if (item.kind === 'file') out.push(path.join(root, f.rel));
      else {
        const file = path.join(root, '.items', `${f.rel.replace(/\//g, '_')}.${i}`);
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, `${item.envelope}\n`);
        out.push(file);
      }
    }
  return out;
}

const withAnsibleVault = requireTool('ansible-vault', 'ansible') ? describe : describe.skip;
withAnsibleVault('ansible-vault reads what vault rotate wrote', () => {
  it('every item opens with the new password and not with the old; a 1.2 item keeps its label', async () => {
    const root = await vaultRegistry(admins);
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const r = await spawnCli(['vault', 'rotate', '--key', key], { env: env(root), timeoutMs: TIMEOUT });
    expect([r.code, r.stderr]).toEqual([0, expect.any(String)]);
    const next = await password(root);
    const newFile = path.join(root, '..', `${path.basename(root)}-new-pass`);
    const oldFile = path.join(root, '..', `${path.basename(root)}-old-pass`);
    await fs.writeFile(newFile, `${next}\n`, { mode: 0o600 });
    await fs.writeFile(oldFile, `${OLD_PASSWORD}\n`, { mode: 0o600 });
    const opened: string[] = [];
    const files = await itemFiles(root);
    expect(files).toHaveLength(PLAINTEXTS.length);
    for (const [i, file] of files.entries()) {
      const out = path.join(root, `opened.${i}`);
      const withNew = runSync('ansible-vault', ['decrypt', '--vault-password-file', newFile, '--output', out, file], { env: ansibleEnv(root), timeoutMs: TIMEOUT });
      expect([file, withNew.code]).toEqual([file, 0]);
      opened.push((await fs.readFile(out)).toString('latin1'));
      const withOld = runSync('ansible-vault', ['view', '--vault-password-file', oldFile, file], { env: ansibleEnv(root), timeoutMs: TIMEOUT });
      expect([file, withOld.code, withOld.stderr]).toEqual([file, 1, expect.stringMatching(/Decryption failed/)]);
    }
    expect(opened.sort()).toEqual(PLAINTEXTS);
    // the label: ansible-vault opens it as the vault id it names
    const labelled = (await fs.readFile(path.join(root, FILES.hand), 'utf8')).match(/prod_only: !vault \|\n((?: {2}.*\n)+)/)![1].replace(/^ {2}/gm, '');
    expect(labelled).toMatch(/^\$ANSIBLE_VAULT;1\.2;AES256;prod\n/);
    const labelledFile = path.join(root, 'labelled.vault');
    await fs.writeFile(labelledFile, labelled);
    const byId = runSync('ansible-vault', ['view', '--vault-id', `prod@${newFile}`, labelledFile], { env: ansibleEnv(root), timeoutMs: TIMEOUT });
    expect([byId.code, byId.stdout.trimEnd()]).toEqual([0, VALUES.prod]);
    for (const s of [OLD_PASSWORD, next, ...Object.values(VALUES)]) expectNoSecret(s, { stdout: r.stdout, stderr: r.stderr });
  });
});

const withPlaybook = requireTool('ansible-playbook', 'ansible') && requireTool('script', 'bsdutils') ? describe : describe.skip;
withPlaybook('ansible-playbook reads vault values through ansible/vault-pass-client on a terminal', () => {
  /** A registry whose vault password infra stored (vault init -), an inventory for localhost, a playbook printing a hash. */
  async function setup(): Promise<{ root: string; shim: string }> {
    const root = await vaultRegistry(admins, { stored: false });
    const init = await spawnCli(['vault', 'init', '-'], { env: env(root), input: `${OLD_PASSWORD}\n`, timeoutMs: TIMEOUT });
    expect([init.code, init.stderr]).toEqual([0, expect.any(String)]);
    await fs.writeFile(path.join(root, 'inventories/production/hosts.yml'), 'all:\n  children:\n    bots:\n      hosts:\n        localhost:\n          ansible_connection: local\n');
    await fs.writeFile(
      path.join(root, 'show.yml'),
      '- hosts: bots\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n        msg: "hook={{ roobot_hook | hash(\'sha256\') }} db={{ db.password | hash(\'sha256\') }}"\n',
    );
    // `infra` on PATH, as an installed infra would be: the client script runs it by name
    const shim = mkdtempSync(path.join(os.tmpdir(), 'infra-vault-shim-'));
    await fs.writeFile(path.join(shim, 'infra'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(REPO_ROOT, 'bin/run.js'))} "$@"\n`, { mode: 0o755 });
    return { root, shim };
  }
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');

  it.each([
    ['a passphrase-protected key (bob): the passphrase is asked on the terminal', 'bob' as const],
    ['a key without a passphrase (alice): nothing is asked', 'alice' as const],
  ])('%s', async (_what, who) => {
    const { root, shim } = await setup();
    try {
      const admin: TestAdmin = admins[who];
      const key = await writeKey(root, `${who}.asc`, admin.privateKey);
      const answers: Array<[RegExp, string]> = admin.passphrase ? [[/Passphrase of /, admin.passphrase]] : [];
      const screen = await runCommandOnTerminal(['ansible-playbook', '-i', 'inventories/production/hosts.yml', '--vault-password-file', 'ansible/vault-pass-client', 'show.yml'], answers, {
        cwd: root,
        timeoutMs: TIMEOUT,
        env: { ...ansibleEnv(root), PATH: `${shim}:${process.env.PATH}`, INFRA_ADMIN_KEY: key, INFRA_PGP_PASSPHRASE: '' },
      });
      expect([screen.code, screen.screen]).toEqual([0, expect.stringContaining(`hook=${sha(VALUES.hook)} db=${sha(VALUES.db)}`)]);
      if (admin.passphrase) expect(screen.screen).not.toContain(admin.passphrase); // typed, not echoed
      else expect(screen.screen).not.toMatch(/Passphrase of/);
      expectNoSecret(OLD_PASSWORD, { screen: screen.screen, ...plainFiles(root) });
    } finally {
      rmSync(shim, { recursive: true, force: true });
    }
  }, TIMEOUT);

  it('without INFRA_ADMIN_KEY the client fails with what to set, and Ansible stops', async () => {
    const { root, shim } = await setup();
    try {
      const r = runSync('ansible-playbook', ['-i', 'inventories/production/hosts.yml', '--vault-password-file', 'ansible/vault-pass-client', 'show.yml'], {
        cwd: root,
        timeoutMs: TIMEOUT,
        env: { ...ansibleEnv(root), PATH: `${shim}:${process.env.PATH}`, INFRA_ADMIN_KEY: '' },
      });
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/set INFRA_ADMIN_KEY/);
    } finally {
      rmSync(shim, { recursive: true, force: true });
    }
  }, TIMEOUT);
});

const withGpg = requireTool('gpg', 'gnupg') ? describe : describe.skip;
withGpg('GnuPG reads vault/password.asc', () => {
  function gpgDecrypt(admin: TestAdmin, file: string): { code: number; stdout: string } {
    const home = mkdtempSync(path.join(os.tmpdir(), 'infra-vault-gpg-'));
    try {
      const gpg = (args: string[], input = '') => runSync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', ...args], { input, timeoutMs: 60_000 });
      const pass = admin.passphrase ? ['--passphrase-fd', '0'] : [];
      const keyFile = path.join(home, 'key.asc');
      writeFileSync(keyFile, admin.privateKey, { mode: 0o600 });
      expect(gpg([...pass, '--import', keyFile], admin.passphrase ?? '').code).toBe(0);
      const out = gpg([...pass, '--decrypt', file], admin.passphrase ?? '');
      return { code: out.code, stdout: out.stdout };
    } finally {
      runSync('gpgconf', ['--homedir', home, '--kill', 'all'], { timeoutMs: 30_000 });
      rmSync(home, { recursive: true, force: true });
    }
  }

  it('each current admin decrypts it; after carol leaves the admins and vault rotate, her key no longer does', async () => {
    const carol = await makeAdmin('carol');
    const root = await vaultRegistry(admins, { stored: false });
    await fs.writeFile(path.join(root, 'keys/carol/pgp.asc'), carol.publicKey);
    const config = path.join(root, 'infra.yml');
    await fs.writeFile(config, (await fs.readFile(config, 'utf8')).replace(/admins:\n(\s+- .*\n)+/, 'admins:\n  - alice\n  - bob\n  - carol\n'));
    const init = await spawnCli(['vault', 'init', '-'], { env: env(root), input: OLD_PASSWORD, timeoutMs: TIMEOUT });
    expect([init.code, init.stderr]).toEqual([0, expect.any(String)]);
    const file = path.join(root, 'vault/password.asc');
    for (const admin of [admins.alice, admins.bob, carol]) expect(gpgDecrypt(admin, file)).toEqual({ code: 0, stdout: OLD_PASSWORD });

    await fs.writeFile(config, (await fs.readFile(config, 'utf8')).replace('  - carol\n', ''));
    const key = await writeKey(root, 'bob.asc', admins.bob.privateKey);
    const rotated = await spawnCli(['vault', 'rotate', '--key', key], { env: env(root, { INFRA_PGP_PASSPHRASE: admins.bob.passphrase! }), timeoutMs: TIMEOUT });
    expect([rotated.code, rotated.stderr]).toEqual([0, expect.any(String)]);
    const next = await password(root);
    expect(next).not.toBe(OLD_PASSWORD);
    for (const admin of [admins.alice, admins.bob]) expect(gpgDecrypt(admin, file)).toEqual({ code: 0, stdout: next });
    expect(gpgDecrypt(carol, file).code).not.toBe(0);
  }, TIMEOUT);
});
