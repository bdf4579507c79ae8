import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { validateConfig } from '../../src/core/validate.js';
import { REPO_ROOT } from '../helpers/example.js';
import { auditFindings, CODES, liveTargets, sortFindings, variableNames, vpnDumpFindings, type AuditInput, type Finding, type LiveHost } from '../../src/core/audit.js';
import { hostsOf, planAccess } from '../../src/core/grants.js';
import { buildCatalog, type KeyringEntry } from '../../src/core/secrets.js';
import { parseYamlInventory } from '../../src/core/inventory.js';
import { planRender } from '../../src/core/render.js';
import { DEFAULT_POLICY, type InfraConfig, type Member, type SshKeyEntry, type TokenEntry } from '../../src/core/types.js';
import { parseWgDump } from '../../src/core/wg-dump.js';
import { ed25519Line, keyBody, rsaLine } from '../helpers/registry-fixture.js';
import { meetNetwork } from '../helpers/networks.js';

const AS_OF = '2026-11-22';
const INVENTORY = 'all:\n  children:\n    bbb:\n      hosts:\n        bbb1:\n    vpn:\n      hosts:\n        vpn1:\n  hosts:\n    web1:\n';
const inventories = { production: parseYamlInventory(INVENTORY, 'inventories/production/hosts.yml') };

const ALICE = keyBody(ed25519Line('alice-laptop'));
const BOB = keyBody(ed25519Line('bob-laptop'));
const CAROL = keyBody(ed25519Line('carol-laptop'));
const STRANGER = keyBody(ed25519Line('stranger'));
const WEAK_RSA = keyBody(rsaLine(2048));
const wgKey = (n: number) => Buffer.alloc(32, n).toString('base64');
const SERVER_WG = wgKey(9);

/** OpenSSH's fingerprint, computed here from the base64 (independently of src/). */
const fingerprint = (body: string) => `SHA256:${createHash('sha256').update(Buffer.from(body.split(' ')[1], 'base64')).digest('base64').replace(/=+$/, '')}`;

function member(handle: string, over: Partial<Member> = {}): Member {
  return { handle, name: `Test ${handle}`, kind: 'human', org: 'o', status: 'active', groups: [], ssh_keys: [], vpn_peers: [], tokens: [], has_pgp: false, ...over };
}
const key = (name: string, body: string, over: Partial<SshKeyEntry> = {}): SshKeyEntry => ({ name, key: `${body} ${name}@test`, added: '2026-01-10', ...over });

function config(over: Partial<InfraConfig> = {}): InfraConfig {
  return {
    org: 'Test',
    admins: ['alice', 'bob'],
    environments: { production: 'inventories/production' },
    policy: { ...structuredClone(DEFAULT_POLICY), ssh: { ...DEFAULT_POLICY.ssh, vpn_only_hosts: 'bbb' } },
    access: [
      { groups: ['infra'], hosts: 'all', user: 'sysadmin', vpn_only: true },
      { groups: ['meet-tech'], hosts: 'bbb', user: 'sysadmin', vpn_only: true },
    ],
    vpn: { meet: meetNetwork({ server_public_key: SERVER_WG, reserved: ['10.77.0.1', 'fd77:77::1'], allowed_ips: ['10.77.0.0/24', 'fd77:77::/64'] }) },
    ...over,
  };
}

type Token = TokenEntry & { expires_at?: string; readable_by?: string[]; pending?: { started_at: string; started_by: string; left: string[] } };
const token = (over: Partial<Token> = {}): Token => ({
  name: 'github',
  kind: 'github',
  rotated_at: '2026-11-01',
  rotated_by: 'alice',
  expires_at: '2027-06-01',
  readable_by: ['alice', 'bob'],
  consumers: [{ github_secret: { repo: 'example-coop/site', name: 'BOT_TOKEN' } }],
  ...over,
});

function members(): Member[] {
  return [
    member('alice', {
      groups: ['infra'],
      has_pgp: true,
      ssh_keys: [key('laptop', ALICE)],
      vpn_peers: [{ device: 'laptop', network: 'meet', public_key: wgKey(1), addresses: ['10.77.0.5/32', 'fd77:77::5/128'], added: '2026-01-10' }],
    }),
    member('bob', {
      groups: ['infra', 'meet-tech'],
      has_pgp: true,
      ssh_keys: [key('laptop', BOB)],
      vpn_peers: [{ device: 'phone', network: 'meet', public_key: wgKey(2), addresses: ['10.77.0.6/32'], added: '2026-01-10' }],
    }),
    member('roobot', { kind: 'bot', tokens: [token()] }),
  ];
}

/** What `infra render` would write for these members: the files on disk when the last render is current. */
function renderedFor(cfg: InfraConfig, ms: Member[]): Map<string, string> {
  return planRender({ root: '', config: cfg, members: ms }, inventories, new Map()).files;
}

const at = (iso: string) => Math.floor(Date.parse(iso) / 1000);
function dumpText(peers: Array<{ key: string; handshake: number; ips: string }>): string {
  return [`meet\t${wgKey(50)}\t${SERVER_WG}\t51820\toff`, ...peers.map((p) => `meet\t${p.key}\t(none)\t192.0.2.1:4000\t${p.ips}\t${p.handshake}\t10\t20\toff`), ''].join('\n');
}
const HEALTHY_DUMP = dumpText([
  { key: wgKey(1), handshake: at('2026-11-20T10:00:00Z'), ips: '10.77.0.5/32,fd77:77::5/128' },
  { key: wgKey(2), handshake: at('2026-11-21T10:00:00Z'), ips: '10.77.0.6/32' },
]);

