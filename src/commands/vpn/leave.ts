import * as Args from '@oclif/core/args';
import { InfraCommand } from '../_shared/base-command.js';
import { deviceFlags } from '../_shared/vpn-flags.js';
import { leaveVpn, type VpnLeaveResult } from '../../services/vpn.js';

export default class VpnLeave extends InfraCommand<VpnLeaveResult> {
  static override summary = "Remove a member's device from a VPN network.";
  static override description = `Removes the peer from keys/HANDLE/member.yml. The servers drop it at the next \`infra render\` and apply (ansible/wireguard.yml); its addresses are not handed to a new device while any rendered inventory still lists the old peer.`;
  static override examples = ['<%= config.bin %> vpn leave erin --device desktop', '<%= config.bin %> vpn leave alice --device laptop --network meet --json'];
  static override args = { handle: Args.string({ required: true, description: 'the member' }) };
  static override flags = deviceFlags;

  async run(): Promise<VpnLeaveResult> {
    const { args, flags } = await this.parseWith(VpnLeave);
    return leaveVpn(this.context(), { handle: args.handle, device: flags.device, network: flags.network });
  }
}
