/**
 * The CA's private key at rest, judged by the real GnuPG and ssh-keygen: `gpg --decrypt ca/user_ca.asc`
 * with each admin's secret key alone (one protected by a passphrase) gives an OpenSSH private key whose
 * public half, as `ssh-keygen -y` derives it, is ca/user_ca.pub; and `ssh-keygen -s` signs with it.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa } from '../../src/services/ca.js';
import { testContext } from '../helpers/context.js';
import { makeAdmin, type TestAdmin } from '../helpers/pgp-keys.js';
import { runSync } from '../helpers/program.js';
import { requireTool } from '../helpers/real-tools.js';
import { baseConfig, ed25519Line, makeRegistry, memberData } from '../helpers/registry-fixture.js';

const d = requireTool('gpg', 'gnupg') && requireTool('ssh-keygen', 'openssh-client') ? describe : describe.skip;
const TIMEOUT = 60_000;

const homes: string[] = [];
function gpg(home: string, args: string[], input = '') {
  const r = spawnSync('gpg', ['--homedir', home, '--batch', '--no-tty', '--pinentry-mode', 'loopback', ...args], { input, encoding: 'utf8', timeout: TIMEOUT });
  if (r.error) throw r.error;
  return r;
}

afterAll(() => {
  for (const home of homes) {
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'all'], { timeout: TIMEOUT });
    rmSync(home, { recursive: true, force: true });
  }
});

d('GnuPG reads the CA key infra stores', () => {
  let admins: TestAdmin[];
  let root: string;
  beforeAll(async () => {
    admins = await Promise.all([makeAdmin('alice'), makeAdmin('bob', { passphrase: 'Pa55-bob-ca-Zq8rT3vW' })]);
    root = await makeRegistry({
      config: baseConfig({ admins: ['alice', 'bob'] }),
      members: { alice: memberData('alice'), bob: memberData('bob', { ssh_keys: [{ name: 'laptop', key: ed25519Line('bob-laptop'), added: '2026-01-01' }] }) },
      files: { 'keys/alice/pgp.asc': admins[0].publicKey, 'keys/bob/pgp.asc': admins[1].publicKey },
    });
    await initCa(testContext({ root, today: '2026-06-15', seed: 'gpg-ca' }));
  });

  it.each([0, 1])('gpg --decrypt with admin #%i alone gives the CA key of ca/user_ca.pub, which ssh-keygen signs with', async (i) => {
    const admin = admins[i];
    const home = mkdtempSync(join(tmpdir(), 'gpg-'));
    homes.push(home);
    writeFileSync(join(home, 'secret.asc'), admin.privateKey, { mode: 0o600 });
    expect(gpg(home, ['--passphrase-fd', '0', '--import', join(home, 'secret.asc')], `${admin.passphrase ?? ''}\n`).status).toBe(0);
    const r = gpg(home, ['--passphrase-fd', '0', '--decrypt', join(root, 'ca/user_ca.asc')], `${admin.passphrase ?? ''}\n`);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    const keyFile = join(home, 'ca_key');
    writeFileSync(keyFile, r.stdout, { mode: 0o600 });
    const pub = (await fs.readFile(join(root, 'ca/user_ca.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
    expect(runSync('ssh-keygen', ['-y', '-f', keyFile]).stdout.split(' ').slice(0, 2).join(' ')).toBe(pub);
    writeFileSync(join(home, 'user.pub'), `${ed25519Line('someone')}\n`);
    expect(runSync('ssh-keygen', ['-s', keyFile, '-I', 'x', '-n', 'x', '-V', '+1h', join(home, 'user.pub')]).code).toBe(0);
  });
});
