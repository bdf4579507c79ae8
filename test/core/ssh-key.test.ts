/**
 * The SSH key core with literals. Expected bits, fingerprints and `ssh-keygen -lf` lines below were
 * recorded from OpenSSH 9.2's ssh-keygen for these exact keys (test/real/ssh-keygen.test.ts re-checks
 * the parser against a live ssh-keygen on fresh keys).
 */
import { generateKeyPairSync } from 'node:crypto';
import { ExitCode, InfraError } from '../../src/lib/errors.js';
import { DEFAULT_POLICY, type SshPolicy } from '../../src/core/types.js';
import {
  KeyParseError,
  checkAuthorizedKeys,
  excerpt,
  fingerprintOf,
  looksLikePrivateKey,
  parseAuthorizedKeyLine,
  parsePublicKey,
  policyProblems,
  safeComment,
  splitKeyText,
  sshKeygenLine,
} from '../../src/core/ssh-key.js';
import { parseError } from '../helpers/thrown.js';
import { sshString } from '../helpers/keys.js';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlCsqvRBr+srjv79hbGTcCIGVkPj2PEqDevM3LWOH/j alice laptop';
const ECDSA256 =
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDV3birJvLUKe1S22zclqRBkWitsJYhn602hHX4uO6j8MbN70LlWvT0HmF3+27sc2zTiBj0548OLcAM7OF8kY0g= bob@work';
const ECDSA384 =
  'ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBObBxqCZsaOBXvKzU86B9XhpIG5B4Wmq1NcrW01L/uRtupV/CXD25H/3vhPDWlQUaVgrJlc2mGE2QQPjdjujlPa5UZfZUw3HyAEezqwhYio+Hm5RnTVVsFPoMW+oNq6QRg==';
const RSA2048 =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0qE/cani8f/2fA6EzHUAi4yDpwWhqx9SU5AQh9JHeoyGxSXKhVOLLgBZiQX0QdqB0Rp2FmOvXfxfEoy7AviNu0oR39POM4g8SCy6bABycJx5kSCqe/sFz/GYyD/xffHxkuJIF2NKosAW8nbycJczkJlOsxrHFADg+xp4pSMqkf4z6mLQ2UZrEMwlvz/puaP7OPmZA9gSuHQWyTKFXBJTYEtOHSw5Gpi5gRcRIJEPSBI/UHxULl4rNKgHyYbQ8wYdahBDDc3Z/zurPjGlbFg/T1GoIieG++RX1+Ot7/cZkCfCa9S+XOozH+hyUDiyPDBKy/VUAgtMkhUrK67i/L4i9 old rsa';
const RSA3072 =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC5XuhrHAX7/vUrfZHc5QoLtIxNqrj/EYRm6Ha0ARHPXYVE62SD+JWOgstmZgDq13jZ3KgocRtVc9ZtJZNXURxPtIKJdjQ5oISS90LAlRHlaYTylD6u1BQ0pzRXfHZpRMOvJwNm/mPTgEwxmrpg+k+5RpVKVq44QDr9NWFfHWvO4pz0y9wE1sttYOc/+nYXmZTKN7ScPa65GbftDYfSvAXkFADMjusV8gT4O56LmtR/wU3cEU5K0Y4Oa+okTukv88G4vHEXcdqpcRPteIuAJZWZbk4lQ6a6g+AMtEapOiWr8KG7cpbfrO+OEByqoW1Pxw7YGoC32KzpI6HW5TwhD7nLJNWBQTegSBeK2olGG5ErhAaqVJLyy0BQOLMNl5TwBy0xM3zgS94cJoH4vXzNlJjGh0C3+PrQS0ph0ePYTnP7CElw31Zp7VcLIhHEBADpV0ccN/c5uvxInng1QvRP9znVqggD5m8jF9kxF48addQNYfim8PVkYid3dPu+BUUdOKk= carol desktop';
const DSA =
  'ssh-dss AAAAB3NzaC1kc3MAAACBANzto7BdHqoehCJ9W6zN9TAAuMC7gzA2ATVCcVioUGL18yz4rmfMkWI+z6ROb5pHC5hmSBo2yPtsbQ+BcqGbZ37RX0cnR4AUQbsw9UTvkHTYA9cGvtr5rhJxShFznXXYftB5q+T1+JgQNQ8KGcSThTgbqi8+cusBsb6fFA+5WyxRAAAAFQCnabSPJhMao6MHCxrmnEEdWM7xQQAAAIB8OT5jUuDXz1UxGTzKHSGo3jpYVjVE56PkmqDqHx/owczcdhK54Bzcx26rV72KB7OFYMq7l8xD8jT/4Bcyp1RwaQx6OUQqDppci3sdQZsWx3feNl4aARYdHLEa7Saz6Tu912HX3Z8l1V/8+u6dXjs73SLWJom2Ul2pfi/E4veTygAAAIBhlXuLzBEODWj43oIe9dpPKbr6mLs7h3H/GYDZ7le54hBdnMUQYICg8t7EUT82s9mwaxUUx4d8zYXk3aOQ2OSAm5mzwTanTRqe9qSK16b/vBXbmkLtXjL3fa/mpzTpV+iyRHlg2JV96954l/myAUWeZ11yAll8pZhbu6E3j7E0uw== ancient';
