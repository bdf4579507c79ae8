/**
 * Our parser against the real ssh-keygen: every expected value (bits, fingerprint, comment, type)
 * comes from `ssh-keygen -lf`, run on keys that ssh-keygen itself generated, plus hand-built
 * security-key (sk-*) keys, a certificate, hostile comments and an authorized_keys file with options and CRLF.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICY } from '../../src/core/types.js';
import { KeyParseError, checkAuthorizedKeys, parseAuthorizedKeyLine, parsePublicKey, sshKeygenLine, sshKeygenTypeName } from '../../src/core/ssh-key.js';
import { runSync } from '../helpers/program.js';
import { requireTool } from '../helpers/real-tools.js';
import { sshString } from '../helpers/keys.js';

const d = requireTool('ssh-keygen', 'openssh-client') ? describe : describe.skip;

function sshKeygen(args: string[]): { status: number | null; stdout: string; stderr: string } {
  // C.UTF-8: ssh-keygen prints printable UTF-8 in comments as is (in the C locale it escapes all of it).
  const r = runSync('ssh-keygen', args, { env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

function fingerprintLines(path: string): string[] {
  const r = sshKeygen(['-lf', path]);
  if (r.status !== 0) throw new Error(`ssh-keygen -lf ${path} failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/** ssh-keygen's line split into its fields: "<bits> <fingerprint> <comment> (<TYPE>)". */
function fields(line: string): { bits: number; fingerprint: string; comment: string; type: string } {
  const m = /^(\d+) (SHA256:[A-Za-z0-9+/]{43}) (.*) \(([A-Z0-9-]+)\)$/s.exec(line);
  if (!m) throw new Error(`unexpected ssh-keygen line: ${JSON.stringify(line)}`);
  return { bits: Number(m[1]), fingerprint: m[2], comment: m[3], type: m[4] };
}


/** A P-256 point in SSH's uncompressed form, from node:crypto (ssh-keygen checks the point is on the curve). */
function p256Point(): Buffer {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
}

