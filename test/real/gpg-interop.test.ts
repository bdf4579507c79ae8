/**
 * Keys as GnuPG 2.2 makes and exports them, where openpgp.js cannot make them: a public key file holding
 * two certificates, the same user id with an expired key first, curves and sizes the library cannot
 * encrypt to, and a secret key file holding several keys. Each gpg runs in its own temporary GNUPGHOME,
 * in batch mode with empty passphrases (no agent prompt).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decryptWithKey, encryptToAdmins } from '../../src/adapters/openpgp-tokens.js';
import { readPublicKey } from '../../src/adapters/pgp.js';
import { makeAdmin } from '../helpers/pgp-keys.js';
import { requireTool } from '../helpers/real-tools.js';
import { rejection } from '../helpers/thrown.js';

const d = requireTool('gpg', 'gnupg') ? describe : describe.skip;
const TOKEN = 'generic-token-value-0123456789abcdef';
const TIMEOUT = 120_000;

function gpg(home: string, args: string[], input = ''): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('gpg', ['--homedir', home, '--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { input, encoding: 'utf8', timeout: TIMEOUT });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const homes: string[] = [];
function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'gpgi-')); // short: gpg-agent's socket path has a length limit
  homes.push(home);
  return home;
}
afterAll(() => {
  for (const home of homes) {
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'all'], { timeout: TIMEOUT });
    rmSync(home, { recursive: true, force: true });
  }
});

/** A primary key and an encryption subkey of the algorithms given; returns the primary fingerprint. */
function genKey(home: string, uid: string, primary: string, sub: string, options: { expire?: string; fakedTime?: string } = {}): string {
  const time = options.fakedTime ? ['--faked-system-time', options.fakedTime] : [];
  const made = gpg(home, [...time, '--yes', '--quick-gen-key', uid, primary, 'sign,cert', options.expire ?? 'never']);
  if (made.status !== 0) throw new Error(`gpg --quick-gen-key failed: ${made.stderr}`);
  const fprs = gpg(home, ['--with-colons', '--list-keys', uid]).stdout.split('\n').filter((l) => l.startsWith('fpr:')).map((l) => l.split(':')[9]);
  const listed = gpg(home, ['--with-colons', '--list-keys', uid]).stdout.split('\n');
  // the newest primary: the last pub line's fingerprint
  const pubAt = listed.map((l, i) => (l.startsWith('pub:') ? i : -1)).filter((i) => i >= 0).pop()!;
  const fpr = listed.slice(pubAt).find((l) => l.startsWith('fpr:'))!.split(':')[9];
  expect(fprs).toContain(fpr);
  const added = gpg(home, [...time, '--quick-add-key', fpr, sub, 'encr', options.expire ?? 'never']);
  if (added.status !== 0) throw new Error(`gpg --quick-add-key failed: ${added.stderr}`);
  return fpr;
}

d('a public key file holding two certificates', () => {
  it('two usable keys (two people, or two keys of one): refused naming both fingerprints', async () => {
    const home = newHome();
    const a = genKey(home, 'Ann <ann@coop.example>', 'ed25519', 'cv25519');
    const b = genKey(home, 'Ben <ben@coop.example>', 'ed25519', 'cv25519');
    const both = gpg(home, ['--export', '--armor']).stdout;
    const e = await rejection(readPublicKey(Buffer.from(both), 'ann.asc'));
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain(a);
    expect(e.message).toContain(b);
    const enc = await rejection(encryptToAdmins(TOKEN, [{ handle: 'ann', armoredKey: both }], new Date()));
    expect(enc.message).toMatch(new RegExp(`holds 2 certificates that can encrypt \\(${a}, ${b}\\)|holds 2 certificates that can encrypt \\(${b}, ${a}\\)`));
  });

  it('the same user id with the expired key first: the valid one is taken, as gpg does, and gpg decrypts', async () => {
    const home = newHome();
    const expired = genKey(home, 'Ivy <ivy@coop.example>', 'ed25519', 'cv25519', { fakedTime: '20200101T000000', expire: '1d' });
    const valid = genKey(home, 'Ivy <ivy@coop.example>', 'ed25519', 'cv25519');
    expect(expired).not.toBe(valid);
    const exported = gpg(home, ['--export', '--armor', 'ivy@coop.example']).stdout;
    const info = await readPublicKey(Buffer.from(exported), 'keys/ivy/pgp.asc');
    expect([info.fingerprint, info.canEncrypt]).toEqual([valid, true]);
    expect(info.skipped?.join()).toContain(`key ${expired} expired on 2020-01-02`);
    // what is stored is the valid certificate alone
    expect((await readPublicKey(Buffer.from(info.armored), 'x')).fingerprint).toBe(valid);
    const armored = await encryptToAdmins(TOKEN, [{ handle: 'ivy', armoredKey: exported }], new Date());
    const file = join(home, 'token.asc');
    writeFileSync(file, armored);
    const r = gpg(home, ['--decrypt', file]);
    expect([r.status, r.stdout]).toEqual([0, TOKEN]);
  });
});