const SK_ED25519 = 'sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gAAAABHNzaDo= yubikey 5';
const SK_ECDSA =
  'sk-ecdsa-sha2-nistp256@openssh.com AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBDV3birJvLUKe1S22zclqRBkWitsJYhn602hHX4uO6j8MbN70LlWvT0HmF3+27sc2zTiBj0548OLcAM7OF8kY0gAAAAEc3NoOg== solo';
const CERT =
  'ecdsa-sha2-nistp256-cert-v01@openssh.com AAAAKGVjZHNhLXNoYTItbmlzdHAyNTYtY2VydC12MDFAb3BlbnNzaC5jb20AAAAg3PB7OAo67fuKMexarIimCcVh14uvct6GyQzgA6+/OEsAAAAIbmlzdHAyNTYAAABBBDV3birJvLUKe1S22zclqRBkWitsJYhn602hHX4uO6j8MbN70LlWvT0HmF3+27sc2zTiBj0548OLcAM7OF8kY0gAAAAAAAAAAAAAAAEAAAAEY2VydAAAAAkAAAAFYWxpY2UAAAAAAAAAAP//////////AAAAAAAAAIIAAAAVcGVybWl0LVgxMS1mb3J3YXJkaW5nAAAAAAAAABdwZXJtaXQtYWdlbnQtZm9yd2FyZGluZwAAAAAAAAAWcGVybWl0LXBvcnQtZm9yd2FyZGluZwAAAAAAAAAKcGVybWl0LXB0eQAAAAAAAAAOcGVybWl0LXVzZXItcmMAAAAAAAAAAAAAADMAAAALc3NoLWVkMjU1MTkAAAAg+UKyq9EGv6yuO/v2FsZNwIgZWQ+PY8SoN68zctY4f+MAAABTAAAAC3NzaC1lZDI1NTE5AAAAQNJpY5gbiLp5G5lTjgbvwc0sh3qykUzVISfIOwkfFlOFvNLRBzjbNb2r9xqHKV2CUWj5pSpVbipntfHbStTOdA8= bob@work';

const data = (line: string) => line.split(' ')[1];
const blobOf = (line: string) => Buffer.from(data(line), 'base64');

/** Everything a user could see of an error: message and hint. */
const shown = (e: KeyParseError) => `${e.message}\n${e.hint ?? ''}`;
const PRINTABLE_ASCII = /^[\x20-\x7e\n]*$/;

describe('parseAuthorizedKeyLine: the keys ssh-keygen made', () => {
  it.each([
    ['ed25519', ED25519, 'ssh-ed25519', 'ed25519', '256 SHA256:z+ZisrkZLkFk6GRBpC5GBfoE+FK4oGrauMsP4w4SuJg alice laptop (ED25519)'],
    ['ecdsa 256', ECDSA256, 'ecdsa-sha2-nistp256', 'ecdsa', '256 SHA256:UAOUX0iH3yPh260Xn8m0bBHuynQM84fykkHvaCKweOE bob@work (ECDSA)'],
    ['ecdsa 384, no comment', ECDSA384, 'ecdsa-sha2-nistp384', 'ecdsa', '384 SHA256:o5QMrmHEojMUjK34o4bMRqs+CzRSKCsZ9T3N90GMg4s no comment (ECDSA)'],
    ['rsa 2048', RSA2048, 'ssh-rsa', 'rsa', '2048 SHA256:B6aozQM/udcuDYIAjUJcr8yMqCmXd0jUIG2m+hMJuPc old rsa (RSA)'],
    ['rsa 3072', RSA3072, 'ssh-rsa', 'rsa', '3072 SHA256:Mgidb4D1DtEO+HPinXX/AVHpGEwstU7IvxDXG0JReBk carol desktop (RSA)'],
    ['dsa', DSA, 'ssh-dss', 'dsa', '1024 SHA256:qKSVOLLEuitPvlJ0rIdYvrZ0bkBifQv6L7c9F6QyP8g ancient (DSA)'],
    ['sk ed25519', SK_ED25519, 'sk-ssh-ed25519@openssh.com', 'ed25519-sk', '256 SHA256:nX0hpi5mKbTIJ10yBq5/sLQhiI1Y0RBAqN0drDdgJWs yubikey 5 (ED25519-SK)'],
    ['sk ecdsa', SK_ECDSA, 'sk-ecdsa-sha2-nistp256@openssh.com', 'ecdsa-sk', '256 SHA256:pyyPBDpsKW74xeywvA1/470aCpuGdKAAr0Z7pftQF5I solo (ECDSA-SK)'],
    ['certificate', CERT, 'ecdsa-sha2-nistp256-cert-v01@openssh.com', 'certificate', '256 SHA256:UAOUX0iH3yPh260Xn8m0bBHuynQM84fykkHvaCKweOE bob@work (ECDSA-CERT)'],
  ])('%s', (_label, line, type, family, keygenLine) => {
    const k = parseAuthorizedKeyLine(line);
    const [bits, fingerprint] = keygenLine.split(' ');
    expect({ type: k.type, family: k.family, bits: k.bits, fingerprint: k.fingerprint }).toEqual({ type, family, bits: Number(bits), fingerprint });
    expect(k.base64).toBe(data(line));
    expect(k.blob.equals(blobOf(line))).toBe(true);
    expect(k.options).toEqual([]);
    expect(k.certAuthority).toBe(false);
    expect(sshKeygenLine(k)).toBe(keygenLine);
  });

  it('fingerprints a blob as SHA256: + unpadded base64 (the ssh-keygen value)', () => {
    expect(fingerprintOf(blobOf(ED25519))).toBe('SHA256:z+ZisrkZLkFk6GRBpC5GBfoE+FK4oGrauMsP4w4SuJg');
  });

  it('gives the certificate the family of the key it certifies', () => {
    expect(parseAuthorizedKeyLine(CERT).certifiedFamily).toBe('ecdsa');
  });
});

