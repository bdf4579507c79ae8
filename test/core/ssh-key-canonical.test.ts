/**
 * holes 1 and 10b: one key, one encoding. Keys are built here by hand from node:crypto
 * (independent of src/): the canonical blob as ssh-keygen writes it, and re-encodings of the same key
 * with leading zero bytes in its integers, which OpenSSH reads as the same key. Expected fingerprints are
 * SHA-256 over the hand-built canonical blob; OpenSSH's own test keys (peer-data) carry OpenSSH's values.
 * test/real/ssh-keygen.test.ts checks the padded forms against the real ssh-keygen.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { planKeyAdds, keyOwners, findKey } from '../../src/core/key-entries.js';
import { planRender } from '../../src/core/render.js';
import { parseYamlInventory } from '../../src/core/inventory.js';
import {
  canonicalKeyData,
  checkAuthorizedKeys,
  encodeKeyBlob,
  keyComponents,
  parseAuthorizedKeyLine,
  parsePublicKey,
} from '../../src/core/ssh-key.js';
import { DEFAULT_POLICY, type InfraConfig, type Member } from '../../src/core/types.js';
import { crossCheck, validateMember } from '../../src/core/validate.js';
import { ExitCode } from '../../src/lib/errors.js';
import { parseError } from '../helpers/thrown.js';
import { sshString } from '../helpers/keys.js';
import { rsaPublicParts } from '../helpers/rsa-keys.js';

/** An mpint with `pad` extra zero bytes in front of its canonical form. */
const mpint = (magnitude: Buffer, pad = 0) => sshString(Buffer.concat([Buffer.alloc(pad + (magnitude[0] & 0x80 ? 1 : 0)), magnitude]));
const sha256 = (b: Buffer) => `SHA256:${createHash('sha256').update(b).digest('base64').replace(/=+$/, '')}`;

