/**
 * parseAuthorizedKeys, the API the live audit and everything else reads authorized_keys through: each
 * line on its own, keys with their options as sshd matches them (lower-case names, unquoted and
 * unescaped values) and their canonical blob; every other non-blank, non-comment line skipped with why.
 * The verdicts are the real sshd's (test/real/authorized-keys-sshd.test.ts checks them against one).
 */
import { parseAuthorizedKeys } from '../../src/core/authorized-keys.js';
import { sshString } from '../helpers/keys.js';

const B64 = 'AAAAC3NzaC1lZDI1NTE5AAAAIPlCsqvRBr+srjv79hbGTcCIGVkPj2PEqDevM3LWOH/j';
const KEY = `ssh-ed25519 ${B64} alice laptop`;

/** The same RSA key written with a padded exponent (OpenSSH accepts it, and reads it as the minimal one). */
const n = Buffer.concat([Buffer.from([0xc5]), Buffer.alloc(255, 0x11)]);
n[n.length - 1] = 0x13; // odd, no small factor matters here: only the encoding is under test
const rsaBlob = (e: Buffer) => Buffer.concat([sshString('ssh-rsa'), sshString(e), sshString(Buffer.concat([Buffer.from([0]), n]))]).toString('base64');

describe('parseAuthorizedKeys', () => {
  it.each<[string, string, Array<{ line: number; options?: unknown[]; comment?: string }>, number[]]>([
    ['a plain key', KEY, [{ line: 1, options: [], comment: 'alice laptop' }], []],
    ['blank, blank-with-CR and comment lines are neither keys nor skipped', `\n  \n\r\n# x\n   #y\n${KEY}`, [{ line: 6 }], []],
    ['a stray BEGIN line hides nothing', `---- BEGIN SSH2 PUBLIC KEY ----\nrestrict,pty ${KEY}`, [{ line: 2, options: [{ name: 'restrict' }, { name: 'pty' }] }], [1]],
    ['a private key BEGIN line hides nothing', `-----BEGIN OPENSSH PRIVATE KEY-----\n${KEY}`, [{ line: 2 }], [1]],
    ['names lower-cased, values unquoted and unescaped', `NO-PTY,Command="echo \\"hi, there\\"",FROM="10.0.0.0/8" ${KEY}`, [{ line: 1, options: [{ name: 'no-pty' }, { name: 'command', value: 'echo "hi, there"' }, { name: 'from', value: '10.0.0.0/8' }] }], []],
    ['a trailing comma before the blank', `no-pty, ${KEY}`, [{ line: 1, options: [{ name: 'no-pty' }] }], []],
    ['an empty option between commas', `no-pty,,pty ${KEY}`, [{ line: 1, options: [{ name: 'no-pty' }, { name: 'pty' }] }], []],
    ['a blank inside a quoted value', `command="a b" ${KEY}`, [{ line: 1, options: [{ name: 'command', value: 'a b' }] }], []],
    ['an unknown option skips the line', `bogus ${KEY}`, [], [1]],
    ['an unterminated quote skips the line', `command="x ${KEY}`, [], [1]],
    ['a type in another case is not a key', `SSH-ED25519 ${B64}`, [], [1]],
    ['a byte-order mark makes the first line no key', `\uFEFF${KEY}\n${KEY}`, [{ line: 2 }], [1]],
    ['a NUL ends the line', `${KEY.split(' ').slice(0, 2).join(' ')}\0 junk\n\0${KEY}`, [{ line: 1, comment: '' }], []],
    ['CRLF ends: the comment loses its CR, the data its CR', `${KEY}\r\nssh-ed25519 ${B64}\r\n`, [{ line: 1, comment: 'alice laptop' }, { line: 2, comment: '' }], []],
    ['a CR inside the key data is passed over', `ssh-ed25519 ${B64.slice(0, 10)}\r${B64.slice(10)} c`, [{ line: 1, comment: 'c' }], []],
    ['cert-authority keeps the key, marked', `cert-authority,principals="a,b" ${KEY}`, [{ line: 1, options: [{ name: 'cert-authority' }, { name: 'principals', value: 'a,b' }] }], []],
    ['a lone type is not a key', 'ssh-ed25519', [], [1]],
  ])('%s', (_label, text, keys, skipped) => {
    const got = parseAuthorizedKeys(text);
    expect(got.keys).toHaveLength(keys.length);
    keys.forEach((k, i) => expect(got.keys[i]).toMatchObject({ type: 'ssh-ed25519', blob: B64, ...k }));
    expect(got.skipped.map((s) => s.line)).toEqual(skipped);
    for (const s of got.skipped) expect(s.reason).toMatch(/^[\x20-\x7e]+$/);
  });

  it('gives the canonical blob of a key written with padded numbers', () => {
    const canonical = rsaBlob(Buffer.from([1, 0, 1]));
    const padded = rsaBlob(Buffer.from([0, 0, 1, 0, 1]));
    const { keys } = parseAuthorizedKeys(`ssh-rsa ${padded} x`);
    expect(keys.map((k) => k.blob)).toEqual([canonical]);
  });

  it('never echoes a skipped line that may be a secret', () => {
    const { skipped } = parseAuthorizedKeys('PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nghp_16C7e42F292c6912E7710c838347Ae178B4a');
    expect(skipped.map((s) => s.line)).toEqual([1, 2]);
    expect(JSON.stringify(skipped)).not.toMatch(/yAnz5TF|16C7e42F/);
  });

  it('a 10 MB line of junk options is one skipped line', () => {
    const { keys, skipped } = parseAuthorizedKeys(`${'a,'.repeat(5 * 1024 * 1024)} ${KEY}`);
    expect(keys).toEqual([]);
    expect(skipped).toHaveLength(1);
  });
});
