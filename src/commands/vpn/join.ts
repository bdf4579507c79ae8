import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { deliveryFlags, deliveryInput } from '../_shared/vpn-flags.js';
import { joinVpn, type VpnConfigResult } from '../../services/vpn.js';

export default class VpnJoin extends InfraCommand<VpnConfigResult> {
  static override summary = "Enrol a member's device in a VPN network and emit its wg-quick config.";
  static override description = `Allocates the lowest free address of each family the network has, records the peer in keys/HANDLE/member.yml, and emits the device's wg-quick config: to stdout, to --out FILE (mode 0600), as a terminal QR code (--qr), or encrypted to the member's OpenPGP key (--encrypt).
The device's private key is made here and written only into that config, never into the registry. With --public-key the device made its own key pair, and no private key exists anywhere else.
The server learns the peer at the next \`infra render\` and apply (ansible/wireguard.yml).`;
  static override examples = [
    '<%= config.bin %> vpn join alice --device tablet --out ~/alice-tablet.conf',
    { description: 'Enrol a phone: the config is drawn as a QR code, which needs a terminal', command: '<%= config.bin %> vpn join alice --device phone --qr' },
    '<%= config.bin %> vpn join alice --device desktop --encrypt > ~/alice-desktop.conf.asc',
    'umask 077 && wg genkey > ~/router.key && <%= config.bin %> vpn join alice --device router --public-key "$(wg pubkey < ~/router.key)"',
  ];
  static override args = { handle: Args.string({ required: true, description: 'the member' }) };
  static override flags = {
    device: Flags.string({ description: 'device name: letters, digits, . _ - (e.g. laptop, phone)' }),
    network: Flags.string({ description: 'the VPN network (may be left out when infra.yml has one)' }),
    ...deliveryFlags,
  };

  async run(): Promise<VpnConfigResult> {
    const { args, flags } = await this.parseWith(VpnJoin);
    return joinVpn(this.context(), { handle: args.handle, device: flags.device, network: flags.network, ...deliveryInput(flags) });
  }
}