/** A real RSA key's parts: fixture keys for 2048 bits and up (test/helpers/rsa-keys.ts), fresh ones below. */
const rsaParts = (bits = 2048): { e: Buffer; n: Buffer } => rsaPublicParts(bits);
const rsaBlob = ({ e, n }: { e: Buffer; n: Buffer }, padE = 0, padN = 0) => Buffer.concat([sshString('ssh-rsa'), mpint(e, padE), mpint(n, padN)]);
const line = (type: string, blob: Buffer, comment = '') => `${type} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;

const RSA = rsaParts(3072);
const CANONICAL = rsaBlob(RSA);
const PADDED = rsaBlob(RSA, 3, 5);

describe('a padded RSA key is the same key as its canonical form', () => {
  it('parses to the same components, canonical blob, base64 and fingerprint (SHA-256 of the canonical blob)', () => {
    const canonical = parsePublicKey(line('ssh-rsa', CANONICAL, 'alice'));
    const padded = parsePublicKey(line('ssh-rsa', PADDED, 'bob/spare'));
    expect(padded.blob.equals(CANONICAL)).toBe(true);
    expect(padded.base64).toBe(CANONICAL.toString('base64'));
    expect(padded.fingerprint).toBe(sha256(CANONICAL));
    expect(canonical.fingerprint).toBe(sha256(CANONICAL));
    expect(padded.bits).toBe(3072);
    expect(padded.writtenBase64).toBe(PADDED.toString('base64'));
    expect(canonical.writtenBase64).toBeUndefined();
    expect(canonical.blob.equals(padded.blob)).toBe(true);
    expect(keyComponents(padded)).toEqual({ family: 'rsa', e: RSA.e, n: RSA.n });
  });

  it('a zero byte in front of a high bit is canonical, not padding', () => {
    const highBit = { e: RSA.e, n: Buffer.from(RSA.n) };
    highBit.n[0] |= 0x80; // not a valid RSA modulus, but the encoding is what matters here
    const k = parsePublicKey(line('ssh-rsa', rsaBlob(highBit)));
    expect(k.writtenBase64).toBeUndefined();
    expect(k.blob.equals(rsaBlob(highBit))).toBe(true);
  });

  it.each([
    ['exactly 2049 bytes (the most OpenSSH reads)', 2049 - RSA.n.length, true],
    ['2050 bytes (OpenSSH refuses)', 2050 - RSA.n.length, false],
    ['thousands of leading zeros', 5000, false],
  ])('modulus encoded in %s', (_label, pad, accepted) => {
    const text = line('ssh-rsa', Buffer.concat([sshString('ssh-rsa'), mpint(RSA.e), sshString(Buffer.concat([Buffer.alloc(pad), RSA.n]))]));
    if (accepted) expect(parsePublicKey(text).fingerprint).toBe(sha256(CANONICAL));
    else {
      const e = parseError(() => parsePublicKey(text));
      expect(e.exitCode).toBe(ExitCode.invalid);
      expect(e.message).toMatch(/the RSA modulus is encoded in \d+ bytes \(\d+ of them leading zeros\), more than OpenSSH accepts/);
    }
  });

  it('canonicalKeyData gives the canonical base64 without a full parse, and the text as written when it does not parse', () => {
    expect(canonicalKeyData(line('ssh-rsa', PADDED, 'x y'))).toBe(CANONICAL.toString('base64'));
    expect(canonicalKeyData(`  ssh-rsa\t${CANONICAL.toString('base64')}  `)).toBe(CANONICAL.toString('base64'));
    expect(canonicalKeyData('ssh-rsa AAAA junk')).toBe('AAAA');
    expect(canonicalKeyData('ssh-ed25519 AAAAC3Nz x')).toBe('AAAAC3Nz');
  });

  it('a certificate of a padded key is fingerprinted by the canonical certified key (as ssh-keygen does)', () => {
    const cert = Buffer.concat([
      sshString('ssh-rsa-cert-v01@openssh.com'),
      sshString(randomBytes(32)),
      mpint(RSA.e, 2),
      mpint(RSA.n, 2),
      Buffer.alloc(8),
      Buffer.from([0, 0, 0, 1]),
      sshString('id'),
      sshString(''),
      Buffer.alloc(16),
      sshString(''),
      sshString(''),
      sshString(''),
      sshString(Buffer.concat([sshString('ssh-ed25519'), sshString(randomBytes(32))])),
      sshString('sig'),
    ]);
    const k = parseAuthorizedKeyLine(line('ssh-rsa-cert-v01@openssh.com', cert));
    expect(k.fingerprint).toBe(sha256(CANONICAL));
    expect(k.base64).toBe(cert.toString('base64')); // a certificate's bytes are signed: kept as written
  });
});

describe('components of every type, and refusals', () => {
  const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const p256 = (() => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  })();
  const p384 = (() => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  })();
  const blobs = {
    ed25519: Buffer.concat([sshString('ssh-ed25519'), sshString(ed)]),
    skEd: Buffer.concat([sshString('sk-ssh-ed25519@openssh.com'), sshString(ed), sshString('ssh:')]),
    ecdsa: Buffer.concat([sshString('ecdsa-sha2-nistp256'), sshString('nistp256'), sshString(p256)]),
    skEc: Buffer.concat([sshString('sk-ecdsa-sha2-nistp256@openssh.com'), sshString('nistp256'), sshString(p256), sshString('ssh:x')]),
  };

  it.each([
    ['ssh-ed25519', blobs.ed25519, { family: 'ed25519', publicKey: ed }],
    ['sk-ssh-ed25519@openssh.com', blobs.skEd, { family: 'ed25519-sk', publicKey: ed, application: 'ssh:' }],
    ['ecdsa-sha2-nistp256', blobs.ecdsa, { family: 'ecdsa', curve: 'nistp256', point: p256 }],
    ['sk-ecdsa-sha2-nistp256@openssh.com', blobs.skEc, { family: 'ecdsa-sk', curve: 'nistp256', point: p256, application: 'ssh:x' }],
  ])('%s: components, and the canonical blob is the one written', (type, blob, components) => {
    const k = parsePublicKey(line(type, blob));
    expect(keyComponents(k)).toEqual(components);
    expect(encodeKeyBlob(type, keyComponents(k)).equals(blob)).toBe(true);
    expect(k.fingerprint).toBe(sha256(blob));
    expect(k.writtenBase64).toBeUndefined();
  });

  const refused: Array<[string, string, RegExp]> = [
    ['trailing bytes after the blob', line('ssh-ed25519', Buffer.concat([blobs.ed25519, Buffer.from([0])])), /1 unexpected byte after the key/],
    ['a 33-byte ed25519 key', line('ssh-ed25519', Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.concat([ed, Buffer.from([0])]))])), /must be 32 bytes, not 33/],
    ['a 31-byte ed25519 key', line('ssh-ed25519', Buffer.concat([sshString('ssh-ed25519'), sshString(ed.subarray(1))])), /must be 32 bytes, not 31/],
    ['a P-256 point with a zero byte in front', line('ecdsa-sha2-nistp256', Buffer.concat([sshString('ecdsa-sha2-nistp256'), sshString('nistp256'), sshString(Buffer.concat([Buffer.from([0]), p256]))])), /point is malformed \(66 bytes; an uncompressed nistp256 point has 65\)/],
    ['a P-384 point under nistp256', line('ecdsa-sha2-nistp256', Buffer.concat([sshString('ecdsa-sha2-nistp256'), sshString('nistp256'), sshString(p384)])), /point is malformed \(97 bytes/],
    ['curve name nistp384 inside an ecdsa-sha2-nistp256 blob', line('ecdsa-sha2-nistp256', Buffer.concat([sshString('ecdsa-sha2-nistp256'), sshString('nistp384'), sshString(p256)])), /curve "nistp384" does not match type ecdsa-sha2-nistp256/],
    ['an RSA modulus over 16384 bits', line('ssh-rsa', Buffer.concat([sshString('ssh-rsa'), mpint(RSA.e), mpint(Buffer.concat([Buffer.from([1]), Buffer.alloc(2048, 0xff)]))])), /has 16385 bits, more than OpenSSH accepts/],
    ['an RSA key of 768 bits (OpenSSH refuses under 1024)', line('ssh-rsa', rsaBlob(rsaParts(768))), /RSA key of 768 bits: OpenSSH refuses RSA keys under 1024 bits/],
    ['a negative exponent', line('ssh-rsa', Buffer.concat([sshString('ssh-rsa'), sshString(Buffer.from([0x81])), mpint(RSA.n)])), /the RSA exponent is negative/],
  ];
  it.each(refused)('refuses %s with a clear message', (_label, text, message) => {
    const e = parseError(() => parseAuthorizedKeyLine(text));
    expect(e.message).toMatch(message);
    expect(e.exitCode).toBe(ExitCode.invalid);
    expect(e.hint).toBeTruthy();
  });
});

const PEER_DATA = process.env.INFRA_PEER_DATA ?? '/work/shared/peer-data';
const root = join(PEER_DATA, 'openssh', 'sshkey');
const haveCorpus = existsSync(root);
if (!haveCorpus) console.warn(`skipping OpenSSH's test keys: ${root} not found (set INFRA_PEER_DATA)`);

