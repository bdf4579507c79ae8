/**
 * The pure parts of `audit --live` seeing what sshd sees: the whole-line comparison, the collector's
 * answer read strictly (hostile input), Ansible's JSON lines, policy.ssh.host, and the findings.
 */
import { parseAuthorizedKeys } from '../../src/core/authorized-keys.js';
import { keyLineDifferences } from '../../src/core/key-line-diff.js';
import { askedAddress, liveSshdFindings, LIVE_SEVERITY, type LiveAuditInput } from '../../src/core/live-audit.js';
import { JsonlEvents, MAX_ANSWER_BYTES, readCollector, type SshdAnswer, type SshdFile } from '../../src/core/live-collect.js';
import { CODES } from '../../src/core/audit.js';
import { planAccess } from '../../src/core/grants.js';
import { parseYamlInventory } from '../../src/core/inventory.js';
import { DEFAULT_SSH_HOST_POLICY, policyBreaches, validateSshHostPolicy } from '../../src/core/sshd-policy.js';
import { DEFAULT_POLICY, type InfraConfig, type Member } from '../../src/core/types.js';
import { Problems } from '../../src/core/validate.js';
import { ed25519Line, keyBody } from '../helpers/registry-fixture.js';

const ALICE = keyBody(ed25519Line('alice'));
const BOB = keyBody(ed25519Line('bob'));
const STRANGER = keyBody(ed25519Line('stranger'));
const key = (line: string) => {
  const k = parseAuthorizedKeys(line).keys[0];
  if (!k) throw new Error(`not a key: ${line}`);
  return k;
};

describe('keyLineDifferences: options as sshd reads them', () => {
  const rendered = `from="10.8.0.0/24,fd08::/64",expiry-time="20261231" ${ALICE} alice/laptop`;
  it.each([
    ['the same line', `from="10.8.0.0/24,fd08::/64",expiry-time="20261231" ${ALICE} other comment`, []],
    ['from= patterns in another order, option names in capitals', `EXPIRY-TIME="202612310000",From="fd08::/64,10.8.0.0/24" ${ALICE}`, []],
    ['from= removed', `expiry-time="20261231" ${ALICE}`, ['from= removed (rendered from="10.8.0.0/24,fd08::/64")']],
    ['expiry-time= removed', `from="10.8.0.0/24,fd08::/64" ${ALICE}`, ['expiry-time= removed (rendered expiry-time="20261231000000")']],
    ['from= widened', `from="10.8.0.0/24,fd08::/64,*",expiry-time="20261231" ${ALICE}`, ['from= changed to from="*,10.8.0.0/24,fd08::/64" (rendered from="10.8.0.0/24,fd08::/64")']],
    ['cert-authority added', `cert-authority,from="10.8.0.0/24,fd08::/64",expiry-time="20261231" ${ALICE}`, ['cert-authority added']],
    ['environment= added', `from="10.8.0.0/24,fd08::/64",expiry-time="20261231",environment="LD_PRELOAD=/tmp/x.so" ${ALICE}`, ['environment= added: environment="LD_PRELOAD=/tmp/x.so"']],
    ['command= added', `command="/bin/sh",from="10.8.0.0/24,fd08::/64",expiry-time="20261231" ${ALICE}`, ['command= added: command="/bin/sh"']],
    ['no-pty added', `no-pty,from="10.8.0.0/24,fd08::/64",expiry-time="20261231" ${ALICE}`, ['pty not allowed (rendered: allowed)']],
    ['a different key', `from="10.8.0.0/24,fd08::/64",expiry-time="20261231" ${BOB}`, ['a different key']],
  ])('%s', (_name, onHost, expected) => {
    expect(keyLineDifferences(key(rendered), key(onHost))).toEqual(expected);
  });

  it('restrict equals every no-* flag; restrict,pty equals the others without no-pty', () => {
    const flags = 'no-pty,no-port-forwarding,no-agent-forwarding,no-x11-forwarding,no-user-rc';
    expect(keyLineDifferences(key(`restrict ${ALICE}`), key(`${flags} ${ALICE}`))).toEqual([]);
    expect(keyLineDifferences(key(`restrict,pty ${ALICE}`), key(`${flags.replace('no-pty,', '')} ${ALICE}`))).toEqual([]);
    expect(keyLineDifferences(key(`restrict ${ALICE}`), key(`restrict,port-forwarding ${ALICE}`))).toEqual(['port-forwarding allowed (rendered: not allowed)']);
  });
});

