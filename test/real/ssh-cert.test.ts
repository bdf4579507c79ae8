/**
 * Certificates, CA private keys and KRLs that infra encodes itself, judged by the real ssh-keygen:
 * `-L` reads every certificate (Ed25519, ECDSA P-256/384/521, RSA, and both security-key types) with the
 * type, key id, serial, principals, window, extensions and CA that went in; `-y` reads the CA private key
 * and `-s` signs with it; `-Q` agrees with every KRL about every certificate and key.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeKrl } from '../../src/core/krl.js';
import { encodeOpensshEd25519, parseOpensshEd25519 } from '../../src/core/openssh-private-key.js';
import { caFromSeed, certificateLine, DEFAULT_EXTENSIONS, encodeCertificate } from '../../src/core/ssh-cert.js';
import { parsePublicKey } from '../../src/core/ssh-key.js';
import { ecdsaLine, ed25519Line, rsaLine, sshString } from '../helpers/keys.js';
import { runSync } from '../helpers/program.js';
import { requireTool } from '../helpers/real-tools.js';

const d = requireTool('ssh-keygen', 'openssh-client') ? describe : describe.skip;

const keygen = (args: string[]) => runSync('ssh-keygen', args, { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' } });

function p384Line(): string {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  return `ecdsa-sha2-nistp384 ${Buffer.concat([sshString('ecdsa-sha2-nistp384'), sshString('nistp384'), sshString(point)]).toString('base64')} p384`;
}

function skEd25519Line(): string {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const t = 'sk-ssh-ed25519@openssh.com';
  return `${t} ${Buffer.concat([sshString(t), sshString(raw), sshString('ssh:')]).toString('base64')} sk`;
}

function skEcdsaLine(): string {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  const t = 'sk-ecdsa-sha2-nistp256@openssh.com';
  return `${t} ${Buffer.concat([sshString(t), sshString('nistp256'), sshString(point), sshString('ssh:')]).toString('base64')} sk`;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 19);

d('certificates and KRLs vs the real ssh-keygen', () => {
  let dir: string;
  const ca = caFromSeed(randomBytes(32));
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'infra-certs-keygen-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cases: Array<[string, () => string, string]> = [
    ['ed25519', () => ed25519Line('alice'), 'ssh-ed25519-cert-v01@openssh.com'],
    ['ecdsa p256', () => ecdsaLine('nistp256', 'p256'), 'ecdsa-sha2-nistp256-cert-v01@openssh.com'],
    ['ecdsa p384', p384Line, 'ecdsa-sha2-nistp384-cert-v01@openssh.com'],
    ['ecdsa p521', () => ecdsaLine('nistp521', 'p521'), 'ecdsa-sha2-nistp521-cert-v01@openssh.com'],
    ['rsa 3072', () => rsaLine(3072, 'rsa'), 'ssh-rsa-cert-v01@openssh.com'],
    ['sk-ed25519', skEd25519Line, 'sk-ssh-ed25519-cert-v01@openssh.com'],
    ['sk-ecdsa', skEcdsaLine, 'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com'],
  ];

  test.each(cases)('ssh-keygen -L reads a certificate for an %s key as infra made it', (label, makeLine, certType) => {
    const key = parsePublicKey(makeLine());
    const validAfter = 1_800_000_000;
    const validBefore = validAfter + 48 * 3600;
    const blob = encodeCertificate({ key, serial: 42, keyId: 'alice/laptop#42', principals: ['alice'], validAfter, validBefore, extensions: ['permit-pty', 'permit-user-rc'], nonce: randomBytes(32) }, ca);
    const file = join(dir, `${label.replace(/\W/g, '_')}-cert.pub`);
    writeFileSync(file, `${certificateLine(blob, 'alice/laptop')}\n`);
    const r = keygen(['-L', '-f', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const caFingerprint = parsePublicKey(`ssh-ed25519 ${ca.publicBlob.toString('base64')}`).fingerprint;
    expect(r.stdout).toContain(`Type: ${certType} user certificate`);
    expect(r.stdout).toContain(`Public key: ${certType.startsWith('sk-ssh') ? 'ED25519-SK' : certType.startsWith('sk-ecdsa') ? 'ECDSA-SK' : certType.startsWith('ssh-rsa') ? 'RSA' : certType.startsWith('ecdsa') ? 'ECDSA' : 'ED25519'}-CERT ${key.fingerprint}`);
    expect(r.stdout).toContain(`Signing CA: ED25519 ${caFingerprint} (using ssh-ed25519)`);
    expect(r.stdout).toContain('Key ID: "alice/laptop#42"');
    expect(r.stdout).toContain('Serial: 42');
    expect(r.stdout).toContain(`Valid: from ${iso(validAfter)} to ${iso(validBefore)}`);
    expect(r.stdout).toMatch(/Principals: \n\s+alice\n\s+Critical Options: \(none\)\n\s+Extensions: \n\s+permit-pty\n\s+permit-user-rc\n/);
  });

  test('the default extensions are the five ssh-keygen grants, in its order', () => {
    const key = parsePublicKey(ed25519Line());
    const blob = encodeCertificate({ key, serial: 1, keyId: 'a/b#1', principals: ['a'], validAfter: 1, validBefore: 2, extensions: [...DEFAULT_EXTENSIONS].reverse(), nonce: randomBytes(32) }, ca);
    const file = join(dir, 'defaults-cert.pub');
    writeFileSync(file, `${certificateLine(blob, 'x')}\n`);
    const out = keygen(['-L', '-f', file]).stdout;
    expect(out).toMatch(/Extensions: \n\s+permit-X11-forwarding\n\s+permit-agent-forwarding\n\s+permit-port-forwarding\n\s+permit-pty\n\s+permit-user-rc\n/);
  });

  test('ssh-keygen reads the CA private key infra writes, and signs with it', () => {
    const seed = randomBytes(32);
    const own = caFromSeed(seed);
    const pub = own.publicBlob.subarray(-32);
    const text = encodeOpensshEd25519(seed, pub, 'infra user CA', 0x1234abcd);
    const file = join(dir, 'ca_key');
    writeFileSync(file, text, { mode: 0o600 });
    const y = keygen(['-y', '-f', file]);
    expect(y.code).toBe(0);
    expect(y.stdout.trim().split(' ').slice(0, 2).join(' ')).toBe(`ssh-ed25519 ${own.publicBlob.toString('base64')}`);
    writeFileSync(join(dir, 'user.pub'), `${ed25519Line('u')}\n`);
    expect(keygen(['-s', file, '-I', 'id', '-n', 'u', '-V', '+1h', join(dir, 'user.pub')]).code).toBe(0);
    // and infra reads back what ssh-keygen's own generator writes
    const made = join(dir, 'keygen_ca');
    expect(keygen(['-q', '-t', 'ed25519', '-N', '', '-C', 'c', '-f', made]).code).toBe(0);
    const parsed = parseOpensshEd25519(readFileSync(made, 'utf8'));
    expect(`ssh-ed25519 ${parsed.publicBlob.toString('base64')}`).toBe(readFileSync(`${made}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' '));
  });

  test('ssh-keygen -Q agrees with the KRL on revoked and unrevoked certificates and keys', () => {
    const other = caFromSeed(randomBytes(32));
    const keys = Array.from({ length: 4 }, (_, i) => parsePublicKey(ed25519Line(`k${i}`)));
    const cert = (k: number, serial: number, by = ca) =>
      encodeCertificate({ key: keys[k], serial, keyId: `m/k${k}#${serial}`, principals: ['m'], validAfter: 1, validBefore: 4_000_000_000, extensions: [], nonce: randomBytes(32) }, by);
    // serials 1, 3, 4, 5 (a range), 9 revoked under `ca`; key 3 revoked outright
    const krl = encodeKrl({ caKeys: [ca.publicBlob], serials: [9, 3, 4, 5, 1], keys: [keys[3].blob], comment: 'test' });
    const krlFile = join(dir, 'revoked.krl');
    writeFileSync(krlFile, krl);
    const expectations: Array<[string, Buffer | string, boolean]> = [
      ['serial 1', cert(0, 1), true],
      ['serial 2', cert(0, 2), false],
      ['serial 4 (in a range)', cert(1, 4), true],
      ['serial 6', cert(1, 6), false],
      ['serial 9', cert(2, 9), true],
      ['serial 1 of another CA', cert(0, 1, other), false],
      ['a certificate of a revoked key', cert(3, 100), true],
      ['the revoked key itself', keys[3].blob, true],
      ['an unrevoked key', keys[0].blob, false],
    ];
    for (const [label, blob, revoked] of expectations) {
      const file = join(dir, `q-${label.replace(/\W/g, '_')}.pub`);
      const line = typeof blob === 'string' ? blob : blob.subarray(4, 4 + blob.readUInt32BE(0)).toString() + ' ' + blob.toString('base64');
      writeFileSync(file, `${line} ${label.replace(/\W/g, '_')}\n`);
      const r = keygen(['-Q', '-f', krlFile, file]);
      expect([label, r.stdout.includes('REVOKED')]).toEqual([label, revoked]);
      expect([label, r.code]).toEqual([label, revoked ? 1 : 0]);
    }
  });

  test('an empty KRL is one ssh-keygen reads, revoking nothing, with the same bytes each time', () => {
    const krl = encodeKrl({ caKeys: [ca.publicBlob], serials: [], keys: [] });
    expect(encodeKrl({ caKeys: [ca.publicBlob], serials: [], keys: [] }).equals(krl)).toBe(true);
    const krlFile = join(dir, 'empty.krl');
    writeFileSync(krlFile, krl);
    writeFileSync(join(dir, 'e.pub'), `${ed25519Line('e')}\n`);
    const r = keygen(['-Q', '-f', krlFile, join(dir, 'e.pub')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(': ok');
  });
});