d('parser vs the real ssh-keygen', () => {
  let dir: string;
  const pubFiles: Array<{ label: string; path: string }> = [];
  let dsaNote = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'infra-ssh-keygen-'));
    const generated: Array<[string, string[]]> = [
      ['ed25519', ['-t', 'ed25519']],
      ['ecdsa-256', ['-t', 'ecdsa', '-b', '256']],
      ['ecdsa-384', ['-t', 'ecdsa', '-b', '384']],
      ['ecdsa-521', ['-t', 'ecdsa', '-b', '521']],
      ['rsa-2048', ['-t', 'rsa', '-b', '2048']],
      ['rsa-3072', ['-t', 'rsa', '-b', '3072']],
      ['rsa-4096', ['-t', 'rsa', '-b', '4096']],
      ['dsa', ['-t', 'dsa']],
    ];
    for (const [label, typeArgs] of generated) {
      const path = join(dir, `id_${label}`);
      const r = sshKeygen(['-q', ...typeArgs, '-N', '', '-C', `member ${label} laptop  two spaces`, '-f', path]);
      if (r.status !== 0) {
        if (label !== 'dsa') throw new Error(`ssh-keygen could not generate ${label}: ${r.stderr}`);
        dsaNote = `this ssh-keygen no longer generates DSA keys (${r.stderr.trim()}); DSA is covered by unit tests only`;
        continue;
      }
      pubFiles.push({ label, path: `${path}.pub` });
    }
    if (dsaNote) console.warn(dsaNote);

    const skEd = Buffer.concat([sshString('sk-ssh-ed25519@openssh.com'), sshString(randomBytes(32)), sshString('ssh:')]);
    const skEc = Buffer.concat([sshString('sk-ecdsa-sha2-nistp256@openssh.com'), sshString('nistp256'), sshString(p256Point()), sshString('ssh:infra-test')]);
    writeFileSync(join(dir, 'id_sk_ed25519.pub'), `sk-ssh-ed25519@openssh.com ${skEd.toString('base64')} yubikey of alice\n`);
    writeFileSync(join(dir, 'id_sk_ecdsa.pub'), `sk-ecdsa-sha2-nistp256@openssh.com ${skEc.toString('base64')} solo key bob\n`);
    pubFiles.push({ label: 'sk-ed25519', path: join(dir, 'id_sk_ed25519.pub') }, { label: 'sk-ecdsa', path: join(dir, 'id_sk_ecdsa.pub') });

    // A user certificate signed by a CA key.
    const ca = join(dir, 'ca');
    expect(sshKeygen(['-q', '-t', 'ed25519', '-N', '', '-C', 'test ca', '-f', ca]).status).toBe(0);
    const signed = sshKeygen(['-q', '-s', ca, '-I', 'alice-cert', '-n', 'alice', '-V', '+52w', join(dir, 'id_ecdsa-256.pub')]);
    if (signed.status !== 0) throw new Error(`ssh-keygen -s failed: ${signed.stderr}`);
    pubFiles.push({ label: 'certificate', path: join(dir, 'id_ecdsa-256-cert.pub') });

    // Hostile comments: terminal escapes, other controls, DEL, non-ASCII, bidi override, tab.
    const base = readFileSync(join(dir, 'id_ed25519.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    writeFileSync(join(dir, 'hostile.pub'), `${base} x\x1b[31mred\x1b[0m \x01\x7f "q" 'q' \\ é\u202etxt.exe\tend \u0085 \u2028\n`);
    pubFiles.push({ label: 'hostile comment', path: join(dir, 'hostile.pub') });
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has the whole corpus', () => {
    expect(pubFiles.map((f) => f.label)).toEqual(
      expect.arrayContaining(['ed25519', 'ecdsa-256', 'ecdsa-384', 'ecdsa-521', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'sk-ed25519', 'sk-ecdsa', 'certificate', 'hostile comment']),
    );
  });

  it('prints for every key file exactly the line ssh-keygen -lf prints', () => {
    for (const { label, path } of pubFiles) {
      const [expected, ...rest] = fingerprintLines(path);
      expect(rest).toEqual([]);
      const key = parseAuthorizedKeyLine(readFileSync(path, 'utf8'));
      const want = fields(expected);
      expect({ label, bits: key.bits, fingerprint: key.fingerprint, type: sshKeygenTypeName(key) }).toEqual({ label, bits: want.bits, fingerprint: want.fingerprint, type: want.type });
      expect({ label, line: sshKeygenLine(key) }).toEqual({ label, line: expected });
    }
  });

  it('matches the sizes ssh-keygen was asked for', () => {
    const bitsOf = (label: string) => fields(fingerprintLines(pubFiles.find((f) => f.label === label)!.path)[0]).bits;
    for (const [label, bits] of [['ecdsa-384', 384], ['ecdsa-521', 521], ['rsa-3072', 3072], ['rsa-4096', 4096]] as const) {
      expect(bitsOf(label)).toBe(bits);
      expect(parsePublicKey(readFileSync(pubFiles.find((f) => f.label === label)!.path, 'utf8')).bits).toBe(bits);
    }
  });

  it('reads an authorized_keys file with options, CRLF, blank and # lines as ssh-keygen does', () => {
    const keyText = (label: string) => readFileSync(pubFiles.find((f) => f.label === label)!.path, 'utf8').trimEnd();
    const lines = [
      '# team keys',
      keyText('ed25519'),
      '',
      `from="10.0.0.0/8,192.168.1.0/24",command="echo \\"hi, there\\"",no-pty ${keyText('ecdsa-384')}`,
      `${keyText('rsa-4096')}\r`,
      `   restrict,pty ${keyText('sk-ed25519')}   \r`,
      `cert-authority,principals="alice,bob" ${keyText('ecdsa-521')}`,
      `expiry-time="20300101",environment="A=b c" ${keyText('sk-ecdsa')}\r`,
      keyText('rsa-2048'),
      '   # indented comment',
    ];
    const path = join(dir, 'authorized_keys');
    writeFileSync(path, `${lines.join('\n')}\n`);
    // ssh-keygen keeps trailing blanks and the CR of a CRLF line in the comment; infra drops them.
    const expected = fingerprintLines(path).map((l) => l.replace(/[ \t]*\r \(([A-Z0-9-]+)\)$/, ' ($1)'));
    const keyLines = lines.map((text, i) => ({ text, line: i + 1 })).filter(({ text }) => text.trim() !== '' && !text.trim().startsWith('#'));
    expect(expected).toHaveLength(keyLines.length);
    expect(keyLines.map(({ text }) => sshKeygenLine(parseAuthorizedKeyLine(text)))).toEqual(expected);

    const report = checkAuthorizedKeys(readFileSync(path, 'utf8'), DEFAULT_POLICY.ssh);
    expect(report.errors).toEqual([]);
    expect(report.keys.map((k) => k.line)).toEqual(keyLines.map((k) => k.line));
    report.keys.forEach((k, i) => {
      const want = fields(expected[i]);
      expect({ bits: k.bits, fingerprint: k.fingerprint, comment: k.comment, type: sshKeygenTypeName(k) }).toEqual(want);
    });
    expect(report.keys[1].options).toEqual(['from="10.0.0.0/8,192.168.1.0/24"', 'command="echo \\"hi, there\\""', 'no-pty']);
    expect(report.keys[4].options).toEqual(['cert-authority', 'principals="alice,bob"']);
    expect(parseAuthorizedKeyLine(lines[6]).certAuthority).toBe(true);
    // Policy: rsa-2048 is below min_rsa_bits (3072); the rest pass.
    expect(report.keys.map((k) => k.ok)).toEqual(keyLines.map(({ text }) => !text.includes('member rsa-2048')));
  });

  it('refuses a DSA key that ssh-keygen generated (policy), or notes that it cannot generate one', () => {
    const dsa = pubFiles.find((f) => f.label === 'dsa');
    if (!dsa) {
      expect(dsaNote).not.toBe('');
      return;
    }
    const want = fields(fingerprintLines(dsa.path)[0]);
    expect(want.type).toBe('DSA');
    const report = checkAuthorizedKeys(readFileSync(dsa.path, 'utf8'), DEFAULT_POLICY.ssh);
    expect(report.keys[0]).toMatchObject({ bits: want.bits, fingerprint: want.fingerprint, ok: false });
    expect(report.keys[0].problems.join(' ')).toMatch(/DSA/);
  });

  it('refuses the damaged keys that ssh-keygen refuses', () => {
    const text = (label: string) => readFileSync(pubFiles.find((f) => f.label === label)!.path, 'utf8').trimEnd();
    const [edType, edData] = text('ed25519').split(' ');
    const [, ec384Data] = text('ecdsa-384').split(' ');
    const [ecType, ec256Data] = text('ecdsa-256').split(' ');
    const ec256 = Buffer.from(ec256Data, 'base64');
    const offCurve = Buffer.from(ec256);
    offCurve[ec256.length - 5] ^= 0x01;
    const damaged: Array<[string, string]> = [
      ['truncated base64', `${edType} ${edData.slice(0, 40)} x`],
      ['truncated blob', `${edType} ${Buffer.from(edData, 'base64').subarray(0, 40).toString('base64')} x`],
      ['trailing bytes in the blob', `${edType} ${Buffer.concat([Buffer.from(edData, 'base64'), Buffer.from([0, 0, 0, 0])]).toString('base64')} x`],
      ['line type differs from the blob', `ssh-rsa ${edData} x`],
      ['nistp256 line with a nistp384 blob', `${ecType} ${ec384Data} x`],
      ['point off the curve', `${ecType} ${offCurve.toString('base64')} x`],
    ];
    for (const [label, line] of damaged) {
      const path = join(dir, 'damaged.pub');
      writeFileSync(path, `${line}\n`);
      const r = sshKeygen(['-lf', path]);
      expect({ label, refusedBySshKeygen: r.status !== 0 }).toEqual({ label, refusedBySshKeygen: true });
      expect(() => parseAuthorizedKeyLine(line)).toThrow(KeyParseError);
    }
  });
});