const FROM = 'from="10.77.0.0/24,fd77:77::/64"';
const healthyKeys = `# managed by ansible\n${FROM} ${ALICE} alice/laptop\n${FROM} ${BOB} bob/laptop\n`;
const liveHost = (host: string, text: string | null = healthyKeys): LiveHost => ({ environment: 'production', host, authorizedKeys: { sysadmin: text } });
const HEALTHY_LIVE = ['bbb1', 'vpn1', 'web1'].map((h) => liveHost(h));
/** A host as the sshd collector answers: Debian's defaults, the healthy authorized_keys, and what a case changes. */
const SSHD_DEFAULTS = { passwordauthentication: 'no', kbdinteractiveauthentication: 'no', permitrootlogin: 'without-password', pubkeyauthentication: 'yes', permituserenvironment: 'no', hostbasedauthentication: 'no', authorizedkeyscommand: 'none', authorizedkeysfile: '.ssh/authorized_keys .ssh/authorized_keys2' };
function sshdHost(host: string, change: { settings?: Record<string, string>; keys2?: string; ca?: string } = {}): LiveHost {
  const settings = { ...SSHD_DEFAULTS, ...change.settings };
  const files = [
    { kind: 'keys' as const, path: '/home/sysadmin/.ssh/authorized_keys', state: 'ok' as const, text: healthyKeys },
    change.keys2 === undefined ? { kind: 'keys' as const, path: '/home/sysadmin/.ssh/authorized_keys2', state: 'absent' as const } : { kind: 'keys' as const, path: '/home/sysadmin/.ssh/authorized_keys2', state: 'ok' as const, text: change.keys2 },
    ...(change.ca === undefined ? [] : [{ kind: 'ca' as const, path: '/etc/ssh/ca.pub', state: 'ok' as const, text: change.ca }]),
  ];
  return { environment: 'production', host, sshd: { hostView: { ok: true, settings }, users: { sysadmin: { view: { ok: true, settings }, exists: true, home: '/home/sysadmin', files } } } };
}

/** The healthy registry with everything: rendered files current, a dump and live results that match. */
function healthy(): AuditInput {
  const cfg = config();
  const ms = members();
  return { asOf: AS_OF, config: cfg, members: ms, inventories, rendered: renderedFor(cfg, ms), varFiles: [], wgDumps: [{ dump: parseWgDump(HEALTHY_DUMP) }], live: HEALTHY_LIVE };
}

/** A registry-level situation: members and config changed, the render brought up to date, no dump or live data. */
function registryCase(change: (cfg: InfraConfig, ms: Member[]) => void): AuditInput {
  const cfg = config();
  const ms = members();
  change(cfg, ms);
  return { asOf: AS_OF, config: cfg, members: ms, inventories, rendered: renderedFor(cfg, ms), varFiles: [] };
}

const find = (ms: Member[], handle: string) => ms.find((m) => m.handle === handle)!;

/** alice, bob and dana's certificates as key ids (A1, B1, D1): what a message's recipients are named through. */
const KEYRING: KeyringEntry[] = [
  { handle: 'alice', certificates: [{ fingerprint: 'A'.repeat(40), keyIds: ['A0', 'A1'] }] },
  { handle: 'bob', certificates: [{ fingerprint: 'B'.repeat(40), keyIds: ['B0', 'B1'] }] },
  { handle: 'dana', certificates: [{ fingerprint: 'D'.repeat(40), keyIds: ['D0', 'D1'] }] },
];

/** The input with a catalog of secrets whose ciphertexts are encrypted to the key ids given. */
function withSecrets(input: AuditInput, files: Array<[string, string[]]>): AuditInput {
  return { ...input, secrets: buildCatalog(files.map(([path, recipients]) => ({ path, recipients, digest: 'd' })), input.members, KEYRING) };
}
const codes = (fs: Finding[]) => [...new Set(fs.map((f) => f.code))].sort();

describe('auditFindings: a healthy registry', () => {
  it('produces no finding, with rendered files, a dump and live results all current', () => {
    expect(auditFindings(healthy()).findings).toEqual([]);
  });

  it('accepts the rendered files as bytes as well as text', () => {
    const input = healthy();
    input.rendered = new Map([...input.rendered!].map(([p, text]) => [p, new TextEncoder().encode(text as string)]));
    expect(auditFindings(input).findings).toEqual([]);
  });
});

interface Case {
  name: string;
  input: () => AuditInput;
  expected: Partial<Finding> & Pick<Finding, 'code' | 'severity' | 'subject' | 'fix'>;
  /** Every code the situation produces (default: only the expected one). */
  codes?: string[];
}

