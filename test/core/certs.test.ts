/** The pure parts of shift access, with literals: times, serials, status, revocations, trusted CAs, principals, the rendered section. */
import { validateCertificates, validateCertPolicy } from '../../src/core/cert-validate.js';
import { certStatus, nextSerial, parseWindowTime, principalsOf, revocations, trustedCas, type CaKey } from '../../src/core/certs.js';
import { certificateSection, renderedCertificates } from '../../src/core/render-certs.js';
import { parsePublicKey } from '../../src/core/ssh-key.js';
import { DEFAULT_POLICY, type CertificateEntry, type InfraConfig, type Member } from '../../src/core/types.js';
import { ed25519Line } from '../helpers/registry-fixture.js';

const utc = (y: number, mo: number, d: number, h: number, mi: number, s: number) => Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
const at = (iso: string) => Date.parse(iso) / 1000;

describe('parseWindowTime', () => {
  test.each([
    ['2026-12-05T08:00', '2026-12-05T08:00:00Z'], // "local" is UTC in this table
    ['2026-12-05T08:00:30', '2026-12-05T08:00:30Z'],
    ['2026-12-05 08:00', '2026-12-05T08:00:00Z'],
    ['2026-12-05T08:00Z', '2026-12-05T08:00:00Z'],
    ['2026-12-05T08:00+02:00', '2026-12-05T06:00:00Z'],
    ['2026-12-05T08:00-0130', '2026-12-05T09:30:00Z'],
  ])('%s is %s', (text, iso) => expect(parseWindowTime(text, 'from', utc)).toBe(at(iso)));

  test.each(['tomorrow', '2026-12-05', '2026-13-01T00:00', '2026-02-30T08:00', '2026-12-05T24:00', '2026-12-05T08:00+25:00', '2026-12-05T08:00\nX', '1e9'])('%j is refused (exit 3)', (text) => {
    expect(() => parseWindowTime(text, 'until', utc)).toThrow(expect.objectContaining({ exitCode: 3, message: expect.stringMatching(/^--until .* is not a time/) }));
  });
});

const cert = (over: Partial<CertificateEntry>): CertificateEntry => ({
  serial: 1,
  key: 'laptop',
  fingerprint: parsePublicKey(ed25519Line('m-laptop')).fingerprint,
  ca: 'SHA256:' + 'C'.repeat(43),
  valid_after: '2026-06-15T10:00:00Z',
  valid_before: '2026-06-15T18:00:00Z',
  signed_by: 'alice',
  ...over,
});
const member = (handle: string, over: Partial<Member> = {}): Member => ({
  handle,
  name: handle,
  kind: 'human',
  org: 'o',
  status: 'active',
  groups: [],
  ssh_keys: [{ name: 'laptop', key: ed25519Line(`${handle}-laptop`), added: '2026-01-01' }],
  vpn_peers: [],
  tokens: [],
  has_pgp: false,
  ...over,
});
const config = { policy: DEFAULT_POLICY } as unknown as InfraConfig;

test('nextSerial is one more than the highest serial any member holds', () => {
  expect(nextSerial([])).toBe(1);
  expect(nextSerial([member('a', { certificates: [cert({ serial: 4 })] }), member('b', { certificates: [cert({ serial: 9 }), cert({ serial: 2 })] })])).toBe(10);
});

test.each([
  ['before the window', '2026-06-15T09:59:59Z', {}, 'not-yet-valid'],
  ['at valid_after', '2026-06-15T10:00:00Z', {}, 'valid'],
  ['at valid_before', '2026-06-15T18:00:00Z', {}, 'expired'],
  ['revoked', '2026-06-15T12:00:00Z', { revoked: '2026-06-15' }, 'revoked'],
] as const)('certStatus: %s', (_l, now, over, status) => expect(certStatus(cert(over), at(now))).toBe(status));

test('revocations: revoked serials, a departed member\'s certificates and keys, a removed or replaced key\'s certificates, keys failing policy', () => {
  const m = member('m', { certificates: [cert({ serial: 1 }), cert({ serial: 2, revoked: '2026-06-15' }), cert({ serial: 3, key: 'gone' })] });
  const replaced = member('r', { certificates: [cert({ serial: 4 })] }); // fingerprint is m's key, not r's
  const departed = member('d', { status: 'departed', departed: '2026-06-01', certificates: [cert({ serial: 5, fingerprint: parsePublicKey(ed25519Line('d-laptop')).fingerprint })] });
  const dsaPolicy = { policy: { ...DEFAULT_POLICY, ssh: { ...DEFAULT_POLICY.ssh, allowed_types: ['rsa'] } } } as unknown as InfraConfig;
  const r = revocations(config, [m, replaced, departed]);
  expect(r.serials).toEqual([2, 3, 4, 5]);
  expect(r.keys.map((b) => b.toString('base64'))).toEqual([parsePublicKey(ed25519Line('d-laptop')).base64]);
  expect(revocations(dsaPolicy, [m]).keys.length).toBe(1); // ed25519 not allowed now: the key (and its certificates) revoked
});

const caKey = (label: string): CaKey => {
  const k = parsePublicKey(ed25519Line(label));
  return { fingerprint: k.fingerprint, blob: k.blob, line: `${k.type} ${k.base64}` };
};