/** The same key with `pad` extra zero bytes in front of each integer: OpenSSH reads it as the same key. */
function paddedRsaLine(publicLine: string, padE: number, padN: number): string {
  const [type, data, ...comment] = publicLine.trim().split(' ');
  const blob = Buffer.from(data, 'base64');
  let at = 0;
  const field = () => {
    const len = blob.readUInt32BE(at);
    const body = blob.subarray(at + 4, at + 4 + len);
    at += 4 + len;
    return body;
  };
  field(); // the type
  const e = field();
  const n = field();
  const padded = Buffer.concat([sshString(type), sshString(Buffer.concat([Buffer.alloc(padE), e])), sshString(Buffer.concat([Buffer.alloc(padN), n]))]);
  return [type, padded.toString('base64'), ...comment].join(' ');
}

d('hole 1: padded and over-long encodings, against the real ssh-keygen', () => {
  let dir: string;
  let rsaLine = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'infra-ssh-keygen-pad-'));
    const r = sshKeygen(['-q', '-t', 'rsa', '-b', '3072', '-N', '', '-C', 'alice', '-f', join(dir, 'id_rsa')]);
    if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
    rsaLine = readFileSync(join(dir, 'id_rsa.pub'), 'utf8').trim();
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['a few zeros in e and n', 3, 5],
    ['n padded to exactly 2049 bytes', 0, 2049 - 385],
  ])('%s: ssh-keygen -l prints the canonical fingerprint, and so does infra', (_label, padE, padN) => {
    const padded = paddedRsaLine(rsaLine, padE, padN);
    const path = join(dir, 'padded.pub');
    writeFileSync(path, `${padded}\n`);
    const [keygenLine] = fingerprintLines(path);
    const [canonicalLine] = fingerprintLines(join(dir, 'id_rsa.pub'));
    expect(fields(keygenLine).fingerprint).toBe(fields(canonicalLine).fingerprint);
    const key = parsePublicKey(padded);
    expect(key.fingerprint).toBe(fields(keygenLine).fingerprint);
    expect(key.base64).toBe(rsaLine.split(' ')[1]); // the canonical form is what ssh-keygen wrote
    expect(sshKeygenLine(key)).toBe(keygenLine);
  });

  it.each([
    ['n in 2050 bytes', 0, 2050 - 385],
    ['thousands of zeros before e', 3000, 0],
  ])('%s: refused by ssh-keygen and by infra', (_label, padE, padN) => {
    const padded = paddedRsaLine(rsaLine, padE, padN);
    const path = join(dir, 'overlong.pub');
    writeFileSync(path, `${padded}\n`);
    expect(sshKeygen(['-lf', path]).status).not.toBe(0);
    expect(() => parsePublicKey(padded)).toThrow(/more than OpenSSH accepts/);
  });

  it('an RSA key under 1024 bits: refused by ssh-keygen and by infra', () => {
    const jwk = generateKeyPairSync('rsa', { modulusLength: 768 }).publicKey.export({ format: 'jwk' }) as { e: string; n: string };
    const mp = (b: Buffer) => sshString(b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
    const line = `ssh-rsa ${Buffer.concat([sshString('ssh-rsa'), mp(Buffer.from(jwk.e, 'base64url')), mp(Buffer.from(jwk.n, 'base64url'))]).toString('base64')} small`;
    const path = join(dir, 'small.pub');
    writeFileSync(path, `${line}\n`);
    expect(sshKeygen(['-lf', path]).status).not.toBe(0);
    expect(() => parsePublicKey(line)).toThrow(/under 1024 bits/);
  });
});

