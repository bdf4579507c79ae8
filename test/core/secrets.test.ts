import { buildCatalog, formerReaders, secretFindings, secretKindOf, secretsReadableBy, SECRET_KINDS, type KeyringEntry } from '../../src/core/secrets.js';
import { DEFAULT_POLICY, type InfraConfig, type Member } from '../../src/core/types.js';

const member = (handle: string, over: Partial<Member> = {}): Member => ({
  handle,
  name: handle,
  kind: 'human',
  org: 'o',
  status: 'active',
  groups: [],
  ssh_keys: [],
  vpn_peers: [],
  tokens: [],
  has_pgp: true,
  ...over,
});
const config = (admins: string[]): InfraConfig => ({ org: 'T', admins, environments: {}, access: [], vpn: {}, policy: DEFAULT_POLICY }) as unknown as InfraConfig;
const KEYRING: KeyringEntry[] = [
  { handle: 'alice', certificates: [{ fingerprint: 'A'.repeat(40), keyIds: ['A0', 'A1'] }] },
  { handle: 'bob', certificates: [{ fingerprint: 'B'.repeat(40), keyIds: ['B0', 'B1'] }] },
];
const roobot = member('roobot', { kind: 'bot', tokens: [{ name: 'hook', kind: 'generic', consumers: [], rotated_at: '2026-01-10', readable_by: ['alice', 'carol'], pending: { started_at: '2026-02-01', started_by: 'alice', left: [] } }] });

describe('secretKindOf: every kind is one entry', () => {
  it.each([
    ['keys/roobot/tokens/hook.asc', 'token'],
    ['keys/roobot/tokens/hook.pending.asc', 'pending-token'],
    ['keys/roobot/tokens/a.b.asc', 'token'],
    ['vault/password.asc', 'vault-password'],
    ['ca/user_ca.asc', 'ca-key'],
    ['ca/user_ca_2026.asc', 'ca-key'],
  ])('%s is a %s', (rel, kind) => expect(secretKindOf(rel)?.entry.kind).toBe(kind));

  it.each(['keys/roobot/member.yml', 'keys/roobot/pgp.asc', 'keys/Roo/tokens/x.asc', 'keys/roobot/tokens/../x.asc', 'vault/other.asc', 'ca/sub/x.asc', 'ca/.asc', 'keys/roobot/tokens/x.asc.bak'])('%s is no admin-held secret', (rel) => expect(secretKindOf(rel)).toBeUndefined());

  it('each kind has its rotate command and folder', () => {
    expect(SECRET_KINDS.map((k) => [k.kind, k.folder, k.exposedCode])).toEqual([
      ['pending-token', 'keys/*/tokens', 'secret-exposed'],
      ['token', 'keys/*/tokens', 'secret-exposed'],
      ['vault-password', 'vault', 'secret-exposed'],
      ['ca-key', 'ca', 'ca-exposed'],
    ]);
  });
});