d('keys the library cannot encrypt to are refused with the real reason', () => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['brainpoolP256r1', 'brainpoolP256r1', 'brainpoolP256r1', /curve brainpoolP256r1/],
    ['secp256k1', 'secp256k1', 'secp256k1', /curve secp256k1/],
    ['RSA-1024', 'rsa1024', 'rsa1024', /rsa1024: RSA below 2048 bits/],
    ['DSA with an ElGamal encryption subkey', 'dsa2048', 'elg2048', /dsa2048: DSA is refused/],
  ];
  it.each(cases)('%s', async (_what, primary, sub, reason) => {
    const home = newHome();
    const fpr = genKey(home, 'Old <old@coop.example>', primary, sub);
    const exported = gpg(home, ['--export', '--armor', fpr]).stdout;
    // gpg itself encrypts to it: the key is fine for gpg, the refusal is infra's and says why
    const plain = join(home, 'p.txt');
    writeFileSync(plain, 'x');
    expect(gpg(home, ['--trust-model', 'always', '--recipient', fpr, '--output', join(home, 'p.gpg'), '--encrypt', plain]).status).toBe(0);
    const info = await readPublicKey(Buffer.from(exported), 'old.asc');
    expect(info.canEncrypt).toBe(false);
    expect(info.encryptProblem).toMatch(reason);
    const e = await rejection(encryptToAdmins(TOKEN, [{ handle: 'old', armoredKey: exported }], new Date()));
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(reason);
    expect(e.message).not.toMatch(/no usable encryption subkey/);
  });
});

d('--key with a file holding several secret keys', () => {
  it('tries every key of the file, as gpg, sq and rnp do: the second one is the recipient', async () => {
    const home = newHome();
    genKey(home, 'Jo <jo@coop.example>', 'ed25519', 'cv25519');
    const second = genKey(home, 'Jo <jo@coop.example>', 'ed25519', 'cv25519');
    const secondPublic = gpg(home, ['--export', '--armor', second]).stdout;
    const message = await encryptToAdmins(TOKEN, [{ handle: 'jo', armoredKey: secondPublic }, { handle: 'alice', armoredKey: (await makeAdmin('alice')).publicKey }], new Date());
    const secrets = gpg(home, ['--export-secret-keys', '--armor', 'jo@coop.example']).stdout;
    expect(secrets.match(/BEGIN PGP PRIVATE KEY BLOCK/g)).toHaveLength(1); // one armor block, two keys in it
    expect(await decryptWithKey(message, secrets)).toBe(TOKEN);
    // and a file none of whose keys is a recipient names every fingerprint it holds
    const other = newHome();
    const o1 = genKey(other, 'Kim <kim@coop.example>', 'ed25519', 'cv25519');
    const e = await rejection(decryptWithKey(message, gpg(other, ['--export-secret-keys', '--armor']).stdout, undefined, { keyFile: '--key kim.asc' }));
    expect(e.message).toContain(o1);
    expect(e.message).toContain('is not one');
  });
});
