/**
 * Token values at rest, with openpgp alone: one message every admin can read, refusals that name the
 * admin's key file, and decryption errors that say what is wrong (never echoing a passphrase).
 */
import * as openpgp from 'openpgp';
import { decryptWithKey, encryptToAdmins, messageRecipients } from '../../src/adapters/openpgp-tokens.js';
import { makeAdmin, revoked, type TestAdmin } from '../helpers/pgp-keys.js';
import { errorText, expectNoSecret } from '../helpers/secrets.js';
import { rejection } from '../helpers/thrown.js';

const NOW = new Date('2026-11-29T10:00:00Z');
const TOKEN = 'ghp_0123456789abcdefghijklmnopqrstuvwxyzAB';
const PASSPHRASE = 'c0rrect-h0rse-Qv8sT2pX-batt3ry';


let alice: TestAdmin;
let bob: TestAdmin;
let carol: TestAdmin;
beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([makeAdmin('alice'), makeAdmin('bob', { passphrase: PASSPHRASE }), makeAdmin('carol')]);
});

describe('encryptToAdmins', () => {
  it('writes one armored message that each admin decrypts with their own key', async () => {
    const armored = await encryptToAdmins(TOKEN, [alice, bob].map((a) => ({ handle: a.handle, armoredKey: a.publicKey })), NOW);
    expect(armored).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    expectNoSecret(TOKEN, [armored]);
    expect(await decryptWithKey(armored, alice.privateKey)).toBe(TOKEN);
    expect(await decryptWithKey(armored, bob.privateKey, PASSPHRASE)).toBe(TOKEN);
    const recipients = await messageRecipients(armored);
    const encryptionKeyIds = await Promise.all(
      [alice, bob].map(async (a) => (await (await openpgp.readKey({ armoredKey: a.publicKey })).getEncryptionKey()).getKeyID().toHex().toUpperCase()),
    );
    expect(recipients.sort()).toEqual(encryptionKeyIds.sort());
  });

  it('names every admin whose key cannot take the token, with the file and the fix', async () => {
    const expired = await makeAdmin('erin', { date: new Date('2025-01-01T00:00:00Z'), keyExpirationTime: 86_400 * 30 });
    const signOnly = await makeAdmin('frank', { signOnly: true });
    const e = await rejection(
      encryptToAdmins(
        TOKEN,
        [
          { handle: 'alice', armoredKey: alice.publicKey },
          { handle: 'dana', armoredKey: undefined },
          { handle: 'erin', armoredKey: expired.publicKey },
          { handle: 'frank', armoredKey: signOnly.publicKey },
          { handle: 'carol', armoredKey: await revoked(carol) },
          { handle: 'gus', armoredKey: 'not a key' },
          { handle: 'hal', armoredKey: carol.privateKey },
        ],
        NOW,
      ),
    );
    expect(e.exitCode).toBe(3);
    expect(e.message).toBe('6 admin keys cannot be used: keys/dana/pgp.asc, keys/erin/pgp.asc, keys/frank/pgp.asc, keys/carol/pgp.asc, keys/gus/pgp.asc, keys/hal/pgp.asc');
    expect(e.problems.map((p) => [p.file, p.message.replace(/[0-9A-F]{40}/, 'FPR')])).toEqual([
      ['keys/dana/pgp.asc', 'the admin has no OpenPGP key, so tokens cannot be encrypted to them'],
      ['keys/erin/pgp.asc', 'key FPR expired on 2025-01-31'],
      ['keys/frank/pgp.asc', expect.stringMatching(/^key FPR has no usable encryption subkey \(/)],
      ['keys/carol/pgp.asc', 'key FPR is revoked'],
      ['keys/gus/pgp.asc', expect.stringMatching(/^not an armored OpenPGP public key/)],
      ['keys/hal/pgp.asc', 'holds a PRIVATE key; only the public key belongs in the registry'],
    ]);
    expect(e.hint).toBe('give each admin a current key that can encrypt: `infra members edit dana --pgp NEW-KEY.asc` (export it with `gpg --export --armor EMAIL > NEW-KEY.asc`)');
    expectNoSecret(TOKEN, [errorText(e)]);
  });

  it('judges expiry at the time given, not the machine clock', async () => {
    const expiring = await makeAdmin('erin', { date: new Date('2026-01-01T00:00:00Z'), keyExpirationTime: 86_400 * 365 });
    const keys = [{ handle: 'erin', armoredKey: expiring.publicKey }];
    await expect(encryptToAdmins(TOKEN, keys, new Date('2026-06-01T00:00:00Z'))).resolves.toMatch(/BEGIN PGP MESSAGE/);
    const e = await rejection(encryptToAdmins(TOKEN, keys, new Date('2027-06-01T00:00:00Z')));
    expect(e.message).toMatch(/^keys\/erin\/pgp\.asc: key [0-9A-F]{40} expired on 2027-01-01$/);
    expect(e.hint).toMatch(/infra members edit erin --pgp/);
  });

  it('refuses to encrypt to nobody', async () => {
    expect((await rejection(encryptToAdmins(TOKEN, [], NOW))).message).toMatch(/no admins/);
  });
});

describe('decryptWithKey', () => {
  let armored: string;
  beforeAll(async () => {
    armored = await encryptToAdmins(TOKEN, [alice, bob].map((a) => ({ handle: a.handle, armoredKey: a.publicKey })), NOW);
  });

  it('a wrong passphrase is exit 3 and never echoed', async () => {
    const wrong = 'Wr0ng-Pa55-xq7Zt9kLm-n0t-1t';
    const e = await rejection(decryptWithKey(armored, bob.privateKey, wrong, { keyFile: '--key bob.asc' }));
    expect([e.exitCode, e.message]).toEqual([3, '--key bob.asc: wrong passphrase (the key could not be unlocked)']);
    expectNoSecret(wrong, [errorText(e)]);
    expectNoSecret(PASSPHRASE, [errorText(e)]);
  });

  it('a protected key without a passphrase says where to give it', async () => {
    const e = await rejection(decryptWithKey(armored, bob.privateKey));
    expect(e.message).toMatch(/protected by a passphrase/);
    expect(e.hint).toMatch(/INFRA_PGP_PASSPHRASE/);
  });

  it('a key the message was not encrypted to is named with its fingerprint', async () => {
    const e = await rejection(decryptWithKey(armored, carol.privateKey, undefined, { keyFile: '--key carol.asc', messageFile: 'keys/roobot/tokens/github.asc' }));
    const fpr = (await openpgp.readKey({ armoredKey: carol.publicKey })).getFingerprint().toUpperCase();
    expect(e.message).toMatch(new RegExp(`^--key carol\\.asc \\(${fpr}\\) is not one keys/roobot/tokens/github\\.asc was encrypted to \\(recipients: [0-9a-f]{16}, [0-9a-f]{16}\\)$`));
    expect(e.hint).toMatch(/reencrypt/);
  });

  it('a public key instead of a private one is refused plainly', async () => {
    const e = await rejection(decryptWithKey(armored, alice.publicKey, undefined, { keyFile: '--key alice.pub' }));
    expect(e.message).toBe('--key alice.pub: this is a public key; decrypting needs your private key');
  });

  it.each([
    ['armor cut short', (m: string) => m.slice(0, m.length / 2)],
    ['not armor at all', () => 'hello'],
    ['a flipped byte in the encrypted data', (m: string) => flipBodyByte(m)],
  ])('a damaged message (%s) is exit 3 naming the file', async (_what, damage) => {
    const e = await rejection(decryptWithKey(damage(armored), alice.privateKey, undefined, { messageFile: 'keys/roobot/tokens/github.asc' }));
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(/^keys\/roobot\/tokens\/github\.asc is damaged and cannot be decrypted \(/);
    expectNoSecret(TOKEN, [errorText(e)]);
  });
});

/** Changes one byte near the end of the encrypted payload and re-armors it, so only the decryption can notice. */
function flipBodyByte(armored: string): string {
  const body = armored.split('\n').filter((l) => l && !l.startsWith('-----') && !l.startsWith('=') && !l.includes(':'));
  const bytes = Buffer.from(body.join(''), 'base64');
  bytes[bytes.length - 20] ^= 0x01;
  const lines = bytes.toString('base64').match(/.{1,64}/g)!;
  return ['-----BEGIN PGP MESSAGE-----', '', ...lines, '-----END PGP MESSAGE-----', ''].join('\n');
}
