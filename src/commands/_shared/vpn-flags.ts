/**
 * Flags shared by `vpn join` and `vpn rekey`: where the device's config goes. A folder under src/commands
 * whose name starts with `_` holds what commands share, not commands (src/cli.ts lists the commands).
 */
import * as Flags from '@oclif/core/flags';
import type { DeliveryInput } from '../../services/vpn.js';

export const deliveryFlags = {
  'public-key': Flags.string({ description: "the device's WireGuard public key, when it made its own key pair (then no private key exists outside the device)" }),
  out: Flags.string({ description: 'write the config to FILE (created with mode 0600) instead of stdout' }),
  force: Flags.boolean({ description: 'overwrite an existing --out file; print --qr even when stdout is not a terminal' }),
  qr: Flags.boolean({ description: 'print the config as a QR code on the terminal, for the WireGuard phone apps', exclusive: ['encrypt'] }),
  encrypt: Flags.boolean({ description: "encrypt the config to the member's OpenPGP key (keys/HANDLE/pgp.asc) and print it ASCII-armored" }),
};

export const deviceFlags = {
  device: Flags.string({ description: 'the enrolled device' }),
  network: Flags.string({ description: 'the VPN network (needed only when the device is in more than one)' }),
};

export function deliveryInput(flags: { 'public-key'?: string; out?: string; force?: boolean; qr?: boolean; encrypt?: boolean }): DeliveryInput {
  return { publicKey: flags['public-key'], out: flags.out, force: flags.force, qr: flags.qr, encrypt: flags.encrypt };
}