describe('parseAuthorizedKeyLine: line syntax', () => {
  const fp = 'SHA256:z+ZisrkZLkFk6GRBpC5GBfoE+FK4oGrauMsP4w4SuJg';
  const [t, b64] = ED25519.split(' ');
  it.each([
    ['comment with spaces', `${t} ${b64} alice  at   home`, [], 'alice  at   home'],
    ['CRLF', `${t} ${b64} alice\r\n`, [], 'alice'],
    ['CR only at the end', `${t} ${b64} alice\r`, [], 'alice'],
    ['leading and trailing blanks', ` \t ${t}\t${b64}   alice laptop \t `, [], 'alice laptop'],
    ['no comment', `${t} ${b64}`, [], ''],
    ['a trailing comma before the blank (sshd takes it: the blank, not the end of the string, follows the comma)', `no-pty, ${t} ${b64} c`, ['no-pty'], 'c'],
    ['an empty option between two commas (sshd passes over it)', `no-pty,,pty ${t} ${b64} c`, ['no-pty', 'pty'], 'c'],
    ['quoted commas', `from="10.0.0.0/8,192.168.0.0/16",no-pty ${t} ${b64} c`, ['from="10.0.0.0/8,192.168.0.0/16"', 'no-pty'], 'c'],
    ['escaped quotes and spaces in a value', `command="echo \\"hi, there\\" x",restrict ${t} ${b64} c`, ['command="echo \\"hi, there\\" x"', 'restrict'], 'c'],
    ['option names in any case', `No-Pty,FROM="a" ${t} ${b64} c`, ['No-Pty', 'FROM="a"'], 'c'],
    ['several blanks after the options', `no-pty  \t ${t} ${b64} c`, ['no-pty'], 'c'],
    ['every option sshd knows', `agent-forwarding,no-agent-forwarding,port-forwarding,no-port-forwarding,pty,no-pty,user-rc,no-user-rc,x11-forwarding,no-x11-forwarding,no-touch-required,verify-required,restrict,environment="A=b",expiry-time="20300101",permitopen="h:1",permitlisten="2",tunnel="0",principals="a" ${t} ${b64}`, 'count:19', ''],
  ])('%s', (_label, line, options, comment) => {
    const k = parseAuthorizedKeyLine(line);
    expect(k.fingerprint).toBe(fp);
    if (typeof options === 'string') expect(k.options).toHaveLength(Number(options.split(':')[1]));
    else expect(k.options).toEqual(options);
    expect(k.comment).toBe(comment);
  });

  it('recognises cert-authority lines', () => {
    const k = parseAuthorizedKeyLine(`cert-authority,principals="alice,bob" ${ED25519}`);
    expect(k.certAuthority).toBe(true);
    expect(k.options).toEqual(['cert-authority', 'principals="alice,bob"']);
    expect(parseAuthorizedKeyLine(`from="cert-authority" ${ED25519}`).certAuthority).toBe(false);
  });

  it.each([
    ['unknown option', `bogus ${ED25519}`, /unsupported option "bogus"/],
    ['unterminated quote', `from="10.0.0.0/8 ${ED25519}`, /unterminated/],
    ['value option without value', `command ${ED25519}`, /needs a value/],
    ['unquoted value', `from=10.0.0.1 ${ED25519}`, /double quotes/],
    ['flag with a value', `no-pty="yes" ${ED25519}`, /takes no value/],
    ['byte order mark (sshd reads it as part of the type)', `\uFEFF${ED25519}`, /byte-order mark/],
    ['key type in upper case (sshd matches type names exactly)', `SSH-ED25519 ${ED25519.split(' ')[1]}`, /unsupported key type "SSH-ED25519"/],
    ['garbage after a quoted value', `from="a"x ${ED25519}`, /separated by commas/],
    ['unsupported key type', 'ssh-foo AAAAB3NzaC1yc2EAAAADAQAB x', /unsupported key type "ssh-foo"/],
    ['unsupported key type after options', 'no-pty ssh-foo AAAAB3NzaC1yc2EAAAADAQAB x', /unsupported key type "ssh-foo"/],
    ['type only', 'ssh-ed25519', /no key data/],
    ['not a key at all', 'hello world', /^not an SSH public key: starts with "hello", 11 characters \(the rest is not shown/],
    ['empty', '  \r\n', /empty/],
    ['two lines', `${ED25519}\n${ECDSA256}`, /one line/],
    ['NUL', `${ED25519}\0evil`, /NUL/],
    ['RFC 4716 public key', '---- BEGIN SSH2 PUBLIC KEY ----', /RFC 4716/],
  ])('refuses: %s', (_label, line, message) => {
    const e = parseError(() => parseAuthorizedKeyLine(line));
    expect(e).toBeInstanceOf(InfraError);
    expect(e.exitCode).toBe(ExitCode.invalid);
    expect(e.message).toMatch(message);
    expect(e.hint).toBeTruthy();
  });
});

describe('damaged key data', () => {
  const edBlob = blobOf(ED25519);
  const ecBlob = blobOf(ECDSA256);
  const offCurve = Buffer.from(ecBlob);
  offCurve[offCurve.length - 3] ^= 0x04;
  const negativeRsa = Buffer.concat([sshString('ssh-rsa'), sshString(Buffer.from([1, 0, 1])), sshString(Buffer.from([0x80, 1, 2, 3]))]);
  const hugeRsa = Buffer.concat([sshString('ssh-rsa'), sshString(Buffer.from([1, 0, 1])), sshString(Buffer.concat([Buffer.from([0x7f]), Buffer.alloc(2048, 0xff)]))]);
  const edShortKey = Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.alloc(31, 7))]);
  const curveInsideMismatch = Buffer.concat([sshString('ecdsa-sha2-nistp256'), sshString('nistp384'), ecBlob.subarray(ecBlob.length - 69)]);
  const compressedPoint = Buffer.concat([sshString('ecdsa-sha2-nistp256'), sshString('nistp256'), sshString(Buffer.concat([Buffer.from([2]), ecBlob.subarray(ecBlob.length - 64, ecBlob.length - 32)]))]);
  const certOfUnknown = Buffer.concat([sshString('ssh-foo-cert-v01@openssh.com'), sshString('x')]);
  const cases: Array<[string, string, RegExp]> = [
    ['truncated base64', `ssh-ed25519 ${data(ED25519).slice(0, 50)} alice`, /not valid base64: it is truncated/],
    ['non-base64 characters', `ssh-ed25519 ${data(ED25519).slice(0, 40)}!!!! alice`, /not valid base64/],
    ['truncated blob', `ssh-ed25519 ${edBlob.subarray(0, 30).toString('base64')} alice`, /truncated: the ed25519 public key/],
    ['blob cut inside the type', `ssh-ed25519 ${edBlob.subarray(0, 6).toString('base64')} alice`, /truncated: the key type/],
    ['trailing garbage in the blob', `ssh-ed25519 ${Buffer.concat([edBlob, Buffer.from('junk')]).toString('base64')} alice`, /4 unexpected bytes after the key/],
    ['line type differs from the blob type', `ssh-rsa ${data(ED25519)} alice`, /type mismatch: the line says "ssh-rsa" but the key data is "ssh-ed25519"/],
    ['nistp256 line with a nistp384 blob', `ecdsa-sha2-nistp256 ${data(ECDSA384)}`, /type mismatch/],
    ['curve inside the blob does not match', `ecdsa-sha2-nistp256 ${curveInsideMismatch.toString('base64')}`, /curve "nistp384" does not match/],
    ['point not on the curve', `ecdsa-sha2-nistp256 ${offCurve.toString('base64')}`, /not on curve nistp256/],
    ['compressed point', `ecdsa-sha2-nistp256 ${compressedPoint.toString('base64')}`, /malformed/],
    ['short ed25519 key', `ssh-ed25519 ${edShortKey.toString('base64')}`, /32 bytes/],
    ['negative RSA modulus', `ssh-rsa ${negativeRsa.toString('base64')}`, /negative/],
    ['RSA modulus beyond 16384 bits', `ssh-rsa ${hugeRsa.toString('base64')}`, /more than OpenSSH accepts/],
    ['unknown type inside the blob', `ssh-ed25519 ${certOfUnknown.toString('base64')}`, /unsupported key type "ssh-foo-cert-v01@openssh.com" inside/],
  ];
  it.each(cases)('%s', (_label, line, message) => {
    const e = parseError(() => parseAuthorizedKeyLine(line));
    expect(e.message).toMatch(message);
    expect(e.exitCode).toBe(ExitCode.invalid);
  });

  it('never echoes the key data or the raw comment of a refused line', () => {
    const hostileComment = 'x\x1b[31mRED\x1b]0;pwned\x07 "quoted" \u202e evil';
    for (const [, line] of cases) {
      const e = parseError(() => parseAuthorizedKeyLine(`${line} ${hostileComment}`));
      expect(shown(e)).toMatch(PRINTABLE_ASCII);
      expect(shown(e)).not.toContain(data(line).slice(0, 16));
      expect(shown(e)).not.toContain('RED');
    }
  });
});

