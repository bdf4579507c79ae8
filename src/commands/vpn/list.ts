import { Flags } from '@oclif/core';
import { listPeers, type PeerRow } from '../../core/vpn-plan.js';
import { InfraCommand } from '../../lib/base-command.js';
import { table } from '../../lib/style.js';

export interface VpnListResult {
  peers: PeerRow[];
}

export default class VpnList extends InfraCommand<VpnListResult> {
  static override summary = 'List the VPN peers: member, device, network, addresses.';
  static override description = "Departed members' peers are listed with status departed: render leaves them out of the servers' peer lists; `infra vpn leave` removes them from the registry.";
  static override examples = ['<%= config.bin %> vpn list', '<%= config.bin %> vpn list --network meet --json'];
  static override flags = { network: Flags.string({ description: 'only this network' }) };

  async run(): Promise<VpnListResult> {
    const { flags } = await this.parseWith(VpnList);
    const { registry } = await this.context().store.load();
    const peers = listPeers(registry, flags.network);
    if (!this.jsonEnabled()) {
      if (peers.length === 0) this.say(`no VPN peers${flags.network ? ` in ${flags.network}` : ''}; enrol one with \`infra vpn join HANDLE --device D\``);
      else
        this.out(
          table(
            ['NETWORK', 'MEMBER', 'DEVICE', 'ADDRESSES', 'STATUS', 'ADDED', 'PUBLIC KEY'],
            peers.map((p) => [p.network, p.member, p.device, p.addresses.join(', '), p.member_status, p.added, p.public_key]),
          ),
        );
    }
    return { peers };
  }
}