(haveCorpus ? describe : describe.skip)("OpenSSH's own test keys (peer-data/openssh/sshkey)", () => {
  const pubs = haveCorpus ? readdirSync(root).filter((f) => f.endsWith('.pub') && !f.startsWith('mldsa')) : ['(none)'];
  it('has the corpus', () => expect(pubs.length).toBeGreaterThanOrEqual(20));
  it.each(pubs)('%s: fingerprint as in its .fp, canonical, and stable through encodeKeyBlob', (file) => {
    const k = parseAuthorizedKeyLine(readFileSync(join(root, file), 'utf8'));
    const fpFile = join(root, file.replace(/\.pub$/, '.fp'));
    let expected: string | undefined;
    try {
      expected = readFileSync(fpFile, 'utf8').trim();
    } catch {
      expected = undefined; // the rsa_1_sha* certificates have no .fp of their own
    }
    if (expected) expect(k.fingerprint).toBe(expected);
    expect(k.writtenBase64).toBeUndefined(); // ssh-keygen writes canonical blobs
    if (k.family !== 'certificate') expect(encodeKeyBlob(k.type, keyComponents(k)).equals(k.blob)).toBe(true);
  });
  it('refuses the ML-DSA hybrids (not an accepted type) with an error, not a crash', () => {
    const hybrids = readdirSync(root).filter((f) => f.startsWith('mldsa') && f.endsWith('.pub'));
    expect(hybrids.length).toBeGreaterThan(0);
    for (const f of hybrids) expect(parseError(() => parseAuthorizedKeyLine(readFileSync(join(root, f), 'utf8'))).message).toMatch(/unsupported key type/);
  });
});