describe('hostile input in messages', () => {
  it.each([
    ['terminal escape as type', '\x1b[2J\x1b[31mssh-evil AAAA x'],
    ['newline-free junk with quotes', '"\'`\\ \x00 junk'.replace('\x00', '')],
    ['escape in an option name', `\x1b[31m=1 ${ED25519}`],
    ['long line', 'z'.repeat(5000)],
  ])('%s: short, printable, no quotes from the input', (_label, line) => {
    const e = parseError(() => parseAuthorizedKeyLine(line));
    expect(shown(e)).toMatch(PRINTABLE_ASCII);
    expect(e.message.length).toBeLessThan(200);
    expect(e.message).not.toContain('\x1b');
  });

  it('excerpt keeps only a short printable-ASCII head', () => {
    expect(excerpt('abc')).toBe('"abc"');
    expect(excerpt('a\x1b[31m"\'`\\\u202eb\n')).toBe('"a?[31m?????b?"');
    expect(excerpt('x'.repeat(100), 5)).toBe('"xxxxx..."');
  });
});

describe('private keys pasted by mistake', () => {
  const wrap = (b64: string) => b64.match(/.{1,70}/g)!.join('\n');
  // Built here, not stored: an OpenSSH-format private key body ("openssh-key-v1\0" + key material).
  const secretBytes = Buffer.from(Array.from({ length: 400 }, (_, i) => (i * 37 + 11) & 0xff));
  const opensshBody = wrap(Buffer.concat([Buffer.from('openssh-key-v1\0'), secretBytes]).toString('base64'));
  const openssh = `-----BEGIN OPENSSH PRIVATE KEY-----\n${opensshBody}\n-----END OPENSSH PRIVATE KEY-----\n`;
  const rsaPem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const pkcs8 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const encrypted = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString();
  const putty = `PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: alice\nPublic-Lines: 2\n${wrap(blobOf(ED25519).toString('base64'))}\nPrivate-Lines: 1\n${secretBytes.subarray(0, 48).toString('base64')}\nPrivate-MAC: ${secretBytes.subarray(100, 132).toString('hex')}\n`;
  const secretChunks = (text: string) =>
    text
      .split('\n')
      .filter((l) => !l.startsWith('-----') && !/^[A-Za-z-]+:/.test(l) && l.length >= 16)
      .flatMap((l) => Array.from({ length: Math.floor(l.length / 12) }, (_, i) => l.slice(i * 12, i * 12 + 12)));

  // [label, text pasted, the multi-line key whose body lines are the secret]
  const cases: Array<[string, string, string]> = [
    ['OpenSSH', openssh, openssh],
    ['PKCS#1 RSA', rsaPem, rsaPem],
    ['PKCS#8', pkcs8, pkcs8],
    ['encrypted PKCS#8', encrypted, encrypted],
    ['PuTTY', putty, putty],
    ['OpenSSH pasted onto one line', `${openssh.trimEnd().replace(/\n/g, ' ')}\n`, openssh],
    ['OpenSSH body without its header', `${opensshBody}\n`, openssh],
  ];

  it.each(cases)('%s: looksLikePrivateKey', (_label, text) => {
    expect(looksLikePrivateKey(text)).toBe(true);
  });

  it.each(cases)('%s: keys check reports it without echoing it', (_label, text, secret) => {
    const report = checkAuthorizedKeys(`${ED25519}\n${text}${ECDSA256}\n`, DEFAULT_POLICY.ssh);
    expect(report.keys.map((k) => k.comment)).toEqual(['alice laptop', 'bob@work']);
    expect(report.errors.length).toBeGreaterThanOrEqual(1);
    expect(report.errors[0].problem).toMatch(/private key|not shown/);
    const json = JSON.stringify(report);
    const chunks = secretChunks(secret);
    expect(chunks.length).toBeGreaterThan(0);
    for (const chunk of chunks) expect(json).not.toContain(chunk);
  });

  it.each(cases)('%s: keys add (splitKeyText) refuses it without echoing it', (_label, text, secret) => {
    const items = splitKeyText(text);
    expect(items.every((i) => i.key === undefined)).toBe(true);
    expect(items[0].problem).toMatch(/private key|not shown/);
    const json = JSON.stringify(items);
    for (const chunk of secretChunks(secret)) expect(json).not.toContain(chunk);
  });

  it('a private key without its end line hides nothing: sshd reads every line on its own, so does keys check', () => {
    const headless = openssh.replace(/-----END[^\n]*\n/, '');
    const lastBodyLine = headless.trimEnd().split('\n').length;
    const report = checkAuthorizedKeys(`${headless}restrict,pty ${ECDSA256}\n${ED25519}\n`, DEFAULT_POLICY.ssh);
    expect(report.errors.map((e) => e.line)).toEqual(Array.from({ length: lastBodyLine }, (_, i) => i + 1));
    for (const e of report.errors) expect(e.problem).toMatch(/private key|not shown/);
    expect(report.keys.map((k) => [k.line, k.comment, k.options])).toEqual([
      [lastBodyLine + 1, 'bob@work', ['restrict', 'pty']],
      [lastBodyLine + 2, 'alice laptop', []],
    ]);
  });

  it('parsePublicKey refuses a private key and does not echo it', () => {
    const e = parseError(() => parsePublicKey(openssh));
    expect(e.message).toMatch(/private key/);
    for (const chunk of secretChunks(openssh)) expect(shown(e)).not.toContain(chunk);
  });

  it('does not take public keys for private ones', () => {
    for (const line of [ED25519, RSA3072, CERT, 'ssh-ed25519 AAAA my PRIVATE KEY backup']) expect(looksLikePrivateKey(line)).toBe(false);
  });
});