describe('buildCatalog: readers from the recipients, never the admin list', () => {
  const members = [member('alice'), member('bob'), member('carol', { status: 'departed', departed: '2026-03-01' }), roobot];

  it('names recipients by handle and fingerprint, unknown ones by key id; adds the recorded readers', () => {
    const [entry] = buildCatalog([{ path: 'keys/roobot/tokens/hook.asc', recipients: ['a1', 'FF'], digest: 'd' }], members, KEYRING);
    expect(entry).toEqual({
      kind: 'token',
      label: 'token value',
      path: 'keys/roobot/tokens/hook.asc',
      subject: 'roobot/hook',
      rotate: 'infra tokens rotate roobot/hook',
      exposed_code: 'secret-exposed',
      rotated_at: '2026-01-10',
      readable_by: [{ key_id: 'A1', handle: 'alice', fingerprint: 'A'.repeat(40) }, { key_id: 'FF' }],
      ever_readable_by: ['alice', 'carol'],
    });
    expect(formerReaders(entry, ['alice', 'bob'], members)).toEqual({ handles: ['carol'], unknownKeys: ['FF'] });
  });

  it('a history record counts only for the ciphertext it was made for', () => {
    const history = { ciphertext_sha256: 'd1', readable_by: ['dana', 'key 99'] };
    const [same] = buildCatalog([{ path: 'vault/password.asc', recipients: ['A1'], digest: 'd1', history, rotated_at: '2026-04-01' }], members, KEYRING);
    expect(same.ever_readable_by).toEqual(['alice', 'dana', 'key 99']);
    expect(formerReaders(same, ['alice'], members)).toEqual({ handles: ['dana'], unknownKeys: ['99'] });
    const [rotated] = buildCatalog([{ path: 'vault/password.asc', recipients: ['A1'], digest: 'd2', history }], members, KEYRING);
    expect(rotated.ever_readable_by).toEqual(['alice']);
  });

  it('a pending value is dated by its start, and its fix is --abort', () => {
    const [pending] = buildCatalog([{ path: 'keys/roobot/tokens/hook.pending.asc', recipients: ['A1', 'B1'], digest: 'd' }], members, KEYRING);
    expect([pending.subject, pending.rotated_at, pending.rotate]).toEqual(['roobot/hook (pending)', '2026-02-01', 'infra tokens rotate roobot/hook --abort']);
  });
});

describe('secretFindings', () => {
  const members = [member('alice'), member('bob'), member('carol', { status: 'departed', departed: '2026-03-01' })];
  const cases: Array<[string, string, string[], string[], Array<[string, string]>]> = [
    // [what, path, recipients, admins, [code, subject]]
    ['encrypted to exactly the admins: nothing', 'vault/password.asc', ['A1', 'B1'], ['alice', 'bob'], []],
    ['bob removed from admins', 'vault/password.asc', ['A1', 'B1'], ['alice'], [['secret-exposed', 'vault/password.asc']]],
    ['bob removed, CA key: ca-exposed alone', 'ca/user_ca.asc', ['A1', 'B1'], ['alice'], [['ca-exposed', 'ca/user_ca.asc']]],
    ['bob added but not a recipient', 'ca/user_ca.asc', ['A1'], ['alice', 'bob'], [['secret-not-readable', 'ca/user_ca.asc']]],
    ['both at once', 'keys/roobot/tokens/x.asc', ['B1', '77'], ['alice', 'bob'], [['secret-exposed', 'roobot/x'], ['secret-not-readable', 'roobot/x']]],
    ['a departed admin still listed as admin', 'vault/password.asc', ['A1'], ['alice', 'carol'], []],
  ];
  it.each(cases)('%s', (_what, path, recipients, admins, expected) => {
    const catalog = buildCatalog([{ path, recipients, digest: 'd' }], members, KEYRING);
    expect(secretFindings(catalog, config(admins), members).map((f) => [f.code, f.subject])).toEqual(expected);
  });

  it('an unreadable file is secret-not-readable, saying why', () => {
    const catalog = buildCatalog([{ path: 'vault/password.asc', unreadable: 'is a symbolic link (refused: it could point anywhere)', digest: 'd' }], members, KEYRING);
    expect(secretFindings(catalog, config(['alice']), members)).toEqual([
      expect.objectContaining({ code: 'secret-not-readable', detail: expect.stringContaining('is a symbolic link'), fix: 'git checkout -- vault/password.asc (a good version), or infra vault rotate --key YOUR-KEY.asc' }),
    ]);
  });

  it('secretsReadableBy lists what one handle could read, by kind, with the command', () => {
    const catalog = buildCatalog(
      [
        { path: 'vault/password.asc', recipients: ['A1', 'B1'], digest: 'd' },
        { path: 'ca/user_ca.asc', recipients: ['A1'], digest: 'd' },
      ],
      members,
      KEYRING,
    );
    expect(secretsReadableBy(catalog, 'bob')).toEqual([{ kind: 'vault-password', label: 'Ansible vault password', subject: 'vault/password.asc', path: 'vault/password.asc', rotate: 'infra vault rotate --key YOUR-KEY.asc' }]);
  });
});
