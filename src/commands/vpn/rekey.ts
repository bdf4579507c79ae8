import { need } from '../../services/context.js';
import { randomBytes } from 'node:crypto';
import { Args, Flags } from '@oclif/core';
import { assertHandle } from '../../core/validate.js';
import { checkDeviceName, deviceConfigInput, planRekey } from '../../core/vpn-plan.js';
import { generatePrivateKey, publicKeyOf, renderDeviceConfig } from '../../core/wireguard.js';
import { ExitCode, InfraError } from '../../lib/errors.js';
import { checkDelivery, deliverConfig, DeliveringCommand, deliveryFlags, type VpnConfigResult } from './join.js';

export default class VpnRekey extends DeliveringCommand {
  static override summary = 'Give a device a new WireGuard key pair; it keeps its addresses.';
  static override description = `Replaces the peer's public key in keys/HANDLE/member.yml and emits the device's new config, like \`infra vpn join\` (stdout, --out, --qr, --encrypt). With --public-key the device made the new pair itself.
The old key keeps working on the servers until the next \`infra render\` and apply (ansible/wireguard.yml).`;
  static override examples = [
    '<%= config.bin %> vpn rekey alice --device laptop --out alice-laptop.conf',
    '<%= config.bin %> vpn rekey alice --device phone --qr',
    '<%= config.bin %> vpn rekey alice --device router --public-key "$(wg pubkey < privatekey)"',
  ];
  static override args = { handle: Args.string({ required: true, description: 'the member' }) };
  static override flags = {
    device: Flags.string({ description: 'the enrolled device' }),
    network: Flags.string({ description: 'the VPN network (needed only when the device is in more than one)' }),
    ...deliveryFlags,
  };

  async run(): Promise<VpnConfigResult> {
    const { args, flags } = await this.parseWith(VpnRekey);
    assertHandle(args.handle);
    const device = await need(this.context(), flags.device, 'device', 'Which device?');
    checkDeviceName(device);
    const { pgpArmored } = await checkDelivery(this.io(), await this.context().store.root(), args.handle, flags);
    const privateKey = flags['public-key'] === undefined ? generatePrivateKey(randomBytes) : undefined;
    const publicKey = flags['public-key'] ?? publicKeyOf(privateKey!);

    const { result: plan } = await this.context().store.mutate('vpn rekey', (tx) => {
      const plan = planRekey(tx.registry, args.handle, device, flags.network, publicKey);
      tx.editMember(args.handle).set(['vpn_peers', plan.index, 'public_key'], publicKey);
      return plan;
    });
    const config = renderDeviceConfig(deviceConfigInput(args.handle, plan.network, plan.newPeer, privateKey));
    this.say(`new key for ${args.handle}/${device} in ${plan.network.name} (addresses kept: ${plan.peer.addresses.join(', ')})`);
    let delivered;
    try {
      delivered = await deliverConfig(this.io(), config, privateKey !== undefined, args.handle, flags, pgpArmored);
    } catch (e) {
      throw new InfraError(ExitCode.invalid, `the new key was recorded, but its config could not be delivered: ${(e as Error).message}`, {
        hint: `run the rekey again: infra vpn rekey ${args.handle} --device ${device}`,
      });
    }
    this.say(`Next: \`infra render\`, commit, then apply ansible/wireguard.yml; until then the servers still accept the old key.`);
    return {
      member: args.handle,
      device,
      network: plan.network.name,
      addresses: plan.newPeer.addresses,
      public_key: publicKey,
      ...delivered,
      private_key_included: privateKey !== undefined,
    };
  }
}
