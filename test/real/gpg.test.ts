/**
 * Interop with the real GnuPG 2.2, both ways: `gpg --decrypt` reads what infra wrote with any one
 * admin's secret key, and a key made and exported by gpg is accepted for encryption. Each gpg runs in
 * its own temporary GNUPGHOME; passphrases go through --passphrase-fd 0, never argv.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encryptToAdmins } from '../../src/adapters/openpgp-tokens.js';
import { readPublicKey } from '../../src/adapters/pgp.js';
import { makeAdmin, type TestAdmin } from '../helpers/pgp-keys.js';
import { requireTool } from '../helpers/real-tools.js';
import { expectNoSecret } from '../helpers/secrets.js';
import { rejection } from '../helpers/thrown.js';

const d = requireTool('gpg', 'gnupg') ? describe : describe.skip;
const NOW = new Date('2026-06-01T00:00:00Z');
const TOKEN = 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz';
const TIMEOUT = 60_000;

interface GpgResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function gpg(home: string, args: string[], input = ''): GpgResult {
  const r = spawnSync('gpg', ['--homedir', home, '--batch', '--no-tty', '--pinentry-mode', 'loopback', ...args], { input, encoding: 'utf8', timeout: TIMEOUT });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const homes: string[] = [];
function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'gpg-')); // short: gpg-agent's socket path has a length limit
  homes.push(home);
  return home;
}

afterAll(() => {
  for (const home of homes) {
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'all'], { timeout: TIMEOUT });
    rmSync(home, { recursive: true, force: true });
  }
});

/** gpg --decrypt of `message` in a home that holds only `admin`'s secret key. */
function decryptAs(admin: TestAdmin, message: string): GpgResult {
  const home = newHome();
  const keyFile = join(home, 'secret.asc');
  writeFileSync(keyFile, admin.privateKey, { mode: 0o600 });
  const imported = gpg(home, ['--passphrase-fd', '0', '--import', keyFile], `${admin.passphrase ?? ''}\n`);
  if (imported.status !== 0) throw new Error(`gpg --import failed: ${imported.stderr}`);
  const messageFile = join(home, 'token.asc');
  writeFileSync(messageFile, message);
  return gpg(home, ['--passphrase-fd', '0', '--decrypt', messageFile], `${admin.passphrase ?? ''}\n`);
}


d('GnuPG reads what infra encrypts', () => {
  let admins: TestAdmin[];
  let message: string;
  beforeAll(async () => {
    admins = await Promise.all([makeAdmin('alice'), makeAdmin('bob', { passphrase: 'Pa55-bob-Zq8rT3vW-keyring' }), makeAdmin('carol')]);
    message = await encryptToAdmins(TOKEN, admins.map((a) => ({ handle: a.handle, armoredKey: a.publicKey })), NOW);
  });

  it.each(['alice', 'bob', 'carol'])('gpg --decrypt with only %s’s secret key gives the token', (handle) => {
    const admin = admins.find((a) => a.handle === handle)!;
    const r = decryptAs(admin, message);
    expect([r.status, r.stdout]).toEqual([0, TOKEN]);
  });

  it('gpg with a key that is not an admin’s cannot read it', async () => {
    const outsider = await makeAdmin('mallory');
    const r = decryptAs(outsider, message);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    expectNoSecret(TOKEN, [r.stdout, r.stderr]);
  });
});

d('infra accepts keys made and exported by gpg', () => {
  function genKey(home: string, uid: string, withEncryption: boolean): string {
    const made = gpg(home, ['--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign,cert', 'never']);
    if (made.status !== 0) throw new Error(`gpg --quick-gen-key failed: ${made.stderr}`);
    const fpr = gpg(home, ['--with-colons', '--list-keys', uid]).stdout.split('\n').find((l) => l.startsWith('fpr:'))!.split(':')[9];
    if (withEncryption) {
      const sub = gpg(home, ['--passphrase', '', '--quick-add-key', fpr, 'cv25519', 'encr', 'never']);
      if (sub.status !== 0) throw new Error(`gpg --quick-add-key failed: ${sub.stderr}`);
    }
    return fpr;
  }

  it('encrypts to a gpg --export --armor key, and that gpg decrypts it', async () => {
    const home = newHome();
    const fpr = genKey(home, 'Gus <gus@coop.example>', true);
    const exported = gpg(home, ['--export', '--armor', fpr]).stdout;
    expect(exported).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    const info = await readPublicKey(Buffer.from(exported), 'keys/gus/pgp.asc');
    expect([info.fingerprint, info.canEncrypt]).toEqual([fpr, true]);

    const alice = await makeAdmin('alice');
    const armored = await encryptToAdmins(TOKEN, [{ handle: 'alice', armoredKey: alice.publicKey }, { handle: 'gus', armoredKey: exported }], new Date());
    const file = join(home, 'token.asc');
    writeFileSync(file, armored);
    const r = gpg(home, ['--decrypt', file]);
    expect([r.status, r.stdout]).toEqual([0, TOKEN]);
    expect(decryptAs(alice, armored).stdout).toBe(TOKEN);
  });

  it('refuses a gpg key without an encryption subkey, naming its file', async () => {
    const home = newHome();
    const fpr = genKey(home, 'Hal <hal@coop.example>', false);
    const exported = gpg(home, ['--export', '--armor', fpr]).stdout;
    const e = await rejection(encryptToAdmins(TOKEN, [{ handle: 'hal', armoredKey: exported }], new Date()));
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(new RegExp(`^keys/hal/pgp\\.asc: key ${fpr} has no usable encryption subkey`));
  });
});