const cases: Case[] = [
  {
    name: 'invalid-registry: each problem is a finding, and the rest of the audit still runs',
    input: () => ({
      ...registryCase((_c, ms) => find(ms, 'alice').ssh_keys.push(key('old', STRANGER, { expires: '2026-10-01' }))),
      problems: [{ file: 'keys/erin/member.yml', line: 4, field: 'ssh_keys[0].key', message: 'not an SSH public key' }],
    }),
    expected: { code: 'invalid-registry', severity: 'high', subject: 'keys/erin/member.yml:4 ssh_keys[0].key', fix: 'edit keys/erin/member.yml:4 (ssh_keys[0].key: not an SSH public key), then run `infra check`' },
    codes: ['expired-key', 'invalid-registry'],
  },
  {
    name: 'weak-key: RSA below min_rsa_bits',
    input: () => registryCase((_c, ms) => find(ms, 'alice').ssh_keys.push(key('old-rsa', WEAK_RSA))),
    expected: { code: 'weak-key', severity: 'high', subject: 'alice/old-rsa', fix: 'infra keys remove alice old-rsa' },
  },
  {
    name: 'weak-key: a type the policy does not allow',
    input: () =>
      registryCase((c) => {
        c.policy.ssh.allowed_types = ['rsa'];
      }),
    expected: { code: 'weak-key', severity: 'high', subject: 'alice/laptop', fix: 'infra keys remove alice laptop' },
    // alice's only key fails the policy: she reaches nothing any more
    codes: ['no-access', 'single-member-host', 'weak-key'],
  },
  {
    name: 'expired-key: expires on the audit date (sshd refuses it from that day)',
    input: () => registryCase((_c, ms) => (find(ms, 'bob').ssh_keys[0].expires = AS_OF)),
    expected: { code: 'expired-key', severity: 'high', subject: 'bob/laptop', fix: 'infra keys remove bob laptop' },
  },
  {
    name: 'key-expiring: within the horizon',
    input: () => registryCase((_c, ms) => (find(ms, 'bob').ssh_keys[0].expires = '2026-12-10')),
    expected: { code: 'key-expiring', severity: 'low', subject: 'bob/laptop', fix: '`infra keys add bob NEW_KEY.pub`, then `infra keys remove bob laptop`' },
  },
  {
    name: 'old-key: added more than max_age_days ago',
    input: () => registryCase((_c, ms) => (find(ms, 'alice').ssh_keys[0].added = '2024-11-21')),
    expected: { code: 'old-key', severity: 'medium', subject: 'alice/laptop', fix: '`infra keys add alice NEW_KEY.pub`, then `infra keys remove alice laptop`' },
  },
  {
    name: 'duplicate-key: one blob under two principals, whatever the comment',
    input: () => registryCase((_c, ms) => find(ms, 'bob').ssh_keys.push({ name: 'copy', key: `${ALICE} someone-else`, added: '2026-02-01' })),
    expected: { code: 'duplicate-key', severity: 'high', subject: fingerprint(ALICE), fix: 'infra keys remove bob copy' },
  },
  {
    name: 'departed-access: a departed member still granted in a rendered file',
    input: () => {
      const input = healthy();
      const ms = members();
      ms.push(member('carol', { groups: ['infra'], ssh_keys: [key('laptop', CAROL)] }));
      input.rendered = renderedFor(input.config!, ms); // rendered while carol was active
      ms[3] = { ...ms[3], status: 'departed', departed: '2026-11-01' };
      return { ...input, members: ms, wgDumps: [], live: [] };
    },
    expected: { code: 'departed-access', severity: 'high', subject: 'carol/laptop', fix: 'infra render, then apply it: `ansible-playbook -i inventories/production ansible/apply-access.yml --tags ssh`' },
    codes: ['departed-access', 'stale-render'],
  },
  {
    name: 'departed-access: a departed member\'s key on a live host',
    input: () => {
      const input = healthy();
      input.members = [...members(), member('carol', { status: 'departed', departed: '2026-11-01', groups: ['infra'], ssh_keys: [key('laptop', CAROL)] })];
      input.rendered = renderedFor(input.config!, input.members as Member[]);
      input.live = [...HEALTHY_LIVE.slice(0, 2), liveHost('web1', `${healthyKeys}${CAROL} carol@laptop\n`)];
      return input;
    },
    expected: { code: 'departed-access', severity: 'high', subject: 'carol/laptop', fix: 'infra render, then apply it: `ansible-playbook -i inventories/production ansible/apply-access.yml --tags ssh`' },
  },
  {
    name: 'departed-access: a departed member\'s device in a WireGuard dump',
    input: () => {
      const input = healthy();
      input.members = [...members(), member('carol', { status: 'departed', departed: '2026-11-01', vpn_peers: [{ device: 'phone', network: 'meet', public_key: wgKey(3), addresses: ['10.77.0.7/32'], added: '2026-01-10' }] })];
      input.rendered = renderedFor(input.config!, input.members as Member[]);
      input.wgDumps = [{ dump: parseWgDump(`${HEALTHY_DUMP}meet\t${wgKey(3)}\t(none)\t(none)\t10.77.0.7/32\t${at('2026-11-21T00:00:00Z')}\t1\t1\toff\n`) }];
      return input;
    },
    expected: { code: 'departed-access', severity: 'high', subject: 'carol/phone', fix: 'infra render, then apply it: ansible/wireguard.yml on the meet servers' },
  },
  {
    name: 'stale-render: a generated file edited by hand',
    input: () => {
      const input = registryCase(() => undefined);
      const rendered = new Map(input.rendered!);
      rendered.set('inventories/production/host_vars/web1/infra.generated.yml', `${rendered.get('inventories/production/host_vars/web1/infra.generated.yml')} `);
      return { ...input, rendered };
    },
    expected: { code: 'stale-render', severity: 'high', subject: 'inventories/production/host_vars/web1/infra.generated.yml', fix: 'infra render' },
  },
  {
    name: 'stale-render: a generated file missing',
    input: () => {
      const input = registryCase(() => undefined);
      const rendered = new Map(input.rendered!);
      rendered.delete('inventories/production/host_vars/vpn1/infra.generated.yml');
      return { ...input, rendered };
    },
    expected: { code: 'stale-render', severity: 'high', subject: 'inventories/production/host_vars/vpn1/infra.generated.yml', fix: 'infra render' },
  },
  {
    name: 'stale-render: a generated file of a host gone from the inventory',
    input: () => {
      const input = registryCase(() => undefined);
      const rendered = new Map(input.rendered!);
      rendered.set('inventories/production/host_vars/old1/infra.generated.yml', rendered.get('inventories/production/host_vars/web1/infra.generated.yml')!);
      return { ...input, rendered };
    },
    expected: { code: 'stale-render', severity: 'high', subject: 'inventories/production/host_vars/old1/infra.generated.yml', fix: 'infra render' },
  },
  {
    name: 'shadowed-render: another host_vars file defines infra_authorized_keys',
    input: () => ({ ...registryCase(() => undefined), varFiles: [{ path: 'inventories/production/host_vars/bbb1/zz.yml', variables: ['ntp_server', 'infra_authorized_keys'] }] }),
    expected: {
      code: 'shadowed-render',
      severity: 'high',
      subject: 'inventories/production/host_vars/bbb1/zz.yml',
      fix: 'remove infra_authorized_keys from inventories/production/host_vars/bbb1/zz.yml (only `infra render` writes infra_* variables)',
    },
  },
  {
    name: 'shadowed-render: a group_vars file defines an infra_* variable',
    input: () => ({ ...registryCase(() => undefined), varFiles: [{ path: 'inventories/production/group_vars/all/keys.yml', variables: ['infra_revoked_keys'] }] }),
    expected: {
      code: 'shadowed-render',
      severity: 'high',
      subject: 'inventories/production/group_vars/all/keys.yml',
      fix: 'remove infra_revoked_keys from inventories/production/group_vars/all/keys.yml (only `infra render` writes infra_* variables)',
    },
  },
  {
    name: 'vpn-bypass: a grant reaches a vpn_only_hosts host without vpn_only',
    input: () => registryCase((c) => c.access.push({ groups: ['infra'], hosts: 'all', user: 'deploy' })),
    expected: {
      code: 'vpn-bypass',
      severity: 'high',
      subject: 'access[2] in production',
      fix: 'in infra.yml, add `vpn_only: true` to access[2] (or exclude them from its hosts: "all:!bbb"), then `infra render`',
    },
  },
  {
    name: 'unknown-key: a key on a live host that the registry does not grant there',
    input: () => ({ ...healthy(), live: [...HEALTHY_LIVE.slice(0, 2), liveHost('web1', `${healthyKeys}${STRANGER} stranger@x\n`)] }),
    expected: {
      code: 'unknown-key',
      severity: 'high',
      subject: `production/web1 sysadmin ${fingerprint(STRANGER)}`,
      fix: 'infra render, then `ansible-playbook -i inventories/production ansible/apply-access.yml --tags ssh --limit web1`',
    },
  },
  {
    name: 'altered-key: a granted key whose rendered from= was removed on the host, and cert-authority added',
    input: () => ({ ...healthy(), live: [...HEALTHY_LIVE.slice(0, 2), liveHost('web1', `# managed by ansible\ncert-authority ${ALICE} alice/laptop\n${FROM} ${BOB} bob/laptop\n`)] }),
    expected: {
      code: 'altered-key',
      severity: 'high',
      subject: 'alice/laptop production/web1 sysadmin',
      detail: '~sysadmin/.ssh/authorized_keys line 2 holds the key with options other than the rendered ones: cert-authority added; from= removed (rendered from="10.77.0.0/24,fd77:77::/64")',
      fix: 'infra render, then `ansible-playbook -i inventories/production ansible/apply-access.yml --tags ssh --limit web1`',
    },
  },
  {
    name: 'unmanaged-auth: a key in authorized_keys2, which sshd reads too',
    input: () => ({ ...healthy(), live: [...HEALTHY_LIVE.slice(0, 2), sshdHost('web1', { keys2: `${STRANGER} stranger@x\n` })] }),
    expected: {
      code: 'unmanaged-auth',
      severity: 'high',
      subject: `production/web1 sysadmin ${fingerprint(STRANGER)}`,
      fix: 'infra render, then `ansible-playbook -i inventories/production ansible/apply-access.yml --tags ssh --limit web1` (the apply empties /home/sysadmin/.ssh/authorized_keys2)',
    },
  },
  {
    name: 'unknown-ca: sshd trusts a user CA that is not the registry\'s',
    input: () => ({ ...healthy(), live: [...HEALTHY_LIVE.slice(0, 2), sshdHost('web1', { ca: `${STRANGER}\n` })] }),
    expected: { code: 'unknown-ca', severity: 'high', subject: `production/web1 TrustedUserCAKeys ${fingerprint(STRANGER)}`, fix: 'remove that line from /etc/ssh/ca.pub on web1 (or the TrustedUserCAKeys setting), then reload sshd' },
  },
  {
    name: 'host-sshd-policy: sshd takes passwords',
    input: () => ({ ...healthy(), live: [...HEALTHY_LIVE.slice(0, 2), sshdHost('web1', { settings: { passwordauthentication: 'yes' } })] }),
    expected: {
      code: 'host-sshd-policy',
      severity: 'medium',
      subject: 'production/web1 PasswordAuthentication',
      detail: 'sshd uses `PasswordAuthentication yes` (for root, sysadmin); policy.ssh.host allows at most `PasswordAuthentication no`',
      fix: "set `PasswordAuthentication no` in web1's sshd_config (and in every Match block that sets it), then reload sshd (`systemctl reload ssh`)",
    },
  },
  {
    name: 'missing-key: a granted key absent from a live host',
    input: () => ({ ...healthy(), live: [...HEALTHY_LIVE.slice(0, 2), liveHost('web1', `${FROM} ${ALICE} alice/laptop\n`)] }),
    expected: {
      code: 'missing-key',
      severity: 'medium',
      subject: 'bob/laptop production/web1 sysadmin',
      fix: 'infra render, then `ansible-playbook -i inventories/production ansible/apply-access.yml --tags ssh --limit web1`',
    },
  },
  {
    name: 'missing-key: no authorized_keys file at all',
    input: () => ({ ...healthy(), live: [...HEALTHY_LIVE.slice(0, 2), liveHost('web1', null)] }),
    expected: {
      code: 'missing-key',
      severity: 'medium',
      subject: 'alice/laptop production/web1 sysadmin',
      fix: 'infra render, then `ansible-playbook -i inventories/production ansible/apply-access.yml --tags ssh --limit web1`',
    },
  },
  {
    name: 'unreachable-host: a host that did not answer',
    input: () => ({ ...healthy(), live: [...HEALTHY_LIVE.slice(0, 2), { environment: 'production', host: 'web1', unreachable: 'Connection refused' }] }),
    expected: {
      code: 'unreachable-host',
      severity: 'medium',
      subject: 'production/web1',
      fix: 'check it with `ansible -i inventories/production web1 -m ansible.builtin.ping`; an unknown host key is added to known_hosts only after checking its fingerprint',
    },
  },
  {
    name: 'unknown-peer: the VPN server accepts a peer the registry does not know',
    input: () => ({ ...healthy(), wgDumps: [{ source: 'vpn1', dump: parseWgDump(`${HEALTHY_DUMP}meet\t${wgKey(7)}\t(none)\t(none)\t10.77.0.99/32\t0\t0\t0\toff\n`) }] }),
    expected: {
      code: 'unknown-peer',
      severity: 'high',
      subject: `vpn1:meet/${wgKey(7)}`,
      fix: `remove it from the server: \`infra render\`, then apply ansible/wireguard.yml (or \`wg set meet peer ${wgKey(7)} remove\`)`,
    },
  },
  {
    name: 'idle-peer: no handshake for idle_days',
    input: () =>
      ({
        ...healthy(),
        wgDumps: [{ dump: parseWgDump(dumpText([{ key: wgKey(1), handshake: at('2026-08-24T10:00:00Z'), ips: '10.77.0.5/32' }, { key: wgKey(2), handshake: at('2026-11-21T10:00:00Z'), ips: '10.77.0.6/32' }])) }],
      }),
    expected: { code: 'idle-peer', severity: 'low', subject: 'alice/laptop', fix: 'if the device is gone: infra vpn leave alice --device laptop --network meet' },
  },
  {
    name: 'idle-peer: never a handshake since an enrolment idle_days ago',
    input: () =>
      ({
        ...healthy(),
        wgDumps: [{ dump: parseWgDump(dumpText([{ key: wgKey(1), handshake: 0, ips: '10.77.0.5/32' }, { key: wgKey(2), handshake: at('2026-11-21T10:00:00Z'), ips: '10.77.0.6/32' }])) }],
      }),
    expected: { code: 'idle-peer', severity: 'low', subject: 'alice/laptop', fix: 'if the device is gone: infra vpn leave alice --device laptop --network meet' },
  },
  {
    name: 'token-overdue: past rotated_at + rotate_every_days',
    input: () => registryCase((_c, ms) => (find(ms, 'roobot').tokens[0] = token({ rotated_at: '2026-08-01' }))),
    expected: { code: 'token-overdue', severity: 'high', subject: 'roobot/github', fix: 'infra tokens rotate roobot/github' },
  },
  {
    name: 'token-overdue: never rotated with infra',
    input: () => registryCase((_c, ms) => (find(ms, 'roobot').tokens[0] = token({ rotated_at: undefined }))),
    expected: { code: 'token-overdue', severity: 'high', subject: 'roobot/github', fix: 'infra tokens rotate roobot/github' },
  },
  {
    name: 'token-expiring (high): GitHub expiry is past',
    input: () => registryCase((_c, ms) => (find(ms, 'roobot').tokens[0] = token({ expires_at: '2026-11-20' }))),
    expected: { code: 'token-expiring', severity: 'high', subject: 'roobot/github', fix: 'infra tokens rotate roobot/github' },
  },
  {
    name: 'token-expiring (low): GitHub expiry within the horizon',
    input: () => registryCase((_c, ms) => (find(ms, 'roobot').tokens[0] = token({ expires_at: '2026-12-15' }))),
    expected: { code: 'token-expiring', severity: 'low', subject: 'roobot/github', fix: 'infra tokens rotate roobot/github' },
  },
  {
    // old data: a readable_by written before the ciphertexts were read is still judged, under the new code
    name: 'secret-exposed: the recorded readable_by names someone no longer an admin',
    input: () => registryCase((_c, ms) => (find(ms, 'roobot').tokens[0] = token({ readable_by: ['alice', 'bob', 'dana'] }))),
    expected: { code: 'secret-exposed', severity: 'high', subject: 'roobot/github', fix: 'infra tokens rotate roobot/github' },
  },
  {
    name: 'secret-exposed: the vault password ciphertext is encrypted to dana, no longer an admin',
    input: () => withSecrets(registryCase(() => undefined), [['vault/password.asc', ['A1', 'B1', 'D1']]]),
    expected: { code: 'secret-exposed', severity: 'high', subject: 'vault/password.asc', fix: 'infra vault rotate --key YOUR-KEY.asc' },
  },
  {
    name: 'secret-exposed: a token value encrypted to a key no member holds',
    input: () => withSecrets(registryCase(() => undefined), [['keys/roobot/tokens/github.asc', ['A1', 'B1', 'EE']]]),
    expected: { code: 'secret-exposed', severity: 'high', subject: 'roobot/github', fix: 'infra tokens rotate roobot/github' },
  },
  {
    name: 'ca-exposed: the CA key is encrypted to a departed admin (one finding, not also secret-exposed)',
    input: () => withSecrets(registryCase((_c, ms) => ms.push(member('dana', { status: 'departed', departed: '2026-11-01', has_pgp: true }))), [['ca/user_ca.asc', ['A1', 'B1', 'D1']]]),
    expected: { code: 'ca-exposed', severity: 'high', subject: 'ca/user_ca.asc', fix: 'infra ca rotate' },
  },
  {
    name: 'secret-not-readable: a token value not encrypted to admin bob',
    input: () => withSecrets(registryCase(() => undefined), [['keys/roobot/tokens/github.asc', ['A1']]]),
    expected: { code: 'secret-not-readable', severity: 'medium', subject: 'roobot/github', fix: 'infra tokens reencrypt --key YOUR-KEY.asc' },
  },
  {
    name: 'secret-exposed: readable by a departed admin still listed',
    input: () =>
      registryCase((c, ms) => {
        c.admins.push('carol');
        ms.push(member('carol', { status: 'departed', departed: '2026-11-01', has_pgp: true }));
        find(ms, 'roobot').tokens[0] = token({ readable_by: ['alice', 'bob', 'carol'] });
      }),
    expected: { code: 'secret-exposed', severity: 'high', subject: 'roobot/github', fix: 'infra tokens rotate roobot/github' },
  },
  {
    name: 'rotation-incomplete: a pending rotation',
    input: () =>
      registryCase((_c, ms) => (find(ms, 'roobot').tokens[0] = token({ pending: { started_at: '2026-11-20', started_by: 'alice', left: ['github_secret:example-coop/site:BOT_TOKEN'] } }))),
    expected: { code: 'rotation-incomplete', severity: 'high', subject: 'roobot/github', fix: 'infra tokens rotate roobot/github --resume --key ADMIN_KEY.asc' },
  },
  {
    name: 'cert-long-lived: a certificate in force for longer than policy.certs.max_hours',
    input: () =>
      registryCase((_c, ms) => {
        find(ms, 'bob').certificates = [
          { serial: 7, key: 'laptop', fingerprint: `SHA256:${'B'.repeat(43)}`, ca: `SHA256:${'C'.repeat(43)}`, valid_after: '2026-11-21T12:00:00Z', valid_before: '2026-11-23T12:00:00Z', signed_by: 'alice', reason: 'hand-edited' },
          // as long, but expired: nothing to report
          { serial: 6, key: 'laptop', fingerprint: `SHA256:${'B'.repeat(43)}`, ca: `SHA256:${'C'.repeat(43)}`, valid_after: '2026-11-01T00:00:00Z', valid_before: '2026-11-03T00:00:00Z', signed_by: 'alice' },
        ];
      }),
    expected: { code: 'cert-long-lived', severity: 'medium', subject: 'bob/laptop#7', fix: 'infra certs revoke 7, then `infra render` and apply' },
  },
  {
    name: 'token-due-soon: rotation due within the horizon',
    input: () => registryCase((_c, ms) => (find(ms, 'roobot').tokens[0] = token({ rotated_at: '2026-09-01' }))),
    expected: { code: 'token-due-soon', severity: 'low', subject: 'roobot/github', fix: 'infra tokens rotate roobot/github' },
  },
  {
    name: 'vpn-address-conflict: the same IPv6 address written two ways',
    input: () => registryCase((_c, ms) => find(ms, 'bob').vpn_peers[0].addresses.push('fd77:77:0:0::0005/128')),
    expected: {
      code: 'vpn-address-conflict',
      severity: 'high',
      subject: 'meet/fd77:77::5',
      fix: 'infra vpn leave bob --device phone --network meet, then `infra vpn join bob --device phone --network meet` (a new key and a free address)',
    },
  },
  ...(
    [
      ['a reserved address', '10.77.0.1/32', 'meet/10.77.0.1'],
      ['the network address', '10.77.0.0/32', 'meet/10.77.0.0'],
      ['the broadcast address', '10.77.0.255/32', 'meet/10.77.0.255'],
      ['an address outside the network', '10.78.0.5/32', 'meet/10.78.0.5'],
    ] as const
  ).map(
    ([what, address, subject]): Case => ({
      name: `vpn-address-conflict: ${what}`,
      input: () => registryCase((_c, ms) => (find(ms, 'bob').vpn_peers[0].addresses = [address])),
      expected: {
        code: 'vpn-address-conflict',
        severity: 'high',
        subject,
        fix: 'infra vpn leave bob --device phone --network meet, then `infra vpn join bob --device phone --network meet` (a new key and a free address)',
      },
    }),
  ),
  {
    name: 'no-access: an active member with keys in no granted group reaches nothing',
    input: () => registryCase((_c, ms) => (find(ms, 'bob').groups = ['nobody-grants-this'])),
    expected: { code: 'no-access', severity: 'medium', subject: 'bob', fix: 'infra members edit bob --add-group GROUP  # a group a grant names (infra grants list)' },
    codes: ['no-access', 'single-member-host'],
  },
  {
    name: 'single-member-host: only one active member can reach a host',
    input: () => registryCase((_c, ms) => (find(ms, 'bob').groups = ['meet-tech'])),
    expected: {
      code: 'single-member-host',
      severity: 'medium',
      subject: 'production/web1',
      fix: 'add another active member to group infra (`groups:` in keys/<handle>/member.yml), or grant another group this host in infra.yml `access:`, then `infra render`',
    },
  },
  {
    name: 'single-member-host: a departed member does not count',
    // bob is still listed as an admin who could read the token: that is exposed too
    input: () => registryCase((_c, ms) => Object.assign(find(ms, 'bob'), { status: 'departed', departed: '2026-11-01' })),
    expected: {
      code: 'single-member-host',
      severity: 'medium',
      subject: 'production/bbb1',
      fix: 'add another active member to one of the groups infra, meet-tech (`groups:` in keys/<handle>/member.yml), or grant another group this host in infra.yml `access:`, then `infra render`',
    },
    codes: ['secret-exposed', 'single-member-host'],
  },
  {
    name: 'admin-without-pgp: an admin with no keys/<handle>/pgp.asc',
    input: () => registryCase((_c, ms) => (find(ms, 'bob').has_pgp = false)),
    expected: { code: 'admin-without-pgp', severity: 'medium', subject: 'bob', fix: 'infra members edit bob --pgp bob.asc (exported with `gpg --export --armor bob > bob.asc`), then `infra tokens reencrypt`' },
  },
];