describe('parsePublicKey: member keys', () => {
  it('accepts `type base64 [comment]` and drops line-only fields', () => {
    const k = parsePublicKey(`${ED25519}\n`);
    expect(k).toMatchObject({ type: 'ssh-ed25519', family: 'ed25519', bits: 256, comment: 'alice laptop' });
    expect(k).not.toHaveProperty('options');
  });
  it.each([
    ['options', `from="10.0.0.1" ${ED25519}`, /options are not allowed/],
    ['certificate', CERT, /certificate .* is not a member key/],
  ])('refuses %s', (_label, text, message) => {
    expect(parseError(() => parsePublicKey(text)).message).toMatch(message);
  });
  it('parses DSA (policy refuses it, not the parser)', () => {
    expect(parsePublicKey(DSA).family).toBe('dsa');
  });
});

describe('policyProblems', () => {
  const policy = DEFAULT_POLICY.ssh; // min_rsa_bits 3072
  const onlyEd: SshPolicy = { ...policy, allowed_types: ['ed25519'] };
  it.each<[string, string, SshPolicy, RegExp[]]>([
    ['ed25519 allowed', ED25519, policy, []],
    ['sk ed25519 allowed', SK_ED25519, policy, []],
    ['sk ecdsa allowed', SK_ECDSA, policy, []],
    ['ecdsa allowed', ECDSA384, policy, []],
    ['rsa 3072 at the minimum', RSA3072, policy, []],
    ['rsa 2048 below min 3072', RSA2048, policy, [/RSA key of 2048 bits is below the policy minimum of 3072/]],
    ['rsa 2048 with min 2048', RSA2048, { ...policy, min_rsa_bits: 2048 }, []],
    ['dsa never', DSA, policy, [/DSA/]],
    ['dsa never, even if listed', DSA, { ...policy, allowed_types: [...policy.allowed_types, 'dsa'] }, [/never allowed/]],
    ['ecdsa not in allowed_types', ECDSA256, onlyEd, [/ecdsa .* not allowed by policy \(allowed: ed25519\)/]],
    ['rsa: type and size', RSA2048, onlyEd, [/not allowed/, /below the policy minimum/]],
    ['certificate is not a member key', CERT, policy, [/certificate/]],
  ])('%s', (_label, line, p, expected) => {
    const problems = policyProblems(parseAuthorizedKeyLine(line), p);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((re, i) => expect(problems[i]).toMatch(re));
  });
});

