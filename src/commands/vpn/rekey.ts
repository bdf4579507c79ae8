import * as Args from '@oclif/core/args';
import { InfraCommand } from '../_shared/base-command.js';
import { deliveryFlags, deliveryInput, deviceFlags } from '../_shared/vpn-flags.js';
import { rekeyVpn, type VpnConfigResult } from '../../services/vpn.js';

export default class VpnRekey extends InfraCommand<VpnConfigResult> {
  static override summary = 'Give a device a new WireGuard key pair; it keeps its addresses.';
  static override description = `Replaces the peer's public key in keys/HANDLE/member.yml and emits the device's new config, like \`infra vpn join\` (stdout, --out, --qr, --encrypt). With --public-key the device made the new pair itself.
The old key keeps working on the servers until the next \`infra render\` and apply (ansible/wireguard.yml).`;
  static override examples = [
    '<%= config.bin %> vpn rekey alice --device laptop --out ~/alice-laptop.conf',
    { description: 'The new config as a QR code, which needs a terminal', command: '<%= config.bin %> vpn rekey bob --device laptop --qr' },
    'umask 077 && wg genkey > ~/laptop.key && <%= config.bin %> vpn rekey dana --device laptop --public-key "$(wg pubkey < ~/laptop.key)"',
  ];
  static override args = { handle: Args.string({ required: true, description: 'the member' }) };
  static override flags = { ...deviceFlags, ...deliveryFlags };

  async run(): Promise<VpnConfigResult> {
    const { args, flags } = await this.parseWith(VpnRekey);
    return rekeyVpn(this.context(), { handle: args.handle, device: flags.device, network: flags.network, ...deliveryInput(flags) });
  }
}
