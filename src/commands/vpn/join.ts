import { need } from '../../services/context.js';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { previousRenders } from '../../adapters/inventories.js';
import { readPublicKey } from '../../adapters/pgp.js';
import { writeFileAtomic } from '../../adapters/store.js';
import { localDate } from '../../core/dates.js';
import type { Registry } from '../../core/types.js';
import { assertHandle } from '../../core/validate.js';
import { checkDeviceName, deviceConfigInput, networkNames, planJoin, renderedPeerAddresses } from '../../core/vpn-plan.js';
import { checkWgKey, generatePrivateKey, publicKeyOf, renderDeviceConfig } from '../../core/wireguard.js';
import { InfraCommand } from '../../lib/base-command.js';
import { ExitCode, InfraError } from '../../lib/errors.js';
import { onTerminal } from '../../lib/prompter.js';
import { yellow } from '../../lib/style.js';

export interface VpnConfigResult {
  member: string;
  device: string;
  network: string;
  addresses: string[];
  public_key: string;
  /** The wg-quick config (holds the private key only when it was generated here); the armored message with --encrypt; null with --out. */
  config: string | null;
  private_key_included: boolean;
  encrypted: boolean;
  out?: string;
}

/** Flags shared by `vpn join` and `vpn rekey`: where the device's config goes. */
export const deliveryFlags = {
  'public-key': Flags.string({ description: "the device's WireGuard public key, when it made its own key pair (then no private key exists outside the device)" }),
  out: Flags.string({ description: 'write the config to FILE (created with mode 0600) instead of stdout' }),
  force: Flags.boolean({ description: 'with --out: overwrite an existing file', dependsOn: ['out'] }),
  qr: Flags.boolean({ description: 'print the config as a QR code on the terminal, for the WireGuard phone apps', exclusive: ['encrypt'] }),
  encrypt: Flags.boolean({ description: "encrypt the config to the member's OpenPGP key (keys/HANDLE/pgp.asc) and print it ASCII-armored" }),
};

interface Delivery {
  'public-key'?: string;
  out?: string;
  force?: boolean;
  qr?: boolean;
  encrypt?: boolean;
}

/** Addresses that rendered inventories still give to peers: not handed out again until a render drops them. */
export async function renderedAddresses(registry: Registry): Promise<string[]> {
  const folders = Object.values(registry.config.environments);
  return renderedPeerAddresses((await previousRenders(registry.root, folders)).values());
}

/**
 * Everything about the delivery that can fail is checked before the registry changes:
 * a key that is not a key, --out over an existing file, --encrypt without a member key that can encrypt.
 */
export interface CommandIo {
  say(message: string): void;
  out(text: string): void;
  jsonOn(): boolean;
}

