import * as Flags from '@oclif/core/flags';
import type { PeerRow } from '../../core/vpn-plan.js';
import { InfraCommand } from '../_shared/base-command.js';
import { table } from '../../lib/style.js';
import { listVpn } from '../../services/vpn.js';

export default class VpnList extends InfraCommand<{ peers: PeerRow[] }> {
  static override summary = 'List the VPN peers: member, device, network, addresses.';
  static override description = "Departed members' peers are listed with status departed: render leaves them out of the servers' peer lists; `infra vpn leave` removes them from the registry. The table fits the terminal (public keys are cut first, then addresses wrap, one whole address per line); --json keeps everything.";
  static override examples = ['<%= config.bin %> vpn list', '<%= config.bin %> vpn list --network meet --json'];
  static override flags = { network: Flags.string({ description: 'only this network' }) };

  async run(): Promise<{ peers: PeerRow[] }> {
    const { flags } = await this.parseWith(VpnList);
    const ctx = this.context();
    const result = await listVpn(ctx, { network: flags.network });
    if (!this.jsonEnabled() && result.peers.length) {
      const rows = result.peers.map((p) => [p.network, p.member, p.device, p.addresses.join(', '), p.member_status, p.added, p.public_key]);
      // Given way in this order: public key (its start still tells keys apart), then addresses, which wrap one
      // whole address per line (never cut: `grep` must find it), device, member.
      this.out(table(['NETWORK', 'MEMBER', 'DEVICE', 'ADDRESSES', 'STATUS', 'ADDED', 'PUBLIC KEY'], rows, { width: ctx.stdout.columns, shrink: [6, 3, 2, 1], wrap: [3], whole: [3] }));
    }
    return result;
  }
}
