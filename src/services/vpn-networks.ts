/**
 * `infra vpn network add`: a WireGuard network in infra.yml without a hand edit. The server's key pair is
 * made on the server (`wg genkey | tee server.key | wg pubkey`): only its public key comes here, so the
 * server's private key never passes through infra or the registry.
 */
import { loadInventories } from '../adapters/inventories.js';
import { environmentNames, hostsOf } from '../core/grants.js';
import { formatAddress, hostRange, parseCidr } from '../core/ip-alloc.js';
import type { VpnNetwork } from '../core/types.js';
import { validateNetwork } from '../core/wireguard.js';
import { printable } from '../core/validate.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import type { Context } from './context.js';
import { withFlowLists } from '../lib/yaml-edit.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface AddNetworkInput {
  name: string;
  ipv4?: string;
  ipv6?: string;
  endpoint?: string;
  servers?: string;
  serverPublicKey?: string;
  dns?: string[];
  keepalive?: number;
}

export interface AddNetworkResult {
  network: VpnNetwork;
  /** environment -> the servers the pattern selects there now. */
  servers: Record<string, string[]>;
  next: string[];
  written: string[];
}

const EXAMPLE = 'infra vpn network add meet --ipv4 10.77.0.0/24 --endpoint vpn.example.org:51820 --servers vpn --server-public-key KEY';

/** The first host address of a range: where a WireGuard server usually sits, so never handed to a device. */
function firstHost(range: string): string | undefined {
  try {
    const c = parseCidr(range);
    return c.bits - c.prefix >= 1 ? formatAddress(c.family, hostRange(c).first) : undefined;
  } catch {
    return undefined; // the range's own problem is reported by validateNetwork
  }
}

/** Maps a problem's field (`vpn.NAME.ipv4`) back to the flag that set it. */
const FLAG_OF: Record<string, string> = { ipv4: '--ipv4', ipv6: '--ipv6', endpoint: '--endpoint', server_public_key: '--server-public-key', servers: '--servers', dns: '--dns', keepalive: '--keepalive', name: 'NAME' };

export async function addVpnNetwork(ctx: Context, input: AddNetworkInput): Promise<AddNetworkResult> {
  const missing = [input.ipv4 === undefined && input.ipv6 === undefined ? '--ipv4 (or --ipv6)' : '', input.endpoint === undefined ? '--endpoint' : '', input.servers === undefined ? '--servers' : '', input.serverPublicKey === undefined ? '--server-public-key' : ''].filter(Boolean);
  if (missing.length) throw new InfraError(ExitCode.usage, `missing ${missing.join(', ')}`, { hint: EXAMPLE });
  if (!/^[a-z][a-z0-9_-]{0,14}$/.test(input.name))
    throw new InfraError(ExitCode.invalid, `NAME: "${printable(input.name)}" is not a network name (lowercase letters, digits, _ and -, at most 15: it becomes the interface name)`, { hint: EXAMPLE });
  const ranges = [input.ipv4, input.ipv6].filter((r): r is string => r !== undefined);
  const network: VpnNetwork = {
    name: input.name,
    ...(input.ipv4 !== undefined ? { ipv4: input.ipv4 } : {}),
    ...(input.ipv6 !== undefined ? { ipv6: input.ipv6 } : {}),
    endpoint: input.endpoint!,
    server_public_key: input.serverPublicKey!,
    reserved: ranges.map(firstHost).filter((a): a is string => a !== undefined),
    ...(input.dns?.length ? { dns: input.dns } : {}),
    allowed_ips: ranges,
    ...(input.keepalive !== undefined ? { keepalive: input.keepalive } : {}),
    servers: input.servers!,
  };

  const { result, written } = await ctx.store.mutate('vpn network add', async (tx) => {
    const { config } = tx.registry;
    if (input.name in config.vpn) throw new InfraError(ExitCode.invalid, `network ${input.name} already exists in infra.yml`, { hint: `infra vpn list --network ${shellQuote(input.name)}` });
    const problems = validateNetwork(network, [...Object.values(config.vpn), network]);
    if (problems.length) {
      const lines = problems.map((p) => `${FLAG_OF[p.field.split('.')[2]?.replace(/\[\d+\]$/, '') ?? ''] ?? p.field}: ${p.message}`);
      throw new InfraError(ExitCode.invalid, lines.join('\n'), { hint: EXAMPLE });
    }
    const inventories = await loadInventories(tx.loaded);
    const servers: Record<string, string[]> = {};
    for (const env of environmentNames(config)) if (inventories[env]) servers[env] = hostsOf(network.servers, inventories[env]);
    if (!Object.values(servers).some((h) => h.length))
      throw new InfraError(ExitCode.invalid, `--servers ${JSON.stringify(printable(network.servers))} selects no host in ${Object.keys(servers).join(', ') || 'any environment'}`, {
        hint: 'name the WireGuard servers as the inventory does: ansible-inventory -i inventories/ENV --graph',
      });
    const { name: _name, ...body } = network;
    const editor = tx.edit('infra.yml');
    const current = editor.get(['vpn']);
    // `vpn: {}` (as `infra init` writes it) becomes a block map; otherwise the network joins the others.
    if (current && typeof current === 'object' && 'items' in current && (current as { items: unknown[] }).items.length > 0) editor.setBlock(['vpn', input.name], withFlowLists(body));
    else editor.setBlock(['vpn'], withFlowLists({ [input.name]: body }));
    return servers;
  });
  return {
    network,
    servers: result,
    next: [
      `infra vpn join HANDLE --device DEVICE --network ${shellQuote(input.name)}  # enrol a device`,
      'infra render  # the servers get their peer lists; apply with ansible/wireguard.yml',
    ],
    written,
  };
}