test('trustedCas: the current CA, and a retired one only while an unrevoked certificate it signed is unexpired', () => {
  const current = caKey('ca-new');
  const old = caKey('ca-old');
  const m = member('m', { certificates: [cert({ ca: old.fingerprint })] });
  expect(trustedCas(current, [old], [m], at('2026-06-15T17:59:59Z')).map((c) => c.fingerprint)).toEqual([current.fingerprint, old.fingerprint]);
  expect(trustedCas(current, [old], [m], at('2026-06-15T18:00:00Z')).map((c) => c.fingerprint)).toEqual([current.fingerprint]);
  expect(trustedCas(current, [old], [member('m', { certificates: [cert({ ca: old.fingerprint, revoked: '2026-06-15' })] })], at('2026-06-15T12:00:00Z'))).toEqual([current]);
});

test('principalsOf: one line per member, restricted only when every granted key is vpn_only', () => {
  expect(principalsOf([{ member: 'b', vpnOnly: true }, { member: 'a', vpnOnly: false }, { member: 'b', vpnOnly: true }, { member: 'c', vpnOnly: true }, { member: 'c', vpnOnly: false }])).toEqual([
    { handle: 'a', vpnOnly: false },
    { handle: 'b', vpnOnly: true },
    { handle: 'c', vpnOnly: false },
  ]);
});

describe('the rendered section', () => {
  const topKey = (t: string, c: string) => `${t.padEnd(33)}# ${c}`;
  const current = caKey('ca-now');

  test('exactly as written, with from= for vpn_only and a KRL even when it revokes nothing', () => {
    const rendered = renderedCertificates(config, [member('a')], current, [], at('2026-06-15T12:00:00Z'))!;
    const lines = certificateSection({ ...rendered, principals: { sysadmin: [{ handle: 'a', vpnOnly: false }, { handle: 'b', vpnOnly: true }], deploy: [] } }, ['10.77.0.0/24', 'fd77:77::/64'], topKey);
    expect(lines).toEqual([
      `${'infra_ssh_certificates:'.padEnd(33)}# user CAs, principals per remote user, KRL (base64): for sshd`,
      '  trusted_user_ca_keys:',
      `    - '${current.line} infra-user-ca'`,
      '  principals:',
      "    'deploy': []",
      "    'sysadmin':",
      "      - 'a'",
      `      - 'from="10.77.0.0/24,fd77:77::/64" b'`,
      `  revoked_keys_krl: '${rendered.krlBase64}'`,
    ]);
    expect(Buffer.from(rendered.krlBase64, 'base64').subarray(0, 8).toString('latin1')).toBe('SSHKRL\n\0');
  });

  test('no CA: no section', () => expect(renderedCertificates(config, [member('a')], undefined, [], 0)).toBeUndefined());

  test.each([
    ['a principal that is not a handle', { principals: { u: [{ handle: "x'\n- y", vpnOnly: false }] } }],
    ['a remote user that is not a Unix user', { principals: { 'a b': [] } }],
    ['a CA line that is not one', { caLines: ["ssh-ed25519 AAAA' evil"] }],
    ['a KRL that is not base64', { krlBase64: 'x\ny' }],
  ])('refuses %s', (_l, over) => {
    const base = { caLines: [`${current.line} infra-user-ca`], krlBase64: 'AAAA', principals: {} };
    expect(() => certificateSection({ ...base, ...over }, [], topKey)).toThrow(expect.objectContaining({ exitCode: 3 }));
  });

  test('vpn_only without any VPN range is refused', () => {
    expect(() => certificateSection({ caLines: [], krlBase64: '', principals: { u: [{ handle: 'a', vpnOnly: true }] } }, [], topKey)).toThrow(/no VPN network/);
  });
});

describe('validation', () => {
  const sink = () => {
    const list: string[] = [];
    return { list, add: (p: ReadonlyArray<string | number>, m: string) => list.push(`${p.join('.')}: ${m}`) };
  };
  test.each([
    [{ serial: 0 }, /serial: must be a whole number >= 1/],
    [{ serial: '1' }, /serial: must be a whole number/],
    [{ valid_after: '2026-06-15T10:00:00' }, /valid_after: must be a UTC time/],
    [{ valid_before: '2026-02-30T10:00:00Z' }, /valid_before: must be a UTC time/],
    [{ valid_before: '2026-06-15T09:00:00Z' }, /valid_before: must be after valid_after/],
    [{ signed_by: 'Root' }, /signed_by: must be the handle/],
    [{ reason: 'a\u202eb' }, /reason: must be one line/],
    [{ fingerprint: 'MD5:aa' }, /fingerprint: must be/],
    [{ extra: 1 }, /extra: unknown field/],
    [{ revoked: 'yesterday' }, /revoked: must be a date/],
  ])('an entry with %j is refused', (over, message) => {
    const s = sink();
    expect(validateCertificates(s, [{ ...cert({}), ...over }])).toEqual([]);
    expect(s.list.join('\n')).toMatch(message);
  });
  test('policy.certs', () => {
    const s = sink();
    expect(validateCertPolicy(s, { max_hours: 72, extensions: ['permit-pty'] })).toEqual({ max_hours: 72, extensions: ['permit-pty'] });
    validateCertPolicy(s, { max_hours: 0, extensions: ['permit-root'], other: true });
    expect(s.list).toEqual([expect.stringMatching(/other: unknown field/), expect.stringMatching(/max_hours: must be a whole number/), expect.stringMatching(/extensions.0: must be one of/)]);
  });
});
