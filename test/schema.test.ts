/**
 * The JSON Schemas that ship for editors (schema/*.schema.json) and the example registry at the
 * repository root. The schemas must accept every example file and flag each kind of mistake at the
 * right place; the example must stay loadable by the tool itself and keep producing a real audit.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { GITHUB_LOGIN_RE, GITLAB_USERNAME_RE, HANDLE_RE, NAME_RE } from '../src/core/types.js';
import { ENV_RE, GROUP_RE, UNIX_USER_RE } from '../src/core/validate.js';
import { inspectRegistry } from '../src/adapters/registry-load.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const readJson = (rel: string) => JSON.parse(readFileSync(join(ROOT, rel), 'utf8'));
const readYaml = (rel: string) => parse(readFileSync(join(ROOT, rel), 'utf8'));

const infraSchema = readJson('schema/infra.schema.json');
const memberSchema = readJson('schema/member.schema.json');

// strictRequired would refuse `required` inside anyOf/if/then for properties declared one level up,
// which is exactly how conditional requirements are written; every other strict check stays on.
const STRICT = { strict: true, strictRequired: false } as const;
const ajv = new Ajv2020({ ...STRICT, allErrors: true });
const validateInfra = ajv.compile(infraSchema);
const validateMember = ajv.compile(memberSchema);

const handles = readdirSync(join(ROOT, 'keys'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();
const memberFiles = handles.map((h) => `keys/${h}/member.yml`);

const errorsOf = (validate: ValidateFunction, doc: unknown): ErrorObject[] => (validate(doc) ? [] : [...(validate.errors ?? [])]);
const describeErrors = (errors: ErrorObject[]) => errors.map((e) => `${e.instancePath || '(root)'} ${e.keyword}: ${e.message}`).join('\n');
const clone = <T>(x: T): T => structuredClone(x);

/** A real X25519 public key as `wg pubkey` prints it: the last 32 bytes of the SPKI DER, base64. */
const x25519PublicKey = () => {
  const der = generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'der' });
  return der.subarray(der.length - 32).toString('base64');
};