describe('auditFindings: one situation per code', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { findings } = auditFindings(c.input());
    expect(findings).toContainEqual(expect.objectContaining(c.expected));
    expect(codes(findings)).toEqual([...(c.codes ?? [c.expected.code])].sort());
  });

  it('covers every code of the audit', () => {
    expect(new Set(cases.map((c) => c.expected.code))).toEqual(new Set(Object.keys(CODES)));
  });
});

describe('auditFindings: boundaries and details', () => {
  it('stops short of each threshold', () => {
    const input = registryCase((_c, ms) => {
      find(ms, 'alice').ssh_keys[0].added = '2024-11-22'; // exactly max_age_days
      find(ms, 'bob').ssh_keys[0].expires = '2026-12-23'; // 31 days: beyond the horizon
      find(ms, 'roobot').tokens[0] = token({ rotated_at: '2026-09-22', expires_at: '2026-12-23' }); // due in 30 days is due soon, not overdue
    });
    expect(auditFindings(input).findings.map((f) => f.code)).toEqual(['token-due-soon']);
  });

  it('a token with its own rotate_every_days overrides the policy', () => {
    const input = registryCase((_c, ms) => (find(ms, 'roobot').tokens[0] = token({ rotated_at: '2026-11-01', rotate_every_days: 7 })));
    expect(auditFindings(input).findings).toEqual([expect.objectContaining({ code: 'token-overdue', detail: expect.stringContaining('due on 2026-11-08') })]);
  });

  it('lists every departed place of one key in a single finding', () => {
    const input = healthy();
    const ms = [...members(), member('carol', { groups: ['infra'], ssh_keys: [key('laptop', CAROL)] })];
    input.rendered = renderedFor(input.config!, ms);
    ms[3] = { ...ms[3], status: 'departed', departed: '2026-11-01' };
    input.members = ms;
    const departed = auditFindings(input).findings.filter((f) => f.code === 'departed-access');
    expect(departed).toHaveLength(1);
    for (const host of ['bbb1', 'vpn1', 'web1']) expect(departed[0].detail).toContain(`inventories/production/host_vars/${host}/infra.generated.yml`);
  });

  it('does not report a departed key listed only under infra_revoked_keys', () => {
    const input = registryCase((_c, ms) => ms.push(member('carol', { status: 'departed', departed: '2026-11-01', groups: ['infra'], ssh_keys: [key('laptop', CAROL)] })));
    expect(auditFindings(input).findings).toEqual([]);
    expect([...input.rendered!.values()].join('')).toContain(CAROL.split(' ')[1]);
  });

  it('judges stale-render on what loads for an invalid registry, saying so, with the registry fix first (render refuses one)', () => {
    const input = registryCase(() => undefined);
    input.rendered = new Map();
    input.problems = [{ file: 'infra.yml', line: 3, field: 'admins[0]', message: 'no member "zed"' }];
    const findings = auditFindings(input).findings;
    expect(codes(findings)).toEqual(['invalid-registry', 'stale-render']);
    for (const f of findings.filter((x) => x.code === 'stale-render')) {
      expect(f.detail).toMatch(/is missing: render would write it; judged on the parts of the registry that load, as render cannot run until it validates$/);
      expect(f.fix).toBe('after fixing the registry until `infra check` passes: infra render');
    }
  });

  it('runs member-level checks when infra.yml itself does not load', () => {
    const ms = members();
    find(ms, 'alice').ssh_keys[0].expires = '2026-01-01';
    const { findings, access } = auditFindings({ asOf: AS_OF, members: ms, inventories: {}, problems: [{ file: 'infra.yml', line: 1, field: '(yaml)', message: 'YAML syntax error' }] });
    expect(codes(findings)).toEqual(['expired-key', 'invalid-registry']);
    expect(access).toEqual([]);
  });

  it('audits the environments whose inventory loads when another does not', () => {
    const input = registryCase(() => undefined);
    input.config!.environments.staging = 'inventories/staging';
    input.problems = [{ file: 'inventories/staging', field: 'inventory', message: 'does not exist' }];
    const { findings, access } = auditFindings(input);
    expect(codes(findings)).toEqual(['invalid-registry']);
    expect(new Set(access.map((r) => r.environment))).toEqual(new Set(['production']));
  });

  it('a key of an active member granted elsewhere is unknown here, and the detail names its owner', () => {
    const input = healthy();
    input.config = config({ access: [...config().access, { groups: ['ops'], hosts: 'web1', user: 'deploy', vpn_only: true }] });
    input.members = [...members(), member('dana', { groups: ['ops'], ssh_keys: [key('laptop', STRANGER)] }), member('erin', { groups: ['ops'], ssh_keys: [key('laptop', keyBody(ed25519Line('erin')))] })];
    input.rendered = renderedFor(input.config, input.members as Member[]);
    input.live = [...HEALTHY_LIVE.slice(0, 2), { ...liveHost('web1', `${healthyKeys}${STRANGER} x\n`), authorizedKeys: { sysadmin: `${healthyKeys}${STRANGER} x\n` } }];
    const unknown = auditFindings(input).findings.filter((f) => f.code === 'unknown-key');
    expect(unknown).toHaveLength(1);
    expect(unknown[0].detail).toContain('dana/laptop');
  });
});

