/** The hostile strings and member-controlled fields of the hostile-input campaign, and one case run: shared by the core and real tests. */
import { parseYamlInventory } from '../../src/core/inventory.js';
import { planRender } from '../../src/core/render.js';
import type { InfraConfig, Member } from '../../src/core/types.js';
import { validateConfig, validateMember } from '../../src/core/validate.js';
import { deviceConfigInput } from '../../src/core/vpn-plan.js';
import { renderDeviceConfig } from '../../src/core/wireguard.js';
import { formatProblem } from '../../src/lib/errors.js';
import { ed25519Line, keyBody, memberData } from '../helpers/registry-fixture.js';

export const HOSTILE: Record<string, string> = {
  newline: 'a\nb: c',
  cr: 'a\rb',
  'single quote': "it's",
  'double quote': 'say "hi"',
  backslash: 'a\\nb',
  hash: 'a #b',
  comma: 'a,command="sh"',
  equals: 'a=b',
  'yaml indicators': '- &x *x !tag |> %: ? @`',
  jinja: "{{ lookup('pipe','id') }}",
  'jinja stmt': '{% raw %}',
  escape: '\u001b[31mred\u001b]0;title\u0007',
  nul: 'a\u0000b',
  bidi: 'abc\u202edcba\u2066',
  'look-alike': 'аlice', // Cyrillic а
  '10 kB': 'x'.repeat(10_240),
};

const A = keyBody(ed25519Line('alice'));
const WG = Buffer.alloc(32, 7).toString('base64');
const HOSTS = 'all:\n  hosts:\n    bbb1:\n    vpn1:\n';
const baseConfigData = (): Record<string, unknown> => ({
  org: 'T',
  admins: [],
  environments: { production: 'inventories/production' },
  access: [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }],
  vpn: {
    meet: { ipv4: '10.77.0.0/24', endpoint: 'vpn.example.org:51820', server_public_key: Buffer.alloc(32, 9).toString('base64'), reserved: [], allowed_ips: ['10.77.0.0/24'], servers: 'vpn1' },
  },
});
const baseMemberData = (): Record<string, unknown> =>
  memberData('alice', {
    groups: ['infra'],
    ssh_keys: [{ name: 'laptop', key: `${A} alice@laptop`, added: '2026-01-01' }],
    vpn_peers: [{ device: 'laptop', network: 'meet', public_key: WG, addresses: ['10.77.0.5/32'], added: '2026-01-01' }],
  });

/** A bot holding one matrix token with one consumer of each kind: the token fields' base. */
const withToken = (m: Record<string, any>) => {
  m.kind = 'bot';
  m.tokens = [
    {
      name: 'deploy',
      kind: 'matrix',
      homeserver: 'https://matrix.example',
      consumers: [
        { github_secret: { repo: 'example/site', name: 'DEPLOY_TOKEN' } },
        { github_env_secret: { repo: 'example/site', environment: 'production', name: 'DEPLOY_TOKEN' } },
        { github_org_secret: { org: 'example', name: 'DEPLOY_TOKEN' } },
        { ansible_vault_var: { environment: 'production', group: 'bbb', var: 'deploy_token' } },
      ],
    },
  ];
  return m.tokens[0];
};

/** The device's private key in the wg-quick config of each accepted case (a fixed test value, not a secret). */
export const TEST_WG_PRIVATE_KEY = Buffer.alloc(32, 0x48).toString('base64');

