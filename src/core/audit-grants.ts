/**
 * The audit's judgements of grants (docs/reference.md, "infra audit"): the access matrix (who reaches which
 * host as which user, through which grants), vpn-bypass and single-member-host.
 */
import { byText, finding } from './audit-common.js';
import type { AccessMatrixRow } from './audit.js';
import { grantCoversEnvironment, hostsOf, type AccessPlan } from './grants.js';
import type { Inventory } from './inventory.js';
import type { InfraConfig, Policy } from './types.js';
import type { Finding } from './vpn-plan.js';

/** `hosts` without `reached`: `hosts:!vpnOnly` when that pattern is a plain name, else each host by name. */
function excluding(hosts: string, reached: readonly string[], vpnOnly: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(vpnOnly) ? `${hosts}:!${vpnOnly}` : [hosts, ...reached.map((h) => `!${h}`)].join(':');
}

/** Grant index -> host names it selects, per environment (only grants covering it). */
export function grantHosts(config: InfraConfig, inventory: Inventory, environment: string): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  config.access.forEach((grant, i) => {
    if (grantCoversEnvironment(grant, environment)) out.set(i, new Set(hostsOf(grant.hosts, inventory)));
  });
  return out;
}

export function bypassFindings(config: InfraConfig, inventories: Readonly<Record<string, Inventory>>, environments: readonly string[]): Finding[] {
  const pattern = config.policy.ssh.vpn_only_hosts;
  if (!pattern) return [];
  const out: Finding[] = [];
  for (const env of environments) {
    const inventory = inventories[env];
    const vpnOnly = new Set(hostsOf(pattern, inventory));
    if (vpnOnly.size === 0) continue;
    for (const [i, hosts] of grantHosts(config, inventory, env)) {
      const grant = config.access[i];
      if (grant.vpn_only) continue;
      const reached = [...hosts].filter((h) => vpnOnly.has(h)).sort(byText);
      if (!reached.length) continue;
      out.push(
        finding(
          'vpn-bypass',
          `access[${i}] in ${env}`,
          `the grant (groups ${grant.groups.join(', ')}, hosts ${JSON.stringify(grant.hosts)}, user ${grant.user}) reaches ${reached.join(', ')} without vpn_only, but policy.ssh.vpn_only_hosts (${JSON.stringify(pattern)}) says they are reached only from the VPN`,
          // Excluding the hosts by name is right whatever the patterns hold: `a:!b:&c` would mean (a - b) & c.
          `in infra.yml, add \`vpn_only: true\` to access[${i}] (or exclude them from its hosts: "${excluding(grant.hosts, reached, pattern)}"), then \`infra render\``,
        ),
      );
    }
  }
  return out;
}

export function accessMatrix(config: InfraConfig, inventories: Readonly<Record<string, Inventory>>, plan: AccessPlan): AccessMatrixRow[] {
  const rows: AccessMatrixRow[] = [];
  for (const [environment, hosts] of plan) {
    const selected = grantHosts(config, inventories[environment], environment);
    for (const [host, users] of hosts)
      for (const [user, ua] of users) {
        const grants = [...selected].filter(([i, hs]) => hs.has(host) && config.access[i].user === user).map(([i]) => i);
        const everyKeyVpnOnly = new Map<string, boolean>(); // member -> all their keys here are vpn_only
        for (const g of ua.granted) everyKeyVpnOnly.set(g.member, (everyKeyVpnOnly.get(g.member) ?? true) && g.vpnOnly);
        const members = [...everyKeyVpnOnly.keys()].sort(byText);
        const vpnOnlyMembers = members.filter((m) => everyKeyVpnOnly.get(m));
        rows.push({
          environment,
          host,
          user,
          members,
          vpn_only: members.length ? vpnOnlyMembers.length === members.length : grants.every((i) => config.access[i].vpn_only === true),
          vpn_only_members: vpnOnlyMembers,
          grants: grants.map((i) => `access[${i}]`),
        });
      }
  }
  return rows;
}

/** Hosts some grant selects that fewer than min_members_per_host distinct active members can reach (any user). */
export function busFactorFindings(config: InfraConfig, rows: readonly AccessMatrixRow[], policy: Policy): Finding[] {
  const min = policy.audit.min_members_per_host;
  const byHost = new Map<string, { environment: string; host: string; members: Set<string>; grants: Set<string> }>();
  for (const r of rows) {
    const key = `${r.environment}\0${r.host}`;
    let h = byHost.get(key);
    if (!h) byHost.set(key, (h = { environment: r.environment, host: r.host, members: new Set(), grants: new Set() }));
    r.members.forEach((m) => h!.members.add(m));
    r.grants.forEach((g) => h!.grants.add(g));
  }
  const out: Finding[] = [];
  for (const h of byHost.values()) {
    if (h.members.size >= min) continue;
    const groups = [...new Set([...h.grants].flatMap((g) => config.access[Number(/\d+/.exec(g)![0])].groups))].sort(byText);
    const who = h.members.size ? `only ${[...h.members].sort(byText).join(', ')} can reach it` : 'no active member can reach it';
    out.push(
      finding(
        'single-member-host',
        `${h.environment}/${h.host}`,
        `${who} (policy: at least ${min})`,
        `add another active member to ${groups.length === 1 ? 'group' : 'one of the groups'} ${groups.join(', ')} (\`groups:\` in keys/<handle>/member.yml), or grant another group this host in infra.yml \`access:\`, then \`infra render\``,
      ),
    );
  }
  return out;
}