/**
 * expiry-time values: sshd reads them with misc.c parse_absolute_time, and so does `ssh-keygen -V
 * always:TIME` when it signs a certificate. So ssh-keygen decides each value here, infra must agree.
 */
d('expiry-time values, against parse_absolute_time in the real ssh-keygen', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'infra-ssh-keygen-time-'));
    for (const name of ['ca', 'user']) expect(sshKeygen(['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(dir, name)]).status).toBe(0);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const values = [
    '20300101', '203001011230', '20300101123059', '20300101Z', '203001011230UTC', '20300231', '20301231235960',
    '2030', '20301301', '20300100', '20300132', '203001012400', '203001011260', '2030-01-01', '2030010112', '19691231', 'tomorrow', '',
  ];
  it.each(values)('expiry-time="%s"', (value) => {
    const r = sshKeygen(['-q', '-s', join(dir, 'ca'), '-I', 'probe', '-V', `always:${value}`, join(dir, 'user.pub')]);
    const sshAccepts = r.status === 0;
    let infraAccepts = true;
    try {
      parseAuthorizedKeyLine(`expiry-time="${value}" ${readFileSync(join(dir, 'user.pub'), 'utf8').trim()}`);
    } catch (e) {
      if (!(e instanceof KeyParseError)) throw e;
      infraAccepts = false;
    }
    expect({ value, infraAccepts }).toEqual({ value, infraAccepts: sshAccepts });
  });
});
