/**
 * Validation of infra.yml: the policy, the access grants, the VPN networks' shapes and the render options.
 * Pure: the store hands over the parsed YAML and a `locate` function (path -> line).
 */
import type { Problem } from '../lib/errors.js';
import { dict } from './dict.js';
import { validateSshHostPolicy } from './sshd-policy.js';
import { validateNetwork } from './wireguard.js';
import { validateCertPolicy } from './cert-validate.js';
import { DEFAULT_POLICY, ENV_RE, HANDLE_RE, type Grant, type InfraConfig, type Policy, type VpnNetwork } from './types.js';
import { GROUP_RE, int, isObject, KEY_FAMILIES, list, Problems, str, stringList, textProblem, UNIX_USER_RE, unknownFields, type Locate, type Path } from './validate-fields.js';

function validatePolicy(p: Problems, raw: unknown): Policy {
  const policy: Policy = structuredClone(DEFAULT_POLICY);
  if (raw === undefined || raw === null) return policy;
  if (!isObject(raw)) return p.add(['policy'], 'must be a mapping'), policy;
  unknownFields(p, ['policy'], raw, ['ssh', 'tokens', 'audit', 'vpn', 'changes', 'certs']);
  const section = (name: string, allowed: string[]): Record<string, unknown> => {
    const s = raw[name];
    if (s === undefined || s === null) return {};
    if (!isObject(s)) return p.add(['policy', name], 'must be a mapping'), {};
    unknownFields(p, ['policy', name], s, allowed);
    return s;
  };
  const ssh = section('ssh', ['allowed_types', 'min_rsa_bits', 'max_age_days', 'vpn_only_hosts', 'host']);
  if (ssh.allowed_types !== undefined) {
    const types = stringList(p, ssh, ['policy', 'ssh'], 'allowed_types');
    types.forEach((t, i) => {
      if (t === 'dsa') p.add(['policy', 'ssh', 'allowed_types', i], 'dsa is never allowed (OpenSSH deprecated it as insecure)');
      else if (!(KEY_FAMILIES as readonly string[]).includes(t)) p.add(['policy', 'ssh', 'allowed_types', i], `unknown key type "${t}" (known: ${KEY_FAMILIES.join(', ')})`);
    });
    policy.ssh.allowed_types = types.filter((t) => (KEY_FAMILIES as readonly string[]).includes(t));
  }
  policy.ssh.min_rsa_bits = int(p, ssh, ['policy', 'ssh'], 'min_rsa_bits', 1024, policy.ssh.min_rsa_bits, 16384)!;
  policy.ssh.max_age_days = int(p, ssh, ['policy', 'ssh'], 'max_age_days', 1, policy.ssh.max_age_days)!;
  const vpnOnlyHosts = str(p, ssh, ['policy', 'ssh'], 'vpn_only_hosts');
  if (vpnOnlyHosts !== undefined) policy.ssh.vpn_only_hosts = vpnOnlyHosts;
  if (ssh.host !== undefined) policy.ssh.host = validateSshHostPolicy(p, ssh.host);
  const vpn = section('vpn', ['idle_days']);
  policy.vpn = { idle_days: int(p, vpn, ['policy', 'vpn'], 'idle_days', 1, DEFAULT_POLICY.vpn!.idle_days)! };
  const tokens = section('tokens', ['rotate_every_days']);
  policy.tokens.rotate_every_days = int(p, tokens, ['policy', 'tokens'], 'rotate_every_days', 1, policy.tokens.rotate_every_days)!;
  const audit = section('audit', ['min_members_per_host', 'horizon_days']);
  policy.audit.min_members_per_host = int(p, audit, ['policy', 'audit'], 'min_members_per_host', 1, policy.audit.min_members_per_host)!;
  policy.audit.horizon_days = int(p, audit, ['policy', 'audit'], 'horizon_days', 0, policy.audit.horizon_days)!;
  if (raw.changes !== undefined && raw.changes !== null) {
    const changes = section('changes', ['two_admins', 'require_signed']);
    policy.changes = {};
    for (const flag of ['two_admins', 'require_signed'] as const) {
      if (changes[flag] === undefined) continue;
      if (typeof changes[flag] !== 'boolean') p.add(['policy', 'changes', flag], 'must be true or false');
      else policy.changes[flag] = changes[flag];
    }
  }
  policy.certs = validateCertPolicy(p, raw.certs);
  return policy;
}

function validateGrant(p: Problems, raw: unknown, i: number, envNames: string[]): Grant | undefined {
  const path = ['access', i];
  if (!isObject(raw)) return void p.add(path, 'must be a mapping with groups, hosts and user');
  unknownFields(p, path, raw, ['groups', 'hosts', 'user', 'vpn_only', 'environments']);
  const groups = stringList(p, raw, path, 'groups', GROUP_RE, true);
  if (Array.isArray(raw.groups) && raw.groups.length === 0) p.add([...path, 'groups'], 'must name at least one group');
  const hosts = str(p, raw, path, 'hosts', { required: true });
  const user = str(p, raw, path, 'user', { required: true, re: UNIX_USER_RE, reText: 'a Unix user name (lowercase letters, digits, _ and -)' });
  if (raw.vpn_only !== undefined && typeof raw.vpn_only !== 'boolean') p.add([...path, 'vpn_only'], 'must be true or false');
  let environments: string[] | undefined;
  if (raw.environments !== undefined) {
    environments = stringList(p, raw, path, 'environments');
    environments.forEach((e, j) => {
      if (!envNames.includes(e)) p.add([...path, 'environments', j], `no environment "${e}" in environments (known: ${envNames.join(', ') || 'none'})`);
    });
  }
  if (!hosts || !user) return undefined;
  return { groups, hosts, user, ...(raw.vpn_only === true ? { vpn_only: true } : {}), ...(environments ? { environments } : {}) };
}

