import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../../_shared/base-command.js';
import { addVpnNetwork, type AddNetworkResult } from '../../../services/vpn-networks.js';

export default class VpnNetworkAdd extends InfraCommand<AddNetworkResult> {
  static override summary = 'Add a WireGuard network to infra.yml.';
  static override description =
    'Writes vpn.NAME with its ranges, endpoint, server public key and servers pattern. The first address of each range is reserved for the server. Make the server’s key pair on the server (`wg genkey | tee /etc/wireguard/NAME.key | wg pubkey`): only the public key is given here, so the private key never leaves the server.';
  static override examples = [
    '<%= config.bin %> vpn network add ops --ipv4 10.88.0.0/24 --ipv6 fd88::/64 --endpoint vpn.meet.example:51821 --servers vpn --server-public-key QsYq4yARL4YyaJLcm/zwkAnSSm5p+SQ/AE3KJduyGlo=',
  ];
  static override args = { name: Args.string({ required: true, description: 'network name (also the interface name on the servers)' }) };
  static override flags = {
    ipv4: Flags.string({ description: 'IPv4 range (CIDR)' }),
    ipv6: Flags.string({ description: 'IPv6 range (CIDR)' }),
    endpoint: Flags.string({ description: 'HOST:PORT devices connect to ([IPv6]:PORT for a literal)' }),
    servers: Flags.string({ description: 'Ansible host pattern of the WireGuard servers' }),
    'server-public-key': Flags.string({ description: 'the server’s WireGuard public key (wg pubkey)' }),
    dns: Flags.string({ description: 'DNS server or search domain for devices (repeatable)', multiple: true }),
    keepalive: Flags.integer({ description: 'PersistentKeepalive seconds for devices' }),
  };

  async run(): Promise<AddNetworkResult> {
    const { args, flags } = await this.parseWith(VpnNetworkAdd);
    const result = await addVpnNetwork(this.context(), {
      name: args.name,
      ipv4: flags.ipv4,
      ipv6: flags.ipv6,
      endpoint: flags.endpoint,
      servers: flags.servers,
      serverPublicKey: flags['server-public-key'],
      dns: flags.dns,
      keepalive: flags.keepalive,
    });
    const servers = Object.entries(result.servers).map(([env, hosts]) => `${env}: ${hosts.join(', ') || 'none'}`).join('; ');
    this.say(`Network ${result.network.name}: ${[result.network.ipv4, result.network.ipv6].filter(Boolean).join(' and ')}, reserved ${result.network.reserved.join(', ')}; servers ${servers}.`);
    this.say(['Next:', ...result.next.map((n) => `  ${n}`)].join('\n'));
    return result;
  }
}
