import { need } from '../../services/context.js';
import { Args, Flags } from '@oclif/core';
import { assertHandle } from '../../core/validate.js';
import { checkDeviceName, findPeer } from '../../core/vpn-plan.js';
import { InfraCommand } from '../../lib/base-command.js';

export interface VpnLeaveResult {
  member: string;
  device: string;
  network: string;
  addresses: string[];
  public_key: string;
}

export default class VpnLeave extends InfraCommand<VpnLeaveResult> {
  static override summary = "Remove a member's device from a VPN network.";
  static override description = `Removes the peer from keys/HANDLE/member.yml. The servers drop it at the next \`infra render\` and apply (ansible/wireguard.yml); its addresses are not handed to a new device while any rendered inventory still lists the old peer.`;
  static override examples = ['<%= config.bin %> vpn leave alice --device old-phone', '<%= config.bin %> vpn leave alice --device laptop --network meet --json'];
  static override args = { handle: Args.string({ required: true, description: 'the member' }) };
  static override flags = {
    device: Flags.string({ description: 'the enrolled device' }),
    network: Flags.string({ description: 'the VPN network (needed only when the device is in more than one)' }),
  };

  async run(): Promise<VpnLeaveResult> {
    const { args, flags } = await this.parseWith(VpnLeave);
    assertHandle(args.handle);
    const device = await need(this.context(), flags.device, 'device', 'Which device?');
    checkDeviceName(device);
    const { result } = await this.context().store.mutate('vpn leave', (tx) => {
      const ref = findPeer(tx.registry, args.handle, device, flags.network);
      tx.editMember(args.handle).remove(['vpn_peers'], ref.index);
      return { member: args.handle, device, network: ref.peer.network, addresses: ref.peer.addresses, public_key: ref.peer.public_key, servers: ref.network.servers };
    });
    this.say(`removed ${args.handle}/${device} from ${result.network} (${result.addresses.join(', ')})`);
    this.say(`Next: \`infra render\`, commit, then apply ansible/wireguard.yml to the servers matched by \`${result.servers}\`; until then the device can still connect.`);
    const { servers: _servers, ...out } = result;
    return out;
  }
}