// ------------------------------------------------------------------ the collector's answer

const hex = (s: string) => `x${Buffer.from(s, 'utf8').toString('hex')}`;
const SETTINGS = 'passwordauthentication no\nkbdinteractiveauthentication no\npermitrootlogin without-password\npubkeyauthentication yes\nauthorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2\nauthorizedkeyscommand none\n';
const goodAnswer = (extra: string[] = []) =>
  ['infra-live-collect 1', `hostview 0 ${hex(SETTINGS)}`, `view deploy 0 ${hex(SETTINGS)}`, `passwd deploy 1001 ${hex('/home/deploy')}`, `file deploy keys ${hex('/home/deploy/.ssh/authorized_keys')} ok ${hex(`${ALICE} a\n`)}`, `file deploy keys ${hex('/home/deploy/.ssh/authorized_keys2')} absent`, ...extra, 'end', ''].join('\n');
const ok = (stdout: unknown) => ({ status: 'ok' as const, result: { stdout } });

describe('readCollector: the host answer is hostile input', () => {
  it('reads a well-formed answer', () => {
    const r = readCollector(ok(goodAnswer()), false);
    expect(r.kind).toBe('answer');
    if (r.kind !== 'answer') return;
    expect(r.sshd.hostView).toEqual({ ok: true, settings: expect.objectContaining({ permitrootlogin: 'without-password' }) });
    expect(r.sshd.users.deploy.home).toBe('/home/deploy');
    expect(r.sshd.users.deploy.files).toEqual([
      { kind: 'keys', path: '/home/deploy/.ssh/authorized_keys', state: 'ok', text: `${ALICE} a\n` },
      { kind: 'keys', path: '/home/deploy/.ssh/authorized_keys2', state: 'absent' },
    ]);
  });

  it('skips what a login shell printed before the header', () => {
    expect(readCollector(ok(`Welcome to web1\nlast login: never\n${goodAnswer()}`), false)).toEqual(readCollector(ok(goodAnswer()), false));
  });

  it('reads it with CRLF line ends too (Ansible runs scripts on a terminal)', () => {
    expect(readCollector(ok(goodAnswer().replace(/\n/g, '\r\n')), false)).toEqual(readCollector(ok(goodAnswer()), false));
  });

  const lines = goodAnswer().split('\n');
  it.each([
    ['no header', lines.slice(1).join('\n'), /no collector header \(it starts "hostview 0 x/],
    ['cut short (no end record)', lines.slice(0, -2).join('\n'), /end record/],
    ['odd hex', goodAnswer().replace(hex('/home/deploy'), 'x2f6'), /not in the collector's format/],
    ['hex without its x', goodAnswer().replace(hex('/home/deploy'), hex('/home/deploy').slice(1)), /not in the collector's format/],
    ['an unknown record', goodAnswer(['exec rm -rf /']), /not in the collector's format/],
    ['a second view of one user', goodAnswer([`view deploy 0 ${hex(SETTINGS)}`]), /not in the collector's format/],
    ['a file before its view', goodAnswer([`file other keys ${hex('/x')} absent`]), /comes before its view/],
    ['a user name that is not one', goodAnswer([`view ../etc 0 ${hex('')}`]), /not in the collector's format/],
    ['an unknown file state', goodAnswer([`file deploy keys ${hex('/x')} maybe`]), /not in the collector's format/],
    ['a wg dump nobody asked for', goodAnswer([`wg 0 ${hex('')}`]), /not in the collector's format/],
    ['too many records', goodAnswer(Array.from({ length: 2100 }, () => `file deploy keys ${hex('/x')} absent`)), /more than 2000 records/],
    ['too many files for a user', goodAnswer(Array.from({ length: 40 }, () => `file deploy keys ${hex('/x')} absent`)), /more than 32 files/],
    ['larger than the bound', `${goodAnswer()}${' '.repeat(MAX_ANSWER_BYTES)}`, /larger than/],
  ])('%s: not understood, reported, never thrown', (_name, stdout, why) => {
    const r = readCollector(ok(stdout), false);
    expect(r).toEqual({ kind: 'error', message: expect.stringMatching(why) });
  });

  it('a missing or odd stdout, a failure and an unreachable host are each a reason', () => {
    expect(readCollector(ok(42), false)).toEqual({ kind: 'error', message: 'the collector printed nothing Ansible returned' });
    expect(readCollector({ status: 'failed', message: 'boom', result: {} }, false)).toEqual({ kind: 'error', message: 'the collector failed: boom' });
    expect(readCollector({ status: 'unreachable', message: 'timed out' }, false)).toEqual({ kind: 'unreachable', message: 'timed out' });
  });

  it('a wg dump asked for: read, or its failure kept', () => {
    const r = readCollector(ok(goodAnswer([`wg 1 ${hex('Unable to access interface: Permission denied')}`])), true);
    expect(r.kind === 'answer' && r.wg).toEqual({ error: expect.stringMatching(/exit 1.*Permission denied/) });
    expect(readCollector(ok(goodAnswer()), true)).toEqual({ kind: 'error', message: expect.stringMatching(/no `wg show all dump`/) });
  });

  it('sshd -T failing is a view with its reason', () => {
    const r = readCollector(ok(goodAnswer().replace(`hostview 0 ${hex(SETTINGS)}`, `hostview 255 ${hex('sshd: no hostkeys available -- exiting.')}`)), false);
    expect(r.kind === 'answer' && r.sshd.hostView).toEqual({ ok: false, error: 'sshd -T failed (exit 255): sshd: no hostkeys available -- exiting.' });
  });
});

describe('JsonlEvents: answers as the lines arrive', () => {
  it('joins lines split across chunks, skips noise, and takes the event as the verdict', () => {
    const ev = new JsonlEvents();
    const okLine = JSON.stringify({ _event: 'v2_runner_on_ok', hosts: { web: { stdout: 'x' } } });
    const down = JSON.stringify({ _event: 'v2_runner_on_unreachable', hosts: { db: { msg: 'Connection refused' } } });
    expect(ev.push(`[WARNING]: noise\n${okLine.slice(0, 10)}`)).toEqual([]);
    expect(ev.push(`${okLine.slice(10)}\n{not json}\n${JSON.stringify({ _event: 'v2_playbook_on_stats', hosts: {} })}\n`)).toEqual([['web', { status: 'ok', result: { stdout: 'x' } }]]);
    expect(ev.push(down)).toEqual([]);
    expect(ev.end()).toEqual([['db', { status: 'unreachable', message: 'Connection refused' }]]);
  });
});

// ------------------------------------------------------------------ policy.ssh.host

describe('policy.ssh.host', () => {
  const debian = { passwordauthentication: 'no', kbdinteractiveauthentication: 'no', permitrootlogin: 'without-password', pubkeyauthentication: 'yes', permituserenvironment: 'no', hostbasedauthentication: 'no' };
  it('Debian with passwords off keeps the default policy', () => {
    expect(policyBreaches(debian, DEFAULT_SSH_HOST_POLICY, true)).toEqual([]);
  });
  it.each([
    ['PasswordAuthentication yes', { passwordauthentication: 'yes' }, true, [['PasswordAuthentication', 'yes', 'no']]],
    ['PermitRootLogin yes, for root', { permitrootlogin: 'yes' }, true, [['PermitRootLogin', 'yes', 'prohibit-password']]],
    ['PermitRootLogin yes matters for root only', { permitrootlogin: 'yes' }, false, []],
    ['PermitRootLogin no is fine', { permitrootlogin: 'no' }, true, []],
    ['PermitUserEnvironment with a pattern list', { permituserenvironment: 'LANG,LC_*' }, false, [['PermitUserEnvironment', 'lang,lc_*', 'no']]],
    ['PubkeyAuthentication no', { pubkeyauthentication: 'no' }, false, [['PubkeyAuthentication', 'no', 'yes']]],
  ])('%s', (_name, change, root, expected) => {
    expect(policyBreaches({ ...debian, ...change }, DEFAULT_SSH_HOST_POLICY, root).map((b) => [b.keyword, b.value, b.wanted])).toEqual(expected);
  });
  it('a setting sshd did not print is judged by OpenSSH\'s compiled default (passwords on)', () => {
    expect(policyBreaches({}, DEFAULT_SSH_HOST_POLICY, false).map((b) => b.keyword)).toEqual(['PasswordAuthentication', 'KbdInteractiveAuthentication']);
  });
  it('a policy that allows passwords is honoured', () => {
    expect(policyBreaches({ ...debian, passwordauthentication: 'yes' }, { ...DEFAULT_SSH_HOST_POLICY, password_authentication: true }, false)).toEqual([]);
  });
  it('a policy that allows a way in does not demand it: a host stricter than the policy is fine; PubkeyAuthentication must be as the policy says', () => {
    const lenient = { ...DEFAULT_SSH_HOST_POLICY, password_authentication: true, kbd_interactive_authentication: true, permit_user_environment: true, hostbased_authentication: true };
    expect(policyBreaches(debian, lenient, true)).toEqual([]);
    expect(policyBreaches(debian, { ...DEFAULT_SSH_HOST_POLICY, pubkey_authentication: false }, false).map((b) => [b.keyword, b.value, b.wanted])).toEqual([['PubkeyAuthentication', 'yes', 'no']]);
  });
  it('validation names every bad field and keeps the defaults for them', () => {
    const p = new Problems('infra.yml');
    const policy = validateSshHostPolicy(p, { password_authentication: 'no', permit_root_login: 'without-password', pubkey: true, kbd_interactive_authentication: true });
    expect(p.list.map((x) => [x.field, x.message])).toEqual([
      ['policy.ssh.host.pubkey', expect.stringMatching(/^unknown field/)],
      ['policy.ssh.host.password_authentication', 'must be true or false'],
      ['policy.ssh.host.permit_root_login', expect.stringMatching(/^must be one of no, forced-commands-only, prohibit-password, yes/)],
    ]);
    expect(policy).toEqual({ ...DEFAULT_SSH_HOST_POLICY, kbd_interactive_authentication: true });
    const q = new Problems('infra.yml');
    validateSshHostPolicy(q, ['yes']);
    expect(q.list.map((x) => x.message)).toEqual(['must be a mapping']);
  });
});

// ------------------------------------------------------------------ findings

const INVENTORY = parseYamlInventory('all:\n  hosts:\n    web1:\n', 'hosts.yml');
const config: InfraConfig = {
  org: 'Co-op',
  admins: [],
  environments: { production: 'inventories/production' },
  policy: DEFAULT_POLICY,
  access: [{ groups: ['infra'], hosts: 'all', user: 'deploy' }, { groups: ['infra'], hosts: 'all', user: 'backup' }],
  vpn: {},
};
const member = (handle: string, line: string): Member =>
  ({ handle, name: handle, kind: 'human', org: 'o', email: `${handle}@x.org`, status: 'active', groups: ['infra'], ssh_keys: [{ name: 'laptop', key: line, added: '2026-01-01' }], vpn_peers: [], tokens: [] }) as unknown as Member;
const members = [member('alice', ALICE), member('bob', BOB)];
const plan = planAccess(config, members, { production: INVENTORY });
const SETTINGS_OBJ = { passwordauthentication: 'no', kbdinteractiveauthentication: 'no', permitrootlogin: 'without-password', pubkeyauthentication: 'yes', authorizedkeyscommand: 'none' };
const keysFile = (text: string, name = 'authorized_keys'): SshdFile => ({ kind: 'keys', path: `/home/u/.ssh/${name}`, state: 'ok', text });
function answer(files: SshdFile[], settings: Record<string, string> = {}): SshdAnswer {
  const view = { ok: true as const, settings: { ...SETTINGS_OBJ, ...settings } };
  const user = { view, exists: true, home: '/home/u', files };
  return { hostView: view, users: { deploy: user, backup: { ...user, files: [keysFile(`${ALICE} a\n${BOB} b\n`)] } } };
}
function findings(sshd: SshdAnswer, extra: Partial<LiveAuditInput> = {}) {
  const departed: string[] = [];
  const out = liveSshdFindings({
    live: [{ environment: 'production', host: 'web1', sshd }],
    config,
    plan,
    folderOf: () => 'inventories/production',
    owners: new Map(),
    departedAt: (b, where) => (b === STRANGER.split(' ')[1] ? (departed.push(where), true) : false),
    ...extra,
  });
  return { found: out.map((f) => [f.code, f.subject.replace(/SHA256:\S+/, 'SHA256:…')]), out, departed };
}

describe('liveSshdFindings', () => {
  const healthy = keysFile(`${ALICE} alice/laptop\n${BOB} bob/laptop\n`);
  it('a healthy host: nothing', () => {
    expect(findings(answer([healthy, { kind: 'keys', path: '/home/u/.ssh/authorized_keys2', state: 'absent' }])).found).toEqual([]);
  });
  it('a line sshd skips grants nothing and is no finding', () => {
    expect(findings(answer([keysFile(`${ALICE} a\nhello world\n---- BEGIN SSH2 PUBLIC KEY ----\n${BOB} b\n`)])).found).toEqual([]);
  });
  it('one AuthorizedKeysCommand for two users is one finding naming both', () => {
    const { out } = findings(answer([healthy], { authorizedkeyscommand: '/usr/bin/sss_ssh_authorizedkeys %u', authorizedkeyscommanduser: 'nobody' }));
    expect(out.map((f) => [f.code, f.subject])).toEqual([['unmanaged-auth', 'production/web1 AuthorizedKeysCommand']]);
    expect(out[0].detail).toBe('sshd runs `/usr/bin/sss_ssh_authorizedkeys %u` as nobody to decide who may log in as backup, deploy; the registry does not manage what it answers');
  });
  it('a TrustedUserCAKeys CA: the registry\'s is managed, another is unknown-ca', () => {
    const ca: SshdFile = { kind: 'ca', path: '/etc/ssh/user_ca.pub', state: 'ok', text: `${STRANGER}\n${ALICE}\n` };
    const asCA = answer([healthy, ca]);
    expect(findings(asCA, { registryUserCAs: [ALICE.split(' ')[1]] }).found).toEqual([['unknown-ca', 'production/web1 TrustedUserCAKeys SHA256:…']]);
    expect(findings(asCA, { registryUserCAs: [ALICE.split(' ')[1], STRANGER.split(' ')[1]] }).found).toEqual([]);
  });
  it('a file too large to read is unmanaged-auth; a departed key in authorized_keys2 is departed-access, not also unmanaged', () => {
    const big: SshdFile = { kind: 'keys', path: '/home/u/.ssh/authorized_keys2', state: 'toolarge', size: 10_000_000 };
    expect(findings(answer([healthy, big])).found).toEqual([['unmanaged-auth', 'production/web1 deploy /home/u/.ssh/authorized_keys2']]);
    const r = findings(answer([healthy, keysFile(`${STRANGER}\n`, 'authorized_keys2')]));
    expect(r.found).toEqual([]);
    expect(r.departed).toEqual(['production/web1 as deploy (/home/u/.ssh/authorized_keys2 line 1)']);
  });
  it('a granted key only in authorized_keys2 is missing from the managed file and unmanaged where it is', () => {
    expect(findings(answer([keysFile(`${ALICE} a\n`), keysFile(`${BOB} b\n`, 'authorized_keys2')])).found).toEqual([
      ['unmanaged-auth', 'production/web1 deploy SHA256:…'],
      ['missing-key', 'bob/laptop production/web1 deploy'],
    ]);
  });
  it('a granted key in RevokedKeys is missing-key, naming why', () => {
    const { out } = findings(answer([healthy, { kind: 'revoked', path: '/etc/ssh/revoked', state: 'ok', text: `${BOB}\n` }]));
    expect(out.map((f) => [f.code, f.subject, f.detail])).toEqual([['missing-key', 'bob/laptop production/web1 deploy', "granted, but listed in sshd's RevokedKeys file, so sshd refuses it"]]);
  });
  it('a user the host lacks, and sshd -T failing, are unreachable-host with the reason', () => {
    const a = answer([healthy]);
    const r = findings({ ...a, users: { ...a.users, deploy: { ...a.users.deploy, exists: false } } });
    expect(r.found).toEqual([['unreachable-host', 'production/web1 deploy']]);
    const failing = findings({ hostView: { ok: false, error: 'sshd -T failed (exit 255): no hostkeys' }, users: {} });
    expect(failing.out.map((f) => [f.code, f.subject, f.detail])).toEqual([['unreachable-host', 'production/web1 sshd', 'could not ask sshd for its settings: sshd -T failed (exit 255): no hostkeys']]);
  });
  it('every live code has the severity the audit table gives it', () => {
    for (const [code, severity] of Object.entries(LIVE_SEVERITY)) expect([code, severity]).toEqual([code, CODES[code as keyof typeof CODES]]);
  });
});

describe('askedAddress', () => {
  it('VPN-only users are asked from inside the first VPN range, anyone else from the internet', () => {
    const vpnOnly = { granted: [{ vpnOnly: true }], revoked: [] } as never;
    const mixed = { granted: [{ vpnOnly: true }, { vpnOnly: false }], revoked: [] } as never;
    expect(askedAddress(vpnOnly, ['10.77.0.0/24', 'fd77::/64'])).toBe('10.77.0.1');
    expect(askedAddress(mixed, ['10.77.0.0/24'])).toBe('192.0.2.1');
    expect(askedAddress(undefined, ['10.77.0.0/24'])).toBe('192.0.2.1');
    expect(askedAddress(vpnOnly, ['not a range'])).toBe('192.0.2.1');
  });
});