describe('findings order and the access matrix', () => {
  it('sorts by severity, then code, then subject', () => {
    const f = (severity: Finding['severity'], code: string, subject: string): Finding => ({ code, severity, subject, detail: '', fix: '' });
    const sorted = sortFindings([f('low', 'key-expiring', 'a'), f('high', 'weak-key', 'b'), f('medium', 'old-key', 'a'), f('high', 'expired-key', 'z'), f('high', 'weak-key', 'a')]);
    expect(sorted.map((x) => `${x.severity} ${x.code} ${x.subject}`)).toEqual(['high expired-key z', 'high weak-key a', 'high weak-key b', 'medium old-key a', 'low key-expiring a']);
  });

  it('lists each host and user with active members, VPN-only and the grants behind it', () => {
    const input = registryCase((c, ms) => {
      c.access.push({ groups: ['monitoring'], hosts: 'web1', user: 'prometheus' });
      ms.push(member('dana', { groups: ['monitoring'], ssh_keys: [key('laptop', STRANGER)] }));
      ms.push(member('carol', { status: 'departed', departed: '2026-11-01', groups: ['infra'], ssh_keys: [key('laptop', CAROL)] }));
    });
    input.config!.access[0] = { groups: ['infra'], hosts: 'all:!bbb', user: 'sysadmin' };
    input.config!.access.push({ groups: ['infra'], hosts: 'bbb', user: 'sysadmin', vpn_only: true });
    const { access } = auditFindings(input);
    expect(access).toEqual([
      { environment: 'production', host: 'bbb1', user: 'sysadmin', members: ['alice', 'bob'], vpn_only: true, vpn_only_members: ['alice', 'bob'], grants: ['access[1]', 'access[3]'] },
      { environment: 'production', host: 'vpn1', user: 'sysadmin', members: ['alice', 'bob'], vpn_only: false, vpn_only_members: [], grants: ['access[0]'] },
      { environment: 'production', host: 'web1', user: 'prometheus', members: ['dana'], vpn_only: false, vpn_only_members: [], grants: ['access[2]'] },
      { environment: 'production', host: 'web1', user: 'sysadmin', members: ['alice', 'bob'], vpn_only: false, vpn_only_members: [], grants: ['access[0]'] },
    ]);
  });

  it('marks only the VPN-only members of a mixed row', () => {
    const input = registryCase((c) => (c.access[0] = { groups: ['infra'], hosts: 'all:!bbb', user: 'sysadmin' }));
    input.config!.access.push({ groups: ['ops'], hosts: 'web1', user: 'sysadmin', vpn_only: true });
    (input.members as Member[]).push(member('dana', { groups: ['ops'], ssh_keys: [key('laptop', STRANGER)] }));
    const row = auditFindings(input).access.find((r) => r.host === 'web1')!;
    expect(row).toMatchObject({ members: ['alice', 'bob', 'dana'], vpn_only: false, vpn_only_members: ['dana'] });
  });

  it('liveTargets names every user a grant gives on every host', () => {
    const cfg = config({ access: [...config().access, { groups: ['monitoring'], hosts: 'web1', user: 'prometheus' }] });
    expect(liveTargets(planAccess(cfg, members(), inventories))).toEqual([
      { environment: 'production', host: 'bbb1', users: ['sysadmin'] },
      { environment: 'production', host: 'vpn1', users: ['sysadmin'] },
      { environment: 'production', host: 'web1', users: ['prometheus', 'sysadmin'] },
    ]);
  });
});