// ------------------------------------------------------------------ the registry: one key, one principal

const ALICE_KEY = line('ssh-rsa', CANONICAL, 'alice@laptop');
const BOB_PADDED = line('ssh-rsa', PADDED, 'spare');
const policy = { ...DEFAULT_POLICY.ssh, min_rsa_bits: 3072 };

function validMember(handle: string, keys: Array<{ name: string; key: string }>): Member {
  const { member, problems } = validateMember(handle, { name: handle, kind: 'human', org: 'o', status: 'active', ssh_keys: keys.map((k) => ({ ...k, added: '2026-01-01' })) }, `keys/${handle}/member.yml`);
  if (!member) throw new Error(`fixture member ${handle} is invalid: ${JSON.stringify(problems)}`);
  return member;
}

const at = {
  memberFile: (h: string) => `keys/${h}/member.yml`,
  memberLine: () => undefined,
  configFile: 'infra.yml',
  configLine: () => undefined,
};
const config: InfraConfig = { org: 'T', admins: [], environments: { production: 'inventories/production' }, policy: { ...DEFAULT_POLICY, ssh: policy }, access: [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }], vpn: {} };

describe('hole 1: bob registers alice\'s key re-encoded with padding', () => {
  const alice = validMember('alice', [{ name: 'laptop', key: ALICE_KEY }]);

  it('check (crossCheck) reports the padded copy as the same key under two principals', () => {
    const bob = validMember('bob', [{ name: 'spare', key: BOB_PADDED }]);
    const problems = crossCheck(config, [alice, bob], at);
    expect(problems).toEqual([expect.objectContaining({ file: 'keys/bob/member.yml', field: 'ssh_keys[0].key', message: expect.stringMatching(/the same key is registered as alice\/laptop/) })]);
  });

  it('keys add refuses the padded copy for bob, and the canonical key for bob when alice holds the padded one', () => {
    const bob = validMember('bob', []);
    const [verdict] = planKeyAdds(bob, [alice, bob], [{ key: parsePublicKey(BOB_PADDED) }], policy, '2026-02-01');
    expect(verdict.kind).toBe('refused');
    expect(verdict.kind === 'refused' && verdict.problems.join()).toMatch(/already registered as alice\/laptop/);

    const alicePadded = validMember('alice', [{ name: 'laptop', key: BOB_PADDED }]);
    const [again] = planKeyAdds(bob, [alicePadded, bob], [{ key: parsePublicKey(ALICE_KEY) }], policy, '2026-02-01');
    expect(again.kind).toBe('refused');
  });

  it('keys add stores the canonical base64, and keyOwners files a padded entry under its canonical form', () => {
    const carol = validMember('carol', []);
    const [verdict] = planKeyAdds(carol, [carol], [{ key: parsePublicKey(BOB_PADDED) }], policy, '2026-02-01');
    expect(verdict.kind === 'add' && verdict.entry.key).toBe(`ssh-rsa ${CANONICAL.toString('base64')} spare`);
    expect(keyOwners([validMember('bob', [{ name: 'spare', key: BOB_PADDED }])]).get(CANONICAL.toString('base64'))).toBe('bob/spare');
  });

  it('render writes the canonical form for a key registered padded', () => {
    const bob = { ...validMember('bob', [{ name: 'spare', key: BOB_PADDED }]), groups: ['infra'] };
    const inventory = parseYamlInventory('all:\n  hosts:\n    web1:\n', 'inventories/production/hosts.yml');
    const plan = planRender({ root: '/x', config, members: [bob] }, { production: inventory }, new Map());
    const text = [...plan.files.values()].join('\n');
    expect(text).toContain(`ssh-rsa ${CANONICAL.toString('base64')} bob/spare`);
    expect(text).not.toContain(PADDED.toString('base64'));
  });

  it('a previous render holding the padded form: revoked in both forms once the key is gone', () => {
    const inventory = parseYamlInventory('all:\n  hosts:\n    web1:\n', 'inventories/production/hosts.yml');
    const rel = 'inventories/production/host_vars/web1/infra.generated.yml';
    const other = { ...validMember('dave', [{ name: 'k', key: line('ssh-rsa', rsaBlob(rsaParts(3072)), 'd') }]), groups: ['infra'] };
    const previous = new Map([[rel, `infra_authorized_keys:\n  sysadmin:\n    - 'ssh-rsa ${PADDED.toString('base64')} bob/spare'\ninfra_revoked_keys: {}\n`]]);
    const plan = planRender({ root: '/x', config, members: [other] }, { production: inventory }, previous);
    const text = plan.files.get(rel)!;
    const revoked = text.slice(text.indexOf('infra_revoked_keys'));
    expect(revoked).toContain(`ssh-rsa ${CANONICAL.toString('base64')} bob/spare`);
    expect(revoked).toContain(`ssh-rsa ${PADDED.toString('base64')} bob/spare`);
  });
});