describe('JSON Schemas', () => {
  it.each([
    ['infra', infraSchema],
    ['member', memberSchema],
  ])('%s schema is draft 2020-12 with an $id and compiles in strict mode', (_name, schema) => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toMatch(/^https:\/\/.+\.schema\.json$/);
    // Compiling a fresh instance proves strictness by itself (the module-level compile would have thrown too).
    expect(() => new Ajv2020(STRICT).compile(schema)).not.toThrow();
  });

  /** Every object schema closed to unknown fields, every property documented for editors. */
  function walk(node: unknown, where: string, out: string[]): void {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${where}/${i}`, out));
    if (!node || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    if (obj.properties) {
      if (obj.additionalProperties !== false) out.push(`${where}: additionalProperties is not false`);
      for (const [name, prop] of Object.entries(obj.properties as Record<string, Record<string, unknown>>))
        if (typeof prop.description !== 'string' || prop.description.length < 10) out.push(`${where}/properties/${name}: no description`);
    }
    // if/then/else/not only constrain properties declared elsewhere; they define none.
    for (const [k, v] of Object.entries(obj)) if (!['if', 'then', 'else', 'not'].includes(k)) walk(v, `${where}/${k}`, out);
  }

  it.each([
    ['infra', infraSchema],
    ['member', memberSchema],
  ])('%s schema closes every object and describes every property', (_name, schema) => {
    const problems: string[] = [];
    walk(schema, '#', problems);
    expect(problems).toEqual([]);
  });

  it('uses the same name rules as the tool', () => {
    const defs = { ...infraSchema.$defs, ...memberSchema.$defs };
    expect(infraSchema.$defs.handle.pattern).toBe(HANDLE_RE.source);
    expect(memberSchema.$defs.handle.pattern).toBe(HANDLE_RE.source);
    expect(memberSchema.$defs.name.pattern).toBe(NAME_RE.source);
    expect(defs.groupName.pattern).toBe(GROUP_RE.source);
    expect(memberSchema.properties.groups.items.pattern).toBe(GROUP_RE.source);
    expect(infraSchema.$defs.environmentName.pattern).toBe(ENV_RE.source);
    expect(infraSchema.$defs.unixUser.pattern).toBe(UNIX_USER_RE.source);
    expect(memberSchema.properties.github.pattern).toBe(GITHUB_LOGIN_RE.source);
    expect(memberSchema.properties.gitlab.pattern).toBe(GITLAB_USERNAME_RE.source);
    expect(memberSchema.$defs.vpnPeer.properties.public_key.pattern).toBe(infraSchema.$defs.wireguardKey.pattern);
  });
});

describe('the example registry validates against the schemas', () => {
  it('infra.yml', () => {
    const errors = errorsOf(validateInfra, readYaml('infra.yml'));
    expect(describeErrors(errors)).toBe('');
  });

  it.each(memberFiles)('%s', (rel) => {
    const errors = errorsOf(validateMember, readYaml(rel));
    expect(describeErrors(errors)).toBe('');
  });

  it.each([['infra.yml'], ...memberFiles.map((f) => [f])])('%s starts with an editor hint that points at its schema', (rel) => {
    const first = readFileSync(join(ROOT, rel), 'utf8').split('\n')[0];
    const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    expect(m).not.toBeNull();
    const target = resolve(ROOT, dirname(rel), m![1]);
    expect(target).toBe(join(ROOT, 'schema', rel === 'infra.yml' ? 'infra.schema.json' : 'member.schema.json'));
  });

  it('leaves unquoted YAML dates as strings, which is what the date pattern checks', () => {
    const alice = readYaml('keys/alice/member.yml');
    expect(typeof alice.ssh_keys[0].added).toBe('string');
    expect(alice.ssh_keys[0].added).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('passes the tool’s own validation (what `infra check` runs)', async () => {
    const { loaded, problems } = await inspectRegistry(ROOT);
    expect(problems).toEqual([]);
    expect(loaded?.registry.members.map((m) => m.handle)).toEqual(handles);
  });
});

type Mutation = (doc: any) => void;

const aliceDoc = () => readYaml('keys/alice/member.yml');
const botDoc = () => readYaml('keys/roobot/member.yml');
const carolDoc = () => readYaml('keys/carol/member.yml');
const infraDoc = () => readYaml('infra.yml');

describe('member.schema.json flags mistakes where they are', () => {
  const realWgKey = x25519PublicKey();
  // The last base64 character of 32 bytes carries 2 padding bits, which must be zero.
  const nonCanonicalWgKey = realWgKey.slice(0, 42) + (('AEIMQUYcgkosw048'.includes(realWgKey[42]) ? String.fromCharCode(realWgKey.charCodeAt(42) + 1) : 'B')) + '=';

  const cases: Array<[string, () => unknown, Mutation, string, string]> = [
    ['an unknown top-level field', aliceDoc, (d) => (d.nickname = 'al'), '', 'additionalProperties'],
    ['an unknown field in a key', aliceDoc, (d) => (d.ssh_keys[0].comment = 'mine'), '/ssh_keys/0', 'additionalProperties'],
    ['a kind that is neither human nor bot', aliceDoc, (d) => (d.kind = 'robot'), '/kind', 'enum'],
    ['an unknown status', aliceDoc, (d) => (d.status = 'gone'), '/status', 'enum'],
    ['an organisation with spaces', aliceDoc, (d) => (d.org = 'Hypha Worker Co-op'), '/org', 'pattern'],
    ['a group with upper case', aliceDoc, (d) => (d.groups = ['Infra']), '/groups/0', 'pattern'],
    ['a date without leading zeros', aliceDoc, (d) => (d.ssh_keys[0].added = '2026-3-1'), '/ssh_keys/0/added', 'pattern'],
    ['a date as a number', aliceDoc, (d) => (d.ssh_keys[0].expires = 20270301), '/ssh_keys/0/expires', 'type'],
    ['a key name with a slash', aliceDoc, (d) => (d.ssh_keys[0].name = 'lap/top'), '/ssh_keys/0/name', 'pattern'],
    ['a DSA key', aliceDoc, (d) => (d.ssh_keys[0].key = 'ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7 alice@old'), '/ssh_keys/0/key', 'pattern'],
    ['a certificate', aliceDoc, (d) => (d.ssh_keys[0].key = 'ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29t alice'), '/ssh_keys/0/key', 'pattern'],
    ['a private key pasted by mistake', aliceDoc, (d) => (d.ssh_keys[0].key = '-----BEGIN OPENSSH PRIVATE KEY-----'), '/ssh_keys/0/key', 'pattern'],
    ['a comment that adds a second line', aliceDoc, (d) => (d.ssh_keys[0].key += '\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFo2 mallory'), '/ssh_keys/0/key', 'pattern'],
    ['a key without added', aliceDoc, (d) => delete d.ssh_keys[0].added, '/ssh_keys/0', 'required'],
    ['a non-canonical WireGuard key', aliceDoc, (d) => (d.vpn_peers[0].public_key = nonCanonicalWgKey), '/vpn_peers/0/public_key', 'pattern'],
    ['a WireGuard key of the wrong length', aliceDoc, (d) => (d.vpn_peers[0].public_key = realWgKey.slice(4)), '/vpn_peers/0/public_key', 'pattern'],
    ['a peer address that is a whole network', aliceDoc, (d) => (d.vpn_peers[0].addresses = ['10.77.0.0/24']), '/vpn_peers/0/addresses/0', 'pattern'],
    ['a peer without addresses', aliceDoc, (d) => (d.vpn_peers[0].addresses = []), '/vpn_peers/0/addresses', 'minItems'],
    ['a peer on a network with a bad name', aliceDoc, (d) => (d.vpn_peers[0].network = 'the-meet-network-of-the-coop'), '/vpn_peers/0/network', 'pattern'],
    ['a human holding tokens', aliceDoc, (d) => (d.tokens = botDoc().tokens), '/tokens', 'maxItems'],
    ['a departed member without a date', carolDoc, (d) => delete d.departed, '', 'required'],
    ['an active member with a departure date', carolDoc, (d) => (d.status = 'active'), '', 'not'],
    ['an unknown token kind', botDoc, (d) => (d.tokens[0].kind = 'gitlab'), '/tokens/0/kind', 'enum'],
    ['a token rotated by a bad handle', botDoc, (d) => (d.tokens[0].rotated_by = 'Alice'), '/tokens/0/rotated_by', 'pattern'],
    ['a zero rotation period', botDoc, (d) => (d.tokens[0].rotate_every_days = 0), '/tokens/0/rotate_every_days', 'minimum'],
    ['a consumer of an unknown kind', botDoc, (d) => (d.tokens[0].consumers[0] = { slack_webhook: { url: 'https://x' } }), '/tokens/0/consumers/0', 'oneOf'],
    ['a consumer naming two places at once', botDoc, (d) => (d.tokens[0].consumers[0] = { ...d.tokens[0].consumers[0], ...d.tokens[0].consumers[1] }), '/tokens/0/consumers/0', 'oneOf'],
    ['a GitHub secret without a name', botDoc, (d) => delete d.tokens[0].consumers[0].github_secret.name, '/tokens/0/consumers/0/github_secret', 'required'],
    ['a GitHub secret named GITHUB_*', botDoc, (d) => (d.tokens[0].consumers[0].github_secret.name = 'GITHUB_TOKEN'), '/tokens/0/consumers/0/github_secret/name', 'pattern'],
    ['a repository without an owner', botDoc, (d) => (d.tokens[0].consumers[0].github_secret.repo = 'organizing'), '/tokens/0/consumers/0/github_secret/repo', 'pattern'],
    ['a vault variable with a dash', botDoc, (d) => (d.tokens[0].consumers[1].ansible_vault_var.var = 'roobot-token'), '/tokens/0/consumers/1/ansible_vault_var/var', 'pattern'],
    ['a vault consumer with an extra field', botDoc, (d) => (d.tokens[0].consumers[1].ansible_vault_var.file = 'x.yml'), '/tokens/0/consumers/1/ansible_vault_var', 'additionalProperties'],
    ['a matrix token without a homeserver', botDoc, (d) => delete d.tokens[1].homeserver, '/tokens/1', 'required'],
    ['a homeserver on a github token', botDoc, (d) => (d.tokens[0].homeserver = 'https://matrix.example'), '/tokens/0', 'not'],
    ['a plain-http homeserver off the loopback', botDoc, (d) => (d.tokens[1].homeserver = 'http://matrix.example'), '/tokens/1/homeserver', 'pattern'],
    ['an expiry on a generic token', botDoc, (d) => (d.tokens[2].expires_at = '2027-01-30'), '/tokens/2', 'not'],
    ['a reader listed twice', botDoc, (d) => (d.tokens[0].readable_by = ['alice', 'alice']), '/tokens/0/readable_by', 'uniqueItems'],
    ['an environment secret without an environment', botDoc, (d) => (d.tokens[0].consumers[0] = { github_env_secret: { repo: 'example-coop/site', name: 'DEPLOY' } }), '/tokens/0/consumers/0/github_env_secret', 'required'],
    ['an organisation secret named GITHUB_*', botDoc, (d) => (d.tokens[0].consumers[0] = { github_org_secret: { org: 'example-coop', name: 'github_x' } }), '/tokens/0/consumers/0/github_org_secret/name', 'pattern'],
    ['a repository named ..', botDoc, (d) => (d.tokens[0].consumers[0].github_secret.repo = 'example-coop/..'), '/tokens/0/consumers/0/github_secret/repo', 'pattern'],
    ['a pending rotation without its consumers', botDoc, (d) => (d.tokens[0].pending = { started_at: '2026-11-29', started_by: 'alice' }), '/tokens/0/pending', 'required'],
    ['a pending consumer that is a path', botDoc, (d) => (d.tokens[0].pending = { started_at: '2026-11-29', started_by: 'alice', left: ['ansible_vault_var:production:../x:v'] }), '/tokens/0/pending/left/0', 'pattern'],
  ];

  it.each(cases)('%s', (_what, base, mutate, instancePath, keyword) => {
    const doc = clone(base());
    expect(describeErrors(errorsOf(validateMember, doc))).toBe(''); // the starting point is valid
    mutate(doc);
    const errors = errorsOf(validateMember, doc);
    expect(errors.map((e) => [e.instancePath, e.keyword])).toContainEqual([instancePath, keyword]);
  });
});

describe('member.schema.json accepts the whole token shape', () => {
  it('every consumer kind, expiry, readers and a pending rotation', () => {
    const doc = botDoc();
    Object.assign(doc.tokens[0], {
      expires_at: '2027-01-30',
      readable_by: ['alice', 'bob'],
      pending: { started_at: '2026-11-29', started_by: 'alice', left: ['github_secret:example-coop/organizing:API_TOKEN_BOT', 'github_env_secret:example-coop/site:production deploy:DEPLOY_TOKEN'] },
    });
    doc.tokens[0].consumers.push(
      { github_env_secret: { repo: 'example-coop/site', environment: 'production deploy', name: 'DEPLOY_TOKEN' } },
      { github_org_secret: { org: 'example-coop', name: 'BOT_TOKEN' } },
    );
    doc.tokens[1].homeserver = 'http://127.0.0.1:8448';
    expect(describeErrors(errorsOf(validateMember, doc))).toBe('');
  });
});

describe('infra.schema.json flags mistakes where they are', () => {
  const cases: Array<[string, Mutation, string, string]> = [
    ['an unknown top-level field', (d) => (d.admin = ['alice']), '', 'additionalProperties'],
    ['a missing org', (d) => delete d.org, '', 'required'],
    ['an admin with a bad handle', (d) => (d.admins = ['alice', 'Bob']), '/admins/1', 'pattern'],
    ['an admin listed twice', (d) => (d.admins = ['alice', 'alice']), '/admins', 'uniqueItems'],
    ['an inventory outside the registry', (d) => (d.environments.production = '../elsewhere'), '/environments/production', 'pattern'],
    ['an absolute inventory path', (d) => (d.environments.production = '/etc/ansible'), '/environments/production', 'pattern'],
    ['an environment name with upper case', (d) => (d.environments.Prod = 'inventories/prod'), '/environments', 'propertyNames'],
    ['an unknown policy field', (d) => (d.policy.ssh.allow_dsa = true), '/policy/ssh', 'additionalProperties'],
    ['dsa among the allowed types', (d) => d.policy.ssh.allowed_types.push('dsa'), '/policy/ssh/allowed_types/5', 'enum'],
    ['a tiny RSA minimum', (d) => (d.policy.ssh.min_rsa_bits = 512), '/policy/ssh/min_rsa_bits', 'minimum'],
    ['a fractional horizon', (d) => (d.policy.audit.horizon_days = 7.5), '/policy/audit/horizon_days', 'type'],
    ['a grant with an unknown field', (d) => (d.access[0].hosts_pattern = 'all'), '/access/0', 'additionalProperties'],
    ['a grant without groups', (d) => delete d.access[0].groups, '/access/0', 'required'],
    ['a grant to a bad user name', (d) => (d.access[0].user = 'Root!'), '/access/0/user', 'pattern'],
    ['a grant with vpn_only as text', (d) => (d.access[1].vpn_only = 'yes'), '/access/1/vpn_only', 'type'],
    ['a host pattern spanning lines', (d) => (d.access[0].hosts = 'all\nextra'), '/access/0/hosts', 'pattern'],
    ['a network name too long for an interface', (d) => (d.vpn['the-meet-network'] = d.vpn.meet), '/vpn', 'propertyNames'],
    ['a network without address ranges', (d) => (delete d.vpn.meet.ipv4, delete d.vpn.meet.ipv6), '/vpn/meet', 'anyOf'],
    ['an IPv4 range without a prefix', (d) => (d.vpn.meet.ipv4 = '10.77.0.0'), '/vpn/meet/ipv4', 'pattern'],
    ['an IPv6 range in the ipv4 field', (d) => (d.vpn.meet.ipv4 = 'fd77:77::/64'), '/vpn/meet/ipv4', 'pattern'],
    ['an endpoint without a port', (d) => (d.vpn.meet.endpoint = 'vpn.meet.example'), '/vpn/meet/endpoint', 'pattern'],
    ['an IPv6 endpoint without brackets', (d) => (d.vpn.meet.endpoint = 'fd77:77::1:51820'), '/vpn/meet/endpoint', 'pattern'],
    ['a server key that is not WireGuard', (d) => (d.vpn.meet.server_public_key = 'not-a-key'), '/vpn/meet/server_public_key', 'pattern'],
    ['a reserved entry that is not an address', (d) => (d.vpn.meet.reserved = ['server']), '/vpn/meet/reserved/0', 'anyOf'],
    ['an MTU below the IPv6 minimum', (d) => (d.vpn.meet.mtu = 1000), '/vpn/meet/mtu', 'minimum'],
    ['an unknown render compat', (d) => (d.render = { compat: 'other_role' }), '/render/compat', 'enum'],
  ];

  it.each(cases)('%s', (_what, mutate, instancePath, keyword) => {
    const doc = clone(infraDoc());
    mutate(doc);
    const errors = errorsOf(validateInfra, doc);
    expect(errors.map((e) => [e.instancePath, e.keyword])).toContainEqual([instancePath, keyword]);
  });

  it.each([
    ['an IPv6 literal endpoint', (d: any) => (d.vpn.meet.endpoint = '[2001:db8::1]:51820')],
    ['an IPv4-only network', (d: any) => (delete d.vpn.meet.ipv6, (d.vpn.meet.allowed_ips = ['10.77.0.0/24']))],
    ['an MTU and the provision_ssh_keys compat output', (d: any) => ((d.vpn.meet.mtu = 1420), (d.render = { compat: 'provision_ssh_keys' }))],
    ['a registry with only the required fields', (d: any) => Object.keys(d).filter((k) => !['org', 'admins', 'environments'].includes(k)).forEach((k) => delete d[k])],
  ])('accepts %s', (_what, mutate) => {
    const doc = clone(infraDoc());
    mutate(doc);
    expect(describeErrors(errorsOf(validateInfra, doc))).toBe('');
  });
});

describe('key patterns accept what the real tools make', () => {
  it('accepts 50 X25519 public keys from node:crypto, in canonical base64', () => {
    for (let i = 0; i < 50; i++) {
      const doc = aliceDoc();
      doc.vpn_peers[0].public_key = x25519PublicKey();
      expect(describeErrors(errorsOf(validateMember, doc))).toBe('');
    }
  });
});

/**
 * The example is there so that `infra audit` in a fresh clone shows a real report. These checks
 * recompute, independently of the audit code, that each static finding has something to find.
 */
describe('the example registry gives the audit something to report', () => {
  const AS_OF = '2026-11-22'; // the reference date of the example
  const infra = readYaml('infra.yml');
  const members = handles.map((handle) => ({ handle, ...readYaml(`keys/${handle}/member.yml`) }));
  const active = members.filter((m) => m.status === 'active');
  const day = (iso: string) => Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)) / 86_400_000;
  const asOf = day(AS_OF);
  const horizon = infra.policy.audit.horizon_days;
  const activeKeys = active.flatMap((m) => (m.ssh_keys ?? []).map((k: any) => ({ ...k, handle: m.handle })));
  const tokens = members.flatMap((m) => (m.tokens ?? []).map((t: any) => ({ ...t, due: day(t.rotated_at) + (t.rotate_every_days ?? infra.policy.tokens.rotate_every_days) })));

  it('expired-key: an active member has a key past its expiry', () => {
    expect(activeKeys.filter((k) => k.expires && day(k.expires) < asOf).map((k) => `${k.handle}/${k.name}`)).not.toEqual([]);
  });

  it('key-expiring: an active member has a key expiring within the horizon', () => {
    expect(activeKeys.filter((k) => k.expires && day(k.expires) >= asOf && day(k.expires) <= asOf + horizon)).not.toEqual([]);
  });

  it('old-key: an active member has a key older than max_age_days', () => {
    expect(activeKeys.filter((k) => day(k.added) < asOf - infra.policy.ssh.max_age_days)).not.toEqual([]);
  });

  it('token-overdue and token-due-soon: one token of each', () => {
    expect(tokens.filter((t) => t.due < asOf)).not.toEqual([]);
    expect(tokens.filter((t) => t.due >= asOf && t.due <= asOf + horizon)).not.toEqual([]);
    expect(tokens.filter((t) => t.due > asOf + horizon)).not.toEqual([]);
  });

  it('departed-access: the departed member still lists keys and a VPN peer', () => {
    const departed = members.filter((m) => m.status === 'departed');
    expect(departed.length).toBeGreaterThan(0);
    for (const m of departed) {
      expect(m.ssh_keys.length).toBeGreaterThan(0);
      expect(m.vpn_peers.length).toBeGreaterThan(0);
    }
  });

  it('VPN peers hold distinct addresses, none of them reserved', () => {
    const addresses = members.flatMap((m) => m.vpn_peers ?? []).flatMap((p: any) => p.addresses.map((a: string) => a.split('/')[0]));
    expect(new Set(addresses).size).toBe(addresses.length);
    for (const r of infra.vpn.meet.reserved) expect(addresses).not.toContain(r);
  });

  it('holds no private key material', () => {
    const inFolder = (folder: string) => readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => relative(ROOT, join(e.parentPath, e.name)));
    const files = ['infra.yml', ...inFolder('keys'), ...inFolder('inventories')];
    for (const rel of files) expect([rel, /PRIVATE KEY|PrivateKey\s*=/.test(readFileSync(join(ROOT, rel), 'utf8'))]).toEqual([rel, false]);
  });
});