describe('vpnDumpFindings (shared with `infra vpn status`)', () => {
  it('reports unknown, idle and departed peers of one dump', () => {
    const ms = [...members(), member('carol', { status: 'departed', departed: '2026-11-01', vpn_peers: [{ device: 'phone', network: 'meet', public_key: wgKey(3), addresses: ['10.77.0.7/32'], added: '2026-01-10' }] })];
    const dump = parseWgDump(
      dumpText([
        { key: wgKey(1), handshake: 0, ips: '10.77.0.5/32' },
        { key: wgKey(3), handshake: at('2026-11-21T00:00:00Z'), ips: '10.77.0.7/32' },
        { key: wgKey(8), handshake: 0, ips: '10.77.0.9/32' },
      ]),
    );
    expect(vpnDumpFindings({ dump }, config(), ms, AS_OF).map((f) => [f.code, f.severity, f.subject])).toEqual([
      ['departed-access', 'high', 'carol/phone'],
      ['unknown-peer', 'high', `meet/${wgKey(8)}`],
      ['idle-peer', 'low', 'alice/laptop'],
    ]);
  });

  it('uses policy.vpn.idle_days', () => {
    const cfg = config();
    cfg.policy.vpn = { idle_days: 2 };
    expect(vpnDumpFindings({ dump: parseWgDump(HEALTHY_DUMP) }, cfg, members(), AS_OF).map((f) => f.subject)).toEqual(['alice/laptop']);
  });
});