describe('hole 10b: the same key twice in one member', () => {
  it('is refused on load, naming both entries and the fix, also when one copy is padded', () => {
    for (const second of [ALICE_KEY, BOB_PADDED]) {
      const { member, problems } = validateMember(
        'alice',
        { name: 'A', kind: 'human', org: 'o', status: 'active', ssh_keys: [{ name: 'laptop', key: ALICE_KEY, added: '2026-01-01' }, { name: 'backup', key: second, added: '2026-01-01' }] },
        'keys/alice/member.yml',
      );
      expect(member).toBeUndefined();
      expect(problems).toEqual([
        expect.objectContaining({ field: 'ssh_keys[1].key', message: 'the same key is already listed as alice/laptop: one key, one entry; remove this one with `infra keys remove alice backup`' }),
      ]);
    }
  });

  it('keys add of a key the member already holds (padded or not) is "present", not a second entry', () => {
    const alice = validMember('alice', [{ name: 'laptop', key: ALICE_KEY }]);
    const verdicts = planKeyAdds(alice, [alice], [{ key: parsePublicKey(BOB_PADDED) }, { key: parsePublicKey(ALICE_KEY) }], policy, '2026-02-01');
    expect(verdicts.map((v) => [v.kind, v.kind === 'present' && v.existing])).toEqual([
      ['present', 'alice/laptop'],
      ['present', 'alice/laptop'],
    ]);
  });

  it('findKey finds a padded entry by its canonical (ssh-keygen) fingerprint', () => {
    const bob = validMember('bob', [{ name: 'x', key: ALICE_KEY.replace('alice@laptop', 'a') }, { name: 'spare', key: line('ssh-rsa', rsaBlob(rsaParts(3072), 0, 2)) }]);
    const fp = parsePublicKey(bob.ssh_keys[1].key).fingerprint;
    expect(findKey(bob, fp)).toBe(1);
    expect(findKey(bob, fp.slice('SHA256:'.length))).toBe(1);
    expect(findKey(bob, 'spare')).toBe(1);
    expect(findKey(bob, 'nope')).toBe(-1);
  });
});

describe('keys check', () => {
  it('prints the canonical fingerprint for a padded line and refuses an over-long one', () => {
    const overlong = line('ssh-rsa', Buffer.concat([sshString('ssh-rsa'), mpint(RSA.e, 3000), mpint(RSA.n)]));
    const report = checkAuthorizedKeys(`${BOB_PADDED}\n${overlong}\n`, policy);
    expect(report.keys.map((k) => [k.line, k.fingerprint])).toEqual([[1, sha256(CANONICAL)]]);
    expect(report.errors).toEqual([{ line: 2, problem: expect.stringMatching(/RSA exponent is encoded in 3003 bytes/) }]);
  });
});
