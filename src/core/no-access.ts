/**
 * `no-access` (medium): a registry that grants nothing where people expect it to. Three cases: members but
 * no grant at all; an active member with keys whom no grant takes to any host; a grant whose pattern
 * selects no host in any environment it covers (an empty inventory, a renamed group). Each says the command
 * that makes the access exist. Pure: the access plan and the inventories come in.
 */
import { environmentNames, grantCoversEnvironment, hostsOf, type AccessPlan } from './grants.js';
import type { Inventory } from './inventory.js';
import type { InfraConfig, Member } from './types.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface NoAccessFinding {
  subject: string;
  detail: string;
  fix: string;
}

export function noAccessFindings(config: InfraConfig, members: readonly Member[], plan: AccessPlan, inventories: Readonly<Record<string, Inventory>>): NoAccessFinding[] {
  const out: NoAccessFinding[] = [];
  const active = members.filter((m) => m.status === 'active' && m.kind === 'human');
  if (config.access.length === 0) {
    if (active.length)
      out.push({
        subject: 'access',
        detail: `${active.length} active member(s) and no grant in infra.yml: nobody's key reaches any host`,
        fix: 'infra grants add --groups GROUP --hosts PATTERN --user USER',
      });
    return out;
  }
  const reached = new Set<string>();
  for (const hosts of plan.values()) for (const users of hosts.values()) for (const access of users.values()) for (const g of access.granted) reached.add(g.member);
  for (const m of active) {
    if (!m.ssh_keys.length || reached.has(m.handle)) continue;
    const granted = new Set(config.access.flatMap((g) => g.groups));
    const hasGrantedGroup = m.groups.some((g) => granted.has(g));
    out.push({
      subject: m.handle,
      detail: hasGrantedGroup
        ? `${m.handle} has ${m.ssh_keys.length} key(s) but reaches no host: the grants of their groups select no host, or their keys fail policy`
        : `${m.handle} has ${m.ssh_keys.length} key(s) but reaches no host: no grant names any of their groups (${m.groups.join(', ') || 'none'})`,
      fix: hasGrantedGroup ? `infra members show ${shellQuote(m.handle)}  # then \`infra keys list ${shellQuote(m.handle)}\` or \`infra grants list\`` : `infra members edit ${shellQuote(m.handle)} --add-group GROUP  # a group a grant names (infra grants list)`,
    });
  }
  config.access.forEach((grant, i) => {
    const envs = environmentNames(config).filter((e) => grantCoversEnvironment(grant, e) && inventories[e]);
    if (envs.some((e) => hostsOf(grant.hosts, inventories[e]).length > 0)) return;
    out.push({
      subject: `access[${i}]`,
      detail: `grant ${i + 1} (${grant.groups.join(',')} → ${grant.user}@${grant.hosts}) selects no host in ${envs.join(', ') || 'any loaded environment'}`,
      fix: 'add hosts to the inventory, or change the pattern: `infra grants list` shows what each grant reaches',
    });
  });
  return out;
}
