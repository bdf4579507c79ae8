/**
 * Which member groups reach which hosts (docs/reference.md, "infra audit", "Markdown"): one edge per grant and
 * environment, from the grant's groups to the hosts its pattern selects in that inventory, for the
 * Markdown's Mermaid flowchart. Pure: the parsed inventories come in.
 */
import { environmentNames, grantCoversEnvironment, hostsOf } from './grants.js';
import type { Inventory } from './inventory.js';
import type { InfraConfig } from './types.js';

export interface ReachEdge {
  environment: string;
  /** `access[i]` */
  grant: string;
  groups: string[];
  /** The grant's host pattern as written. */
  hosts: string;
  /** The hosts it selects in this environment's inventory (sorted). */
  matched: string[];
  user: string;
  vpn_only: boolean;
}

export function reachEdges(config: InfraConfig, inventories: Readonly<Record<string, Inventory>>): ReachEdge[] {
  const out: ReachEdge[] = [];
  for (const environment of environmentNames(config)) {
    const inventory = inventories[environment];
    if (inventory === undefined) continue;
    config.access.forEach((g, i) => {
      if (!grantCoversEnvironment(g, environment)) return;
      let matched: string[] = [];
      try {
        matched = [...hostsOf(g.hosts, inventory)].sort();
      } catch {
        // a pattern that does not resolve is validation's problem (invalid-registry); here it reaches nothing
      }
      out.push({ environment, grant: `access[${i}]`, groups: [...g.groups], hosts: g.hosts, matched, user: g.user, vpn_only: g.vpn_only === true });
    });
  }
  return out;
}