describe('variableNames', () => {
  it('lists top-level variables of a vars file', () => {
    expect(variableNames('ntp: pool.ntp.org\ninfra_authorized_keys:\n  root: []\n')).toEqual(['infra_authorized_keys', 'ntp']);
    expect(variableNames('# only a comment\n')).toEqual([]);
  });

  it('returns undefined for what it cannot read as a mapping', () => {
    expect(variableNames('$ANSIBLE_VAULT;1.1;AES256\n3961\n')).toBeUndefined();
    expect(variableNames('- a\n- b\n')).toBeUndefined();
    expect(variableNames('a: [\n')).toBeUndefined();
  });
});

describe('policy for the audit: ssh.vpn_only_hosts and vpn.idle_days', () => {
  const raw = (policy: Record<string, unknown>) => ({ org: 'T', admins: [], environments: { production: 'inventories/production' }, policy });
  const schema = new Ajv2020({ strict: true, strictRequired: false, allErrors: true }).compile(JSON.parse(readFileSync(`${REPO_ROOT}/schema/infra.schema.json`, 'utf8')));

  it('are read by validation and accepted by the schema', () => {
    const doc = raw({ ssh: { vpn_only_hosts: 'bbb:&production' }, vpn: { idle_days: 60 } });
    const { config, problems } = validateConfig(doc, 'infra.yml');
    expect(problems).toEqual([]);
    expect(config!.policy.ssh.vpn_only_hosts).toBe('bbb:&production');
    expect(config!.policy.vpn).toEqual({ idle_days: 60 });
    expect(schema(doc)).toBe(true);
  });

  it('default to no VPN-only hosts and 90 idle days', () => {
    const { config } = validateConfig(raw({}), 'infra.yml');
    expect(config!.policy.ssh.vpn_only_hosts).toBeUndefined();
    expect(config!.policy.vpn).toEqual({ idle_days: 90 });
  });

  it('refuse wrong values in both', () => {
    const doc = raw({ ssh: { vpn_only_hosts: 'bbb\nx' }, vpn: { idle_days: 0, idle: 3 } });
    expect(validateConfig(doc, 'infra.yml').problems.map((p) => p.field).sort()).toEqual(['policy.ssh.vpn_only_hosts', 'policy.vpn.idle', 'policy.vpn.idle_days']);
    expect(schema(doc)).toBe(false);
    expect(schema.errors!.map((e) => e.instancePath).sort()).toEqual(['/policy/ssh/vpn_only_hosts', '/policy/vpn', '/policy/vpn/idle_days']);
  });
});