export async function checkDelivery(cmd: CommandIo, root: string, handle: string, flags: Delivery): Promise<{ pgpArmored?: string }> {
  if (flags['public-key'] !== undefined) checkWgKey(flags['public-key'], '--public-key');
  if (flags.qr && cmd.jsonOn()) throw new InfraError(ExitCode.usage, '--qr draws on the terminal and cannot be combined with --json', { hint: 'drop --json, or use --out FILE' });
  if (flags.out !== undefined) {
    const exists = await fs.stat(flags.out).then(
      () => true,
      () => false,
    );
    if (exists && !flags.force)
      throw new InfraError(ExitCode.invalid, `${flags.out} exists; nothing was changed`, { hint: `pass --force to overwrite it, or choose another --out file` });
    const dir = await fs.stat(path.dirname(path.resolve(flags.out))).catch(() => undefined);
    if (!dir?.isDirectory()) throw new InfraError(ExitCode.invalid, `--out: the folder ${path.dirname(flags.out)} does not exist; nothing was changed`, { hint: `create it first: mkdir -p ${path.dirname(flags.out)}` });
  }
  if (!flags.encrypt) return {};
  const rel = `keys/${handle}/pgp.asc`;
  let data: Buffer | undefined;
  try {
    data = await fs.readFile(path.join(root, rel));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  // (The registry is not loaded for these checks: with tens of thousands of peers a load takes seconds.)
  const memberText = await fs.readFile(path.join(root, `keys/${handle}/member.yml`), 'utf8').catch(() => undefined);
  const email = /^email:\s*(\S+)\s*$/m.exec(memberText ?? '')?.[1]?.replace(/^['"]|['"]$/g, '') ?? 'EMAIL';
  const exportHint = `gpg --export --armor ${email} > ${rel}`;
  if (data === undefined) {
    if (memberText === undefined) return {}; // no such member: planning says so, with its own hint
    throw new InfraError(ExitCode.invalid, `--encrypt: ${handle} has no OpenPGP key (${rel}); nothing was changed`, {
      hint: `add it: ${exportHint} (or \`infra members add ... --pgp FILE\`), then run this again`,
    });
  }
  // Parsed in full here, not after the peer is recorded: a key that cannot encrypt would otherwise leave a peer with no config.
  let key;
  try {
    key = await readPublicKey(data, rel);
  } catch (e) {
    if (!(e instanceof InfraError)) throw e;
    throw new InfraError(ExitCode.invalid, `--encrypt: ${e.message}; nothing was changed`, { hint: `replace it with ${handle}'s public key: ${exportHint}, then run this again` });
  }
  if (!key.canEncrypt)
    throw new InfraError(ExitCode.invalid, `--encrypt: ${rel} (${key.fingerprint}) has no usable encryption subkey (expired, revoked or signing-only); nothing was changed`, {
      hint: `${handle} adds an encryption subkey (gpg --quick-add-key ${key.fingerprint} default encr), then: ${exportHint}`,
    });
  return { pgpArmored: key.armored };
}

/** Writes or prints the device's config as asked, and returns what --json reports about it. */
export async function deliverConfig(
  cmd: CommandIo,
  config: string,
  privateKeyIncluded: boolean,
  handle: string,
  flags: Delivery,
  pgpArmored: string | undefined,
): Promise<Pick<VpnConfigResult, 'config' | 'encrypted' | 'out'>> {
  let artifact = config;
  if (flags.encrypt) {
    const { encryptToArmoredKey } = await import('../../adapters/pgp-encrypt.js');
    artifact = await encryptToArmoredKey(config, pgpArmored!, `keys/${handle}/pgp.asc`);
  }
  if (flags.out !== undefined) {
    if (flags.force) await writeFileAtomic(flags.out, artifact, 0o600);
    else {
      // 'wx': never over a file that appeared since the check
      const handleFile = await fs.open(flags.out, 'wx', 0o600);
      try {
        await handleFile.writeFile(artifact);
      } finally {
        await handleFile.close();
      }
    }
    cmd.say(`wrote ${flags.out} (mode 0600)${privateKeyIncluded && !flags.encrypt ? ': it holds the device\'s private key; move it to the device and delete it here' : ''}`);
  }
  if (flags.qr) {
    const { terminalQr } = await import('../../adapters/qr.js');
    cmd.out(await terminalQr(config));
    if (privateKeyIncluded) cmd.say(yellow('this QR code holds the device\'s private key: scan it with the WireGuard app, then clear the screen'));
    else cmd.say('this config has no private key: the device adds its own');
  }
  if (cmd.jsonOn()) return { config: flags.out !== undefined ? null : artifact, encrypted: Boolean(flags.encrypt), ...(flags.out !== undefined ? { out: flags.out } : {}) };
  if (flags.out === undefined && !flags.qr) {
    if (privateKeyIncluded && !flags.encrypt && (onTerminal() || process.stdout.isTTY))
      cmd.say(yellow("warning: the config below holds the device's private key; prefer --out FILE, --qr or --encrypt, and do not paste it anywhere shared"));
    cmd.out(artifact);
  }
  return { config: flags.out !== undefined ? null : artifact, encrypted: Boolean(flags.encrypt), ...(flags.out !== undefined ? { out: flags.out } : {}) };
}

/** `vpn join` and `vpn rekey`: commands that deliver a device config through `checkDelivery` / `deliverConfig`. */
export abstract class DeliveringCommand extends InfraCommand<VpnConfigResult> {
  protected io(): CommandIo {
    return { say: (m) => this.say(m), out: (t) => this.out(t), jsonOn: () => this.jsonEnabled() };
  }
}

export default class VpnJoin extends DeliveringCommand {
  static override summary = "Enrol a member's device in a VPN network and emit its wg-quick config.";
  static override description = `Allocates the lowest free address of each family the network has, records the peer in keys/HANDLE/member.yml, and emits the device's wg-quick config: to stdout, to --out FILE (mode 0600), as a terminal QR code (--qr), or encrypted to the member's OpenPGP key (--encrypt).
The device's private key is made here and written only into that config, never into the registry. With --public-key the device made its own key pair, and no private key exists anywhere else.
The server learns the peer at the next \`infra render\` and apply (ansible/wireguard.yml).`;
  static override examples = [
    '<%= config.bin %> vpn join alice --device laptop --out alice-laptop.conf',
    '<%= config.bin %> vpn join alice --device phone --qr',
    '<%= config.bin %> vpn join alice --device laptop --encrypt > alice-laptop.conf.asc',
    '<%= config.bin %> vpn join alice --device router --public-key "$(wg pubkey < privatekey)"',
  ];
  static override args = { handle: Args.string({ required: true, description: 'the member' }) };
  static override flags = {
    device: Flags.string({ description: 'device name: letters, digits, . _ - (e.g. laptop, phone)' }),
    network: Flags.string({ description: 'the VPN network (may be left out when infra.yml has one)' }),
    ...deliveryFlags,
  };

  async run(): Promise<VpnConfigResult> {
    const { args, flags } = await this.parseWith(VpnJoin);
    assertHandle(args.handle);
    if (flags.device !== undefined) checkDeviceName(flags.device);
    const device = await need(this.context(), flags.device, 'device', 'Device name (e.g. laptop, phone)', (v) => {
      try {
        checkDeviceName(v);
        return undefined;
      } catch (e) {
        return (e as Error).message.replace(/^--device: /, '');
      }
    });
    checkDeviceName(device);
    const root = await this.context().store.root();
    let network = flags.network;
    if (network === undefined && this.context().prompter) {
      const { registry } = await this.context().store.load(); // only to offer the networks; the join itself re-reads under the lock
      const names = networkNames(registry);
      if (names.length > 1)
        network = await this.context().prompter!.select({ message: 'Which VPN network?', choices: names.map((n) => ({ name: `${n} (${[registry.config.vpn[n].ipv4, registry.config.vpn[n].ipv6].filter(Boolean).join(', ')})`, value: n })) });
    }
    const { pgpArmored } = await checkDelivery(this.io(), root, args.handle, flags);

    // A key made here lives only in this process and in the config it goes into.
    const privateKey = flags['public-key'] === undefined ? generatePrivateKey(randomBytes) : undefined;
    const publicKey = flags['public-key'] ?? publicKeyOf(privateKey!);
    const today = localDate(new Date());

    const { result: plan } = await this.context().store.mutate('vpn join', async (tx) => {
      const rendered = await renderedAddresses(tx.registry);
      const plan = planJoin(tx.registry, { handle: args.handle, device, network, publicKey, today, rendered });
      tx.editMember(args.handle).append(['vpn_peers'], plan.peer);
      return plan;
    });
    const config = renderDeviceConfig(deviceConfigInput(args.handle, plan.network, plan.peer, privateKey));
    this.say(`enrolled ${args.handle}/${device} in ${plan.network.name}: ${plan.peer.addresses.join(', ')}`);
    let delivered;
    try {
      delivered = await deliverConfig(this.io(), config, privateKey !== undefined, args.handle, flags, pgpArmored);
    } catch (e) {
      throw new InfraError(ExitCode.invalid, `the peer was recorded, but its config could not be delivered: ${(e as Error).message}`, {
        hint: `make a new key and config: infra vpn rekey ${args.handle} --device ${device}${flags.out ? ` --out ${flags.out}` : ''}`,
      });
    }
    this.say(`Next: \`infra render\`, commit, then apply ansible/wireguard.yml to the servers matched by \`${plan.network.servers}\`; the device connects once the server has the peer.`);
    return {
      member: args.handle,
      device,
      network: plan.network.name,
      addresses: plan.peer.addresses,
      public_key: publicKey,
      ...delivered,
      private_key_included: privateKey !== undefined,
    };
  }
}