/** Shapes only; what the values mean (ranges, overlaps, endpoint, keys) is wireguard.validateNetwork's. */
function shapeNetwork(p: Problems, name: string, raw: unknown): VpnNetwork | undefined {
  const path = ['vpn', name];
  if (!/^[a-z][a-z0-9_-]{0,14}$/.test(name)) p.add(path, 'network names are lowercase letters, digits, _ and -, at most 15 characters (they become interface names)');
  if (!isObject(raw)) return void p.add(path, 'must be a mapping');
  unknownFields(p, path, raw, ['ipv4', 'ipv6', 'endpoint', 'server_public_key', 'reserved', 'dns', 'allowed_ips', 'keepalive', 'mtu', 'servers']);
  const ipv4 = str(p, raw, path, 'ipv4');
  const ipv6 = str(p, raw, path, 'ipv6');
  const endpoint = str(p, raw, path, 'endpoint', { required: true });
  const key = str(p, raw, path, 'server_public_key', { required: true });
  const servers = str(p, raw, path, 'servers', { required: true });
  const reserved = stringList(p, raw, path, 'reserved');
  const dns = raw.dns === undefined ? undefined : stringList(p, raw, path, 'dns');
  const allowed = raw.allowed_ips === undefined ? [ipv4, ipv6].filter((x): x is string => !!x) : stringList(p, raw, path, 'allowed_ips');
  const keepalive = int(p, raw, path, 'keepalive', 0);
  const mtu = int(p, raw, path, 'mtu', 576);
  if (!endpoint || !key || !servers) return undefined;
  return {
    name,
    ...(ipv4 ? { ipv4 } : {}),
    ...(ipv6 ? { ipv6 } : {}),
    endpoint,
    server_public_key: key,
    reserved,
    ...(dns ? { dns } : {}),
    allowed_ips: allowed,
    ...(keepalive !== undefined ? { keepalive } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    servers,
  };
}

/** "vpn.meet.reserved[0]" -> ['vpn', 'meet', 'reserved', 0] */
function pathOfField(field: string): Path {
  return field.split('.').flatMap((part) => {
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) return [part];
    const idx = [...m[2].matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
    return [...(m[1] ? [m[1]] : []), ...idx];
  });
}

export function validateConfig(raw: unknown, file: string, locate?: Locate): { config?: InfraConfig; problems: Problem[] } {
  const p = new Problems(file, locate);
  if (!isObject(raw)) {
    p.add([], raw === null || raw === undefined ? 'the file is empty: it needs at least org, admins and environments' : 'must be a mapping');
    return { problems: p.list };
  }
  unknownFields(p, [], raw, ['org', 'admins', 'environments', 'policy', 'access', 'vpn', 'render']);
  const org = str(p, raw, [], 'org', { required: true });
  const admins = stringList(p, raw, [], 'admins', HANDLE_RE);
  const environments = dict<string>(); // null prototype: an environment may be called `constructor`
  if (raw.environments === undefined || raw.environments === null) p.add(['environments'], 'is required (environment name -> inventory folder)');
  else if (!isObject(raw.environments)) p.add(['environments'], 'must be a mapping of environment name -> inventory folder');
  else {
    for (const [name, folder] of Object.entries(raw.environments)) {
      if (!ENV_RE.test(name)) p.add(['environments', name], 'environment names are lowercase letters, digits, _ and -');
      const problem = textProblem(folder, 'a folder path');
      if (problem) p.add(['environments', name], problem);
      else if ((folder as string).startsWith('/') || (folder as string).split(/[\\/]/).includes('..'))
        p.add(['environments', name], 'must be a folder inside the registry (relative, without ..)');
      else environments[name] = (folder as string).replace(/\/+$/, '');
    }
  }
  const policy = validatePolicy(p, raw.policy);
  const access = list(p, raw, [], 'access')
    .map((g, i) => validateGrant(p, g, i, Object.keys(environments)))
    .filter((g): g is Grant => !!g);
  const vpn = dict<VpnNetwork>(); // null prototype: a network may be called `toString`
  if (raw.vpn !== undefined && raw.vpn !== null) {
    if (!isObject(raw.vpn)) p.add(['vpn'], 'must be a mapping of network name -> network');
    else
      for (const [name, net] of Object.entries(raw.vpn)) {
        const n = shapeNetwork(p, name, net);
        if (n) vpn[name] = n;
      }
  }
  for (const net of Object.values(vpn))
    for (const problem of validateNetwork(net, Object.values(vpn))) p.add(pathOfField(problem.field), problem.message);
  let render: InfraConfig['render'];
  if (raw.render !== undefined && raw.render !== null) {
    if (!isObject(raw.render)) p.add(['render'], 'must be a mapping');
    else {
      unknownFields(p, ['render'], raw.render, ['compat']);
      if (raw.render.compat !== undefined && raw.render.compat !== 'provision_ssh_keys') p.add(['render', 'compat'], 'the only compatibility shape is provision_ssh_keys');
      else if (raw.render.compat) render = { compat: 'provision_ssh_keys' };
    }
  }
  if (p.list.length || !org) return { problems: p.list };
  return { config: { org, admins, environments, policy, access, vpn, ...(render ? { render } : {}) }, problems: p.list };
}