describe('sshKeygenLine', () => {
  it.each([
    ['empty comment', '', 'no comment'],
    ['spaces kept', 'a  b', 'a  b'],
    ['terminal escape as octal, like ssh-keygen', 'x\x1b[31my', 'x\\033[31my'],
    ['C1 control as octal bytes', 'a\u009bb', 'a\\302\\233b'],
    ['printable UTF-8 kept', 'café ☕', 'café ☕'],
    ['NUL ends the comment', 'a\0b', 'a'],
  ])('%s', (_label, comment, shownComment) => {
    const k = { ...parsePublicKey(ED25519), comment };
    expect(sshKeygenLine(k)).toBe(`256 SHA256:z+ZisrkZLkFk6GRBpC5GBfoE+FK4oGrauMsP4w4SuJg ${shownComment} (ED25519)`);
  });
});

describe('safeComment', () => {
  it.each([
    ['alice laptop', 'alice laptop'],
    ['a\nssh-rsa AAAA injected', 'a ssh-rsa AAAA injected'],
    ['x\x1b[31mred\x1b[0m', 'x [31mred [0m'],
    ['"quoted", \'single\', `tick` \\back', 'quoted , single , tick back'],
    ['bidi\u202eexe.txt zero\u200bwidth', 'bidi exe.txt zero width'],
    ['  spaced\t\tout  ', 'spaced out'],
    ['y'.repeat(300), 'y'.repeat(128)],
    ['café', 'café'],
  ])('%j', (input, expected) => {
    const out = safeComment(input);
    expect(out).toBe(expected);
    expect(out).not.toMatch(/[\n\r"'`\\\x00-\x1f]/);
  });
});

describe('checkAuthorizedKeys', () => {
  it('reports the documented JSON shape with 1-based lines, skipping blank and # lines', () => {
    const text = [
      '# admins',
      '',
      `from="10.0.0.0/8" ${ED25519}`,
      '   ',
      RSA2048,
      '   # indented comment',
      'this is not a key',
      DSA,
      CERT,
      `cert-authority ${SK_ED25519}`,
    ].join('\r\n');
    const report = checkAuthorizedKeys(text, DEFAULT_POLICY.ssh);
    expect(report.keys[0]).toEqual({
      line: 3,
      type: 'ssh-ed25519',
      bits: 256,
      fingerprint: 'SHA256:z+ZisrkZLkFk6GRBpC5GBfoE+FK4oGrauMsP4w4SuJg',
      comment: 'alice laptop',
      options: ['from="10.0.0.0/8"'],
      ok: true,
      problems: [],
    });
    expect(report.keys.map((k) => [k.line, k.type, k.bits, k.ok])).toEqual([
      [3, 'ssh-ed25519', 256, true],
      [5, 'ssh-rsa', 2048, false],
      [8, 'ssh-dss', 1024, false],
      [10, 'sk-ssh-ed25519@openssh.com', 256, true],
    ]);
    expect(report.keys[1].problems).toEqual(['RSA key of 2048 bits is below the policy minimum of 3072 bits']);
    // sshd reads a certificate line but never matches it (auth_check_authkey_line): it grants nothing
    expect(report.errors).toEqual([
      { line: 7, problem: 'not an SSH public key: starts with "this", 17 characters (the rest is not shown: it may be secret)' },
      { line: 9, problem: expect.stringMatching(/^a certificate \(ecdsa-sha2-nistp256-cert-v01@openssh.com\): sshd never matches/) },
    ]);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it.each([
    ['a WireGuard private key line', 'PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=', 'yAnz5TF'],
    ['a GitHub token', 'export GITHUB_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a', 'ghp_16C7'],
    ['a bare token', 'ghp_16C7e42F292c6912E7710c838347Ae178B4a', 'ghp_16C7'],
    ['a GitLab token', 'glpat-xYzzyPlughAbcdEfghIjkl', 'xYzzy'],
    ['a password after a word', 'password hunter2-correct-horse', 'hunter2'],
  ])('never echoes the rest of a non-key line: %s', (_label, line, secret) => {
    const report = checkAuthorizedKeys(`${line}\n`, DEFAULT_POLICY.ssh);
    expect(report.errors).toHaveLength(1);
    expect(JSON.stringify(report)).not.toContain(secret);
  });

  it('does not echo bare base64 lines (they may be private key material)', () => {
    const report = checkAuthorizedKeys(`${'QUJDRE'.repeat(20)}\n`, DEFAULT_POLICY.ssh);
    expect(report.errors).toEqual([{ line: 1, problem: expect.stringMatching(/bare base64 \(not shown/) }]);
  });

  it('reads each line of an RFC 4716 block on its own, as sshd does; keys add folds it into one error with the conversion command', () => {
    const text = `---- BEGIN SSH2 PUBLIC KEY ----\nComment: "alice"\n${data(ED25519)}\n---- END SSH2 PUBLIC KEY ----\n${ED25519}\n`;
    const report = checkAuthorizedKeys(text, DEFAULT_POLICY.ssh);
    expect(report.errors.map((e) => e.line)).toEqual([1, 2, 3, 4]);
    expect(report.errors[0].problem).toMatch(/RFC 4716/);
    expect(report.keys.map((k) => k.line)).toEqual([5]);
    const stray = checkAuthorizedKeys(`---- BEGIN SSH2 PUBLIC KEY ----\nrestrict,pty ${ED25519}\n`, DEFAULT_POLICY.ssh);
    expect(stray.keys.map((k) => [k.line, k.options])).toEqual([[2, ['restrict', 'pty']]]);
    expect(splitKeyText(text)[0].hint).toMatch(/ssh-keygen -i -f/);
  });

  it('caps the number of listed errors and says how many more there were', () => {
    const report = checkAuthorizedKeys('junk\n'.repeat(50), DEFAULT_POLICY.ssh, { maxErrors: 10 });
    expect(report.errors).toHaveLength(11);
    expect(report.errors[10]).toEqual({ line: 11, problem: '40 more lines from here on are not keys (not listed)' });
  });
});

describe('splitKeyText (keys add input)', () => {
  it('parses each key line of a pasted text and reports the others with their line', () => {
    const items = splitKeyText(`# my keys\n${ED25519}\r\n\n${SK_ECDSA}\nfrom="x" ${ECDSA256}\n${CERT}\nnonsense\n`);
    expect(items.map((i) => [i.line, i.key?.type ?? i.problem])).toEqual([
      [2, 'ssh-ed25519'],
      [4, 'sk-ecdsa-sha2-nistp256@openssh.com'],
      [5, expect.stringMatching(/options are not allowed/)],
      [6, expect.stringMatching(/certificate .* is not a member key/)],
      [7, expect.stringMatching(/not an SSH public key/)],
    ]);
    expect(items[0].key?.comment).toBe('alice laptop');
  });

  it('a comment with a newline becomes two lines, the second refused', () => {
    const items = splitKeyText(`${ED25519} first\nssh-rsa AAAA injected`);
    expect(items[0].key?.comment).toBe('alice laptop first');
    expect(items[1].problem).toMatch(/truncated/);
  });
});

// 1 MB per shape: 16 times the longest key data the parser reads (64 KiB) and far past the 1,001-error cap, so
// every bound is crossed; a pass that went quadratic would still take minutes at this size. The 10 MB shapes'
// speed is bench/ssh-key.bench.js's (at 10 MB this file cost 14 s of CPU per run).
describe('hostile volume: 1 MB of garbage', () => {
  const MB = 1024 * 1024;
  let seed = 12345;
  const nextByte = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed >> 16;
  };
  const randomText = (size: number) => String.fromCharCode(...Array.from({ length: 64 * 1024 }, () => nextByte() & 0xff)).repeat(size / (64 * 1024));
  const shapes: Array<[string, () => string]> = [
    ['random bytes', () => randomText(MB)],
    ['one 1 MB line of letters', () => 'a'.repeat(MB)],
    ['escaped quotes and backslashes', () => '\\"'.repeat(MB / 2)],
    ['unterminated quoted option', () => `from="${'x,'.repeat(MB / 2)}`],
    ['1 MB of key data', () => `ssh-ed25519 ${'A'.repeat(MB)} c`],
    ['1 MB of options before a key', () => `${'no-pty,'.repeat(Math.floor(MB / 7))}no-pty ${ED25519}`],
    ['half a million short lines', () => 'x\n'.repeat(MB / 2)],
    ['a private key header with no end', () => `-----BEGIN OPENSSH PRIVATE KEY-----\n${'QUJD\n'.repeat(Math.floor(MB / 5))}`],
    ['1 MB comment', () => `${ED25519} ${'c'.repeat(MB)}`],
    ['a 1 MB run of blanks inside a line', () => `x${' \t'.repeat(MB / 2)}y`],
    ['a key line repeated with a truncated blob', () => 'ssh-ed25519 AAAA\n'.repeat(Math.floor(MB / 17))],
  ];
  it.each(shapes)('%s', (_label, make) => {
    const text = make();
    const report = checkAuthorizedKeys(text, DEFAULT_POLICY.ssh); // how fast: bench/ssh-key.bench.js
    expect(report.errors.length).toBeLessThanOrEqual(1001);
    for (const e of report.errors) {
      expect(e.problem.length).toBeLessThan(200);
      expect(e.problem).toMatch(PRINTABLE_ASCII);
    }
  });
});