export type Field = { name: string; benign: string; apply: (v: string, m: Record<string, any>, c: Record<string, any>) => { handle?: string; hosts?: string } | void }; // eslint-disable-line @typescript-eslint/no-invalid-void-type -- most fields are set by a statement and return nothing
export const FIELDS: Field[] = [
  { name: 'handle', benign: 'alice', apply: (v) => ({ handle: v }) },
  { name: 'name', benign: 'Alice Moreau', apply: (v, m) => void (m.name = v) },
  { name: 'email', benign: 'alice', apply: (v, m) => void (m.email = `${v}@example.org`) },
  { name: 'org', benign: 'hypha', apply: (v, m) => void (m.org = v) },
  { name: 'groups', benign: 'meet-tech', apply: (v, m) => void (m.groups = ['infra', v]) },
  { name: 'key name', benign: 'laptop2', apply: (v, m) => void (m.ssh_keys[0].name = v) },
  { name: 'key comment', benign: 'alice@laptop', apply: (v, m) => void (m.ssh_keys[0].key = `${A} ${v}`) },
  { name: 'device', benign: 'laptop2', apply: (v, m) => void (m.vpn_peers[0].device = v) },
  { name: 'grant user', benign: 'deploy', apply: (v, _m, c) => void (c.access[0].user = v) },
  { name: 'grant group', benign: 'meet-tech', apply: (v, _m, c) => void (c.access[0].groups = [v]) },
  { name: 'network name', benign: 'meet2', apply: (v, m, c) => {
    c.vpn = { [v]: c.vpn.meet };
    m.vpn_peers[0].network = v;
  } },
  { name: 'host name', benign: 'bbb2', apply: (v) => ({ hosts: `all:\n  hosts:\n    ${JSON.stringify(v)}:\n    vpn1:\n` }) },
  { name: 'github login', benign: 'alice-gh', apply: (v, m) => void (m.github = v) },
  { name: 'gitlab login', benign: 'alice.gl', apply: (v, m) => void (m.gitlab = v) },
  { name: 'token name', benign: 'deploy2', apply: (v, m) => void (withToken(m).name = v) },
  { name: 'homeserver', benign: 'matrix', apply: (v, m) => void (withToken(m).homeserver = `https://matrix.example/${v}`) },
  { name: 'consumer repo', benign: 'site2', apply: (v, m) => void (withToken(m).consumers[0].github_secret.repo = `example/${v}`) },
  { name: 'consumer env', benign: 'staging', apply: (v, m) => void (withToken(m).consumers[1].github_env_secret.environment = v) },
  { name: 'secret name', benign: 'OTHER_TOKEN', apply: (v, m) => void (withToken(m).consumers[0].github_secret.name = v) },
  { name: 'vault var', benign: 'other_token', apply: (v, m) => void (withToken(m).consumers[3].ansible_vault_var.var = v) },
  { name: 'consumer org', benign: 'example2', apply: (v, m) => void (withToken(m).consumers[2].github_org_secret.org = v) },
];

export type Outcome = 'refused' | 'inert';
export interface HostileCase {
  field: string;
  label: string;
  outcome: Outcome;
  problems: string[];
  rendered?: Map<string, string>;
  /** Accepted: the member and config as validated (what --json, the audit and errors would quote). */
  member?: Member;
  config?: InfraConfig;
  /** Accepted: the wg-quick config `vpn join` would deliver for the member's peer. */
  wgConfig?: string;
}

/** Each field with each hostile string: refused (with the problem) or rendered. */
export function runCase(field: Field, label: string, value: string): HostileCase {
  const m = baseMemberData() as Record<string, any>;
  const c = baseConfigData() as Record<string, any>;
  const over = field.apply(value, m, c) ?? {};
  const handle = over.handle ?? 'alice';
  const problems: string[] = [];
  const cfg = validateConfig(c, 'infra.yml');
  problems.push(...cfg.problems.map(formatProblem));
  const mem = validateMember(handle, m, `keys/${handle}/member.yml`);
  problems.push(...mem.problems.map(formatProblem));
  let inventory;
  try {
    inventory = parseYamlInventory(over.hosts ?? HOSTS, 'inventories/production/hosts.yml');
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (problems.length || !cfg.config || !mem.member || !inventory) return { field: field.name, label, outcome: 'refused', problems };
  try {
    const config = cfg.config as InfraConfig;
    const member = mem.member as Member;
    const plan = planRender({ root: '/x', config, members: [member] }, { production: inventory }, new Map());
    const peer = member.vpn_peers[0];
    const wgConfig = renderDeviceConfig(deviceConfigInput(member.handle, config.vpn[peer.network], peer, TEST_WG_PRIVATE_KEY));
    return { field: field.name, label, outcome: 'inert', problems, rendered: plan.files, member, config, wgConfig };
  } catch (e) {
    return { field: field.name, label, outcome: 'refused', problems: [(e as Error).message] };
  }
}

