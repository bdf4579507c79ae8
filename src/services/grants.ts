/**
 * Grants (infra.yml `access`) by command: add, list (with the hosts each pattern reaches now), remove.
 * Each edit is validated like a hand edit (the transaction re-validates infra.yml), and a pattern that
 * selects no host anywhere is refused: a typo must never grant nothing in silence.
 */
import { loadInventories } from '../adapters/inventories.js';
import { environmentNames, grantCoversEnvironment, hostsOf } from '../core/grants.js';
import type { Grant, InfraConfig } from '../core/types.js';
import { GROUP_RE, printable, UNIX_USER_RE } from '../core/validate.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import type { Inventory } from '../core/inventory.js';
import type { Context } from './context.js';
import { withFlowLists } from '../lib/yaml-edit.js';

export interface GrantView {
  /** 1-based, as `infra grants remove N` takes it. */
  number: number;
  groups: string[];
  hosts: string;
  user: string;
  vpn_only: boolean;
  environments: string[];
  /** environment -> the hosts the pattern selects there now. */
  reaches: Record<string, string[]>;
}

export interface AddGrantInput {
  groups?: string;
  hosts?: string;
  user?: string;
  vpnOnly?: boolean;
  env?: string[];
}

const splitList = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

function reachOf(grant: Grant, config: InfraConfig, inventories: Record<string, Inventory>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const env of environmentNames(config)) if (grantCoversEnvironment(grant, env) && inventories[env]) out[env] = hostsOf(grant.hosts, inventories[env]);
  return out;
}

const view = (grant: Grant, index: number, config: InfraConfig, inventories: Record<string, Inventory>): GrantView => ({
  number: index + 1,
  groups: grant.groups,
  hosts: grant.hosts,
  user: grant.user,
  vpn_only: grant.vpn_only === true,
  environments: grant.environments ?? environmentNames(config),
  reaches: reachOf(grant, config, inventories),
});

export async function listGrants(ctx: Context): Promise<{ grants: GrantView[] }> {
  const loaded = await ctx.store.load();
  const { config } = loaded.registry;
  const inventories = await loadInventories(loaded);
  return { grants: config.access.map((g, i) => view(g, i, config, inventories)) };
}

export async function addGrant(ctx: Context, input: AddGrantInput): Promise<{ grant: GrantView; next: string[]; written: string[] }> {
  const missing = (['groups', 'hosts', 'user'] as const).filter((k) => input[k] === undefined);
  if (missing.length)
    throw new InfraError(ExitCode.usage, `missing ${missing.map((k) => `--${k}`).join(', ')}`, { hint: 'infra grants add --groups infra --hosts all --user sysadmin' });
  const groups = splitList(input.groups!);
  if (!groups.length) throw new InfraError(ExitCode.invalid, '--groups: name at least one group', { hint: 'infra grants add --groups infra --hosts all --user sysadmin' });
  for (const g of groups) if (!GROUP_RE.test(g)) throw new InfraError(ExitCode.invalid, `--groups: "${printable(g)}" is not a group name (lowercase letters, digits, _ and -)`);
  if (!UNIX_USER_RE.test(input.user!)) throw new InfraError(ExitCode.invalid, `--user: "${printable(input.user!)}" is not a Unix user name (lowercase letters, digits, _ and -, at most 32)`);
  const hosts = input.hosts!;
  if (!hosts.trim() || /[\n\r]/.test(hosts)) throw new InfraError(ExitCode.invalid, '--hosts: an Ansible host pattern on one line (all, a group, a host, bbb:&production ...)');
  const environments = input.env?.length ? [...new Set(input.env)] : undefined;
  const grant: Grant = { groups, hosts, user: input.user!, ...(input.vpnOnly ? { vpn_only: true } : {}), ...(environments ? { environments } : {}) };

  const { result, written } = await ctx.store.mutate('grants add', async (tx) => {
    const { config } = tx.registry;
    for (const e of environments ?? [])
      if (!(e in config.environments))
        throw new InfraError(ExitCode.invalid, `--env: no environment "${printable(e)}" (known: ${environmentNames(config).join(', ') || 'none'})`, { hint: 'infra env add NAME inventories/NAME' });
    if (grant.vpn_only && !Object.values(config.vpn).some((n) => n.ipv4 || n.ipv6))
      throw new InfraError(ExitCode.invalid, '--vpn-only needs a VPN network: its ranges become the from= of the key lines', {
        hint: 'infra vpn network add NAME --ipv4 10.77.0.0/24 --endpoint vpn.example.org:51820 --servers vpn --server-public-key KEY',
      });
    const duplicate = config.access.findIndex((g) => JSON.stringify(g) === JSON.stringify(grant));
    if (duplicate >= 0) throw new InfraError(ExitCode.invalid, `grant ${duplicate + 1} is already exactly this grant`, { hint: 'infra grants list' });
    const inventories = await loadInventories(tx.loaded);
    const reaches = reachOf(grant, config, inventories);
    if (!Object.values(reaches).some((h) => h.length))
      throw new InfraError(ExitCode.invalid, `--hosts ${JSON.stringify(printable(hosts))} selects no host in ${Object.keys(reaches).join(', ') || 'any environment'}`, {
        hint: 'list the hosts and groups an inventory has: ansible-inventory -i inventories/ENV --graph (add hosts to its hosts.yml, or `infra env add NAME PATH --host HOST`)',
      });
    tx.edit('infra.yml').append(['access'], withFlowLists(grant));
    return view(grant, config.access.length, config, inventories);
  });
  return { grant: result, next: ['infra render  # writes the keys of these groups to the hosts above', 'infra audit'], written };
}

export async function removeGrant(ctx: Context, number: number): Promise<{ removed: GrantView; next: string[]; written: string[] }> {
  const { result, written } = await ctx.store.mutate('grants remove', async (tx) => {
    const { config } = tx.registry;
    if (!Number.isInteger(number) || number < 1 || number > config.access.length)
      throw new InfraError(ExitCode.invalid, `no grant ${number}: infra.yml has ${config.access.length} grant(s), numbered from 1`, { hint: 'infra grants list' });
    const inventories = await loadInventories(tx.loaded);
    const removed = view(config.access[number - 1], number - 1, config, inventories);
    tx.edit('infra.yml').remove(['access'], number - 1);
    return removed;
  });
  return { removed: result, next: ['infra render  # their keys leave those hosts at the next apply (listed under infra_revoked_keys)'], written };
}