describe('shadowed-render and render agree on what may be set beside the generated file', () => {
  it("the playbooks' own settings (infra_become, ...) are not findings; any other infra_* is", () => {
    const shadowedCodes = (variables: string[]) =>
      auditFindings({ ...registryCase(() => undefined), varFiles: [{ path: 'inventories/production/group_vars/all/infra.yml', variables }] }).findings.map((f) => f.code).filter((c) => c === 'shadowed-render');
    const ok = shadowedCodes(['infra_become', 'infra_wireguard_dir']);
    const bad = shadowedCodes(['infra_become', 'infra_authorized_keys']);
    expect(ok).toEqual([]);
    expect(bad).toEqual(['shadowed-render']);
  });
});

describe('vpn-bypass fix', () => {
  it('with a compound vpn_only_hosts pattern, the suggested hosts exclude exactly the hosts reached', () => {
    const input = registryCase((c) => {
      c.policy.ssh.vpn_only_hosts = 'bbb:&bbb';
      c.access[0].vpn_only = false; // infra reaches all hosts, the bbb ones too, from anywhere
    });
    const f = auditFindings(input).findings.find((x) => x.code === 'vpn-bypass')!;
    const suggested = /exclude them from its hosts: "([^"]+)"/.exec(f.fix)![1];
    const grant = input.config!.access[Number(/access\[(\d+)\]/.exec(f.subject)![1])];
    const before = hostsOf(grant.hosts, inventories.production);
    const vpnOnly = hostsOf('bbb', inventories.production);
    expect(hostsOf(suggested, inventories.production).sort()).toEqual(before.filter((h) => !vpnOnly.includes(h)).sort());
  });
});

describe('token-due-soon scales with the period', () => {
  it('a token rotated on the audit day with a 30-day period is not due soon; 10 days before it is', () => {
    const at = (rotated: string) => auditFindings(registryCase((_c, ms) => (find(ms, 'roobot').tokens[0] = token({ rotated_at: rotated, rotate_every_days: 30 })))).findings.map((f) => f.code);
    expect(at(AS_OF)).toEqual([]); // due 2026-12-22: 30 days away, beyond a third of the period
    expect(at('2026-11-02')).toEqual(['token-due-soon']); // due 2026-12-02: 10 days away
    expect(at('2026-11-01')).toEqual(['token-due-soon']);
    expect(at('2026-11-03')).toEqual([]); // due in 11 days
  });
});
