/**
 * VPN peers: enrol a device (join), remove it (leave), give it a new key pair (rekey), list the peers,
 * and join a server's `wg show all dump` with the registry (status).
 */
import path from 'node:path';
import { Document } from 'yaml';
import { checkOutFile, memberEncryptionKey, writeOutFile } from '../adapters/device-config.js';
import { previousRenders } from '../adapters/inventories.js';
import { vpnDumpFindings } from '../core/audit.js';
import type { Registry, VpnPeer } from '../core/types.js';
import { assertHandle } from '../core/validate.js';
import { checkDeviceName, deviceConfigInput, findPeer, listPeers, networkNames, planJoin, planRekey, renderedPeerAddresses, vpnStatus as joinDump, type PeerRow, type VpnStatus } from '../core/vpn-plan.js';
import { parseWgDump } from '../core/wg-dump.js';
import { checkWgKey, generatePrivateKey, hasPrivateKeyBits, publicKeyOf, renderDeviceConfig } from '../core/wireguard.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { clean, red, yellow } from '../lib/style.js';
import { need, readArg, requireMember, say, today, type Context } from './context.js';
import { shellQuote } from '../lib/shell-quote.js';

/** Where the device's config goes (`vpn join`, `vpn rekey`): stdout by default. */
export interface DeliveryInput {
  /** The device made its own key pair: its public key. Then no private key exists outside the device. */
  publicKey?: string;
  /** Write the config to this file (mode 0600) instead of stdout. */
  out?: string;
  /** Overwrite an existing --out file; draw --qr on a stream that is not a terminal. */
  force?: boolean;
  qr?: boolean;
  /** Encrypt to the member's OpenPGP key (keys/HANDLE/pgp.asc), ASCII-armored. */
  encrypt?: boolean;
}

export interface JoinVpnInput extends DeliveryInput {
  handle: string;
  /** Prompted for on a terminal when missing. */
  device?: string;
  /** May be left out when infra.yml has one network (chosen at a prompt when it has several). */
  network?: string;
}

export type RekeyVpnInput = JoinVpnInput;

export interface LeaveVpnInput {
  handle: string;
  device?: string;
  network?: string;
}

export interface VpnConfigResult {
  member: string;
  device: string;
  network: string;
  addresses: string[];
  public_key: string;
  /** The wg-quick config (holds the private key only when it was made here); the armored message with --encrypt; null with --out. */
  config: string | null;
  encrypted: boolean;
  out?: string;
  private_key_included: boolean;
}

export interface VpnLeaveResult {
  member: string;
  device: string;
  network: string;
  addresses: string[];
  public_key: string;
}

export async function joinVpn(ctx: Context, input: JoinVpnInput): Promise<VpnConfigResult> {
  assertHandle(input.handle);
  const device = await deviceName(ctx, input.device, 'Device name (e.g. laptop, phone)');
  const network = input.network ?? (await pickNetwork(ctx));
  const prepared = await prepareDelivery(ctx, input.handle, device, input);
  const key = deviceKey(ctx, input.publicKey);
  // Only the member's file changes: with a peer index that matches the registry, the other members are not loaded.
  const { result: plan } = await ctx.store.mutateMember(input.handle, 'vpn join', async (tx) => {
    requireMember(tx.registry, input.handle);
    const rendered = await renderedAddresses(tx.registry);
    // The other members as the registry source knows them (the peer index, or the whole registry): one way to allocate.
    const plan = planJoin(tx.registry, { handle: input.handle, device, network, publicKey: key.publicKey, today: today(ctx), rendered, others: tx.othersThan(input.handle) });
    tx.editMember(input.handle).append(['vpn_peers'], peerEntry(plan.peer));
    return plan;
  });
  say(ctx, `enrolled ${input.handle}/${device} in ${plan.network.name}: ${plan.peer.addresses.join(', ')}`);
  const config = renderDeviceConfig(deviceConfigInput(input.handle, plan.network, plan.peer, key.privateKey));
  const delivered = await deliverOrExplain(ctx, config, key.privateKey !== undefined, input, prepared, {
    what: 'the peer was recorded',
    hint: `make a new key and config: infra vpn rekey ${shellQuote(input.handle)} --device ${shellQuote(device)}${input.out !== undefined ? ` --out ${shellQuote(input.out)}` : ''}`,
  });
  say(ctx, `Next: \`infra render\`, commit, then apply ansible/wireguard.yml to the servers matched by \`${plan.network.servers}\`; the device connects once the server has the peer.`);
  return { member: input.handle, device, network: plan.network.name, addresses: plan.peer.addresses, public_key: key.publicKey, ...delivered, private_key_included: key.privateKey !== undefined };
}

export async function rekeyVpn(ctx: Context, input: RekeyVpnInput): Promise<VpnConfigResult> {
  assertHandle(input.handle);
  const device = await deviceName(ctx, input.device, 'Which device?');
  const prepared = await prepareDelivery(ctx, input.handle, device, input);
  const key = deviceKey(ctx, input.publicKey);
  const { result: plan } = await ctx.store.mutate('vpn rekey', (tx) => {
    requireMember(tx.registry, input.handle);
    const plan = planRekey(tx.registry, input.handle, device, input.network, key.publicKey);
    tx.editMember(input.handle).set(['vpn_peers', plan.index, 'public_key'], key.publicKey);
    return plan;
  });
  say(ctx, `new key for ${input.handle}/${device} in ${plan.network.name} (addresses kept: ${plan.peer.addresses.join(', ')})`);
  const config = renderDeviceConfig(deviceConfigInput(input.handle, plan.network, plan.newPeer, key.privateKey));
  const delivered = await deliverOrExplain(ctx, config, key.privateKey !== undefined, input, prepared, {
    what: 'the new key was recorded',
    hint: `run the rekey again: infra vpn rekey ${shellQuote(input.handle)} --device ${shellQuote(device)}`,
  });
  say(ctx, 'Next: `infra render`, commit, then apply ansible/wireguard.yml; until then the servers still accept the old key.');
  return { member: input.handle, device, network: plan.network.name, addresses: plan.newPeer.addresses, public_key: key.publicKey, ...delivered, private_key_included: key.privateKey !== undefined };
}

export async function leaveVpn(ctx: Context, input: LeaveVpnInput): Promise<VpnLeaveResult> {
  assertHandle(input.handle);
  const device = await deviceName(ctx, input.device, 'Which device?');
  const { result: ref } = await ctx.store.mutate('vpn leave', (tx) => {
    requireMember(tx.registry, input.handle);
    const ref = findPeer(tx.registry, input.handle, device, input.network);
    tx.editMember(input.handle).remove(['vpn_peers'], ref.index);
    return ref;
  });
  say(ctx, `removed ${input.handle}/${device} from ${ref.peer.network} (${ref.peer.addresses.join(', ')})`);
  say(ctx, `Next: \`infra render\`, commit, then apply ansible/wireguard.yml to the servers matched by \`${ref.network.servers}\`; until then the device can still connect.`);
  return { member: input.handle, device, network: ref.peer.network, addresses: ref.peer.addresses, public_key: ref.peer.public_key };
}

export async function listVpn(ctx: Context, input: { network?: string } = {}): Promise<{ peers: PeerRow[] }> {
  const { registry } = await ctx.store.load();
  const peers = listPeers(registry, input.network);
  if (!peers.length) say(ctx, `no VPN peers${input.network ? ` in ${input.network}` : ''}; enrol one with \`infra vpn join HANDLE --device D\``);
  return { peers };
}

/** Where a dump comes from when no file is given; tests pass a fake. */
export interface WgSource {
  showDump(): Promise<string>;
}

const realWg: WgSource = {
  async showDump() {
    const { wgShowDump } = await import('../adapters/wg.js');
    return wgShowDump();
  },
};

/** A dump (FILE, `-` for stdin, else `wg show all dump` here) joined with the registry; findings are also said on stderr. */
export async function vpnStatus(ctx: Context, input: { file?: string } = {}, wg: WgSource = realWg): Promise<VpnStatus> {
  const { registry } = await ctx.store.load();
  const text =
    input.file === undefined ? await wg.showDump() : await readArg(ctx, input.file);
  const dump = parseWgDump(text);
  const status = joinDump(dump, registry, Math.floor(ctx.now().getTime() / 1000));
  // The findings are the audit's own (unknown-peer, departed-access, idle-peer), judged as `infra audit --wg-dump` judges them.
  status.findings = vpnDumpFindings({ dump }, registry.config, registry.members, today(ctx));
  if (!dump.interfaces.length) {
    // Not a server (or wg-quick is down): listing every registered device as absent would only be noise.
    say(ctx, input.file === undefined
      ? 'no WireGuard interface here: `wg show all dump` printed none. Run this on a VPN server (as root), or pass a saved dump: infra vpn status dump.txt'
      : 'the dump names no WireGuard interface: pass the complete output of `wg show all dump` from a VPN server (as root)');
    return status;
  }
  if (!status.peers.length) say(ctx, 'no peer of the registry is on these interfaces');
  if (status.absent.length) say(ctx, `not on these interfaces: ${status.absent.map((a) => clean(`${a.member}/${a.device} (${a.network})`)).join(', ')}`);
  for (const f of status.findings) say(ctx, `${red(f.severity)} ${f.code} ${clean(f.subject)}: ${clean(f.detail)}\n  fix: ${clean(f.fix)}`);
  return status;
}

// ------------------------------------------------------------------ shared steps

async function deviceName(ctx: Context, given: string | undefined, message: string): Promise<string> {
  if (given !== undefined) checkDeviceName(given); // the error with its hint
  return need(ctx, given, 'device', message, (v) => {
    try {
      checkDeviceName(v);
      return undefined;
    } catch (e) {
      return (e as Error).message.replace(/^--device: /, '');
    }
  });
}

/** On a terminal with several networks and no --network: ask. The edit re-reads the registry under the lock. */
async function pickNetwork(ctx: Context): Promise<string | undefined> {
  if (!ctx.prompter) return undefined;
  const { registry } = await ctx.store.load();
  const names = networkNames(registry);
  if (names.length < 2) return undefined;
  const label = (n: string) => `${n} (${[registry.config.vpn[n].ipv4, registry.config.vpn[n].ipv6].filter(Boolean).join(', ')})`;
  return ctx.prompter.select({ message: 'Which VPN network?', choices: names.map((n) => ({ name: label(n), value: n })) });
}

/** A key pair made here lives only in this process and in the config it goes into. */
function deviceKey(ctx: Context, publicKey: string | undefined): { privateKey?: string; publicKey: string } {
  if (publicKey !== undefined) return { publicKey };
  const privateKey = generatePrivateKey((n) => Buffer.from(ctx.random(n)));
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

/** A peer as member.yml holds it, its addresses on one line as people write them: `[10.77.0.2/32, fd77:77::2/128]`. */
function peerEntry(peer: VpnPeer): Record<string, unknown> {
  const addresses = new Document().createNode(peer.addresses, { flow: true });
  return { device: peer.device, network: peer.network, public_key: peer.public_key, addresses, added: peer.added };
}

/** Addresses that rendered inventories still give to peers: not handed out again until a render drops them. */
async function renderedAddresses(registry: Registry): Promise<string[]> {
  return renderedPeerAddresses((await previousRenders(registry.root, Object.values(registry.config.environments))).values());
}

interface Prepared {
  outPath?: string;
  pgp?: { armored: string; file: string };
}

/** Everything about the delivery that can fail is checked before the registry changes. */
async function prepareDelivery(ctx: Context, handle: string, device: string, d: DeliveryInput): Promise<Prepared> {
  if (d.publicKey !== undefined) {
    checkWgKey(d.publicKey, '--public-key');
    // Not refused (1 public key in 32 looks the same), but never silent: the key is not echoed.
    if (hasPrivateKeyBits(d.publicKey))
      ctx.stderr.write(
        `${yellow('warning: --public-key has the bit pattern of a WireGuard PRIVATE key')} (as \`wg genkey\` makes them; 1 public key in 32 has it too). If it is the device's private key, it is exposed: make a new pair on the device and run \`infra vpn rekey ${shellQuote(handle)} --device ${shellQuote(device)} --public-key "$(wg pubkey < privatekey)"\`\n`,
      );
  }
  if (d.qr && d.encrypt) throw new InfraError(ExitCode.usage, '--qr and --encrypt cannot be combined', { hint: 'use --encrypt > FILE.asc, or --qr on a terminal' });
  if (d.qr && ctx.json) throw new InfraError(ExitCode.usage, '--qr draws on the terminal and cannot be combined with --json', { hint: 'drop --json, or use --out FILE' });
  if (d.qr && !ctx.stdout.isTTY && !d.force)
    throw new InfraError(ExitCode.usage, `--qr: stdout is not a terminal; a QR code there is escape codes${d.publicKey === undefined ? " holding the device's private key" : ''}`, {
      hint: 'run it on a terminal, or use --out FILE (pass --force to print the code anyway)',
    });
  const prepared: Prepared = {};
  if (d.out !== undefined) {
    prepared.outPath = path.resolve(ctx.cwd, d.out);
    await checkOutFile(prepared.outPath, d.out, Boolean(d.force));
  }
  if (d.encrypt) {
    const armored = await memberEncryptionKey(await ctx.store.root(), handle);
    // No key and no error: there is no such member, and the edit refuses before delivery.
    if (armored !== undefined) prepared.pgp = { armored, file: `keys/${handle}/pgp.asc` };
  }
  return prepared;
}

/** Writes or prints the config as asked; a failure after the registry changed says what was recorded and how to recover. */
async function deliverOrExplain(
  ctx: Context,
  config: string,
  privateKeyIncluded: boolean,
  d: DeliveryInput,
  prepared: Prepared,
  recovery: { what: string; hint: string },
): Promise<Pick<VpnConfigResult, 'config' | 'encrypted' | 'out'>> {
  try {
    return await deliver(ctx, config, privateKeyIncluded, d, prepared);
  } catch (e) {
    throw new InfraError(ExitCode.invalid, `${recovery.what}, but its config could not be delivered: ${(e as Error).message}`, { hint: recovery.hint });
  }
}

async function deliver(ctx: Context, config: string, privateKeyIncluded: boolean, d: DeliveryInput, prepared: Prepared): Promise<Pick<VpnConfigResult, 'config' | 'encrypted' | 'out'>> {
  let artifact = config;
  if (d.encrypt) {
    const { encryptToArmoredKey } = await import('../adapters/pgp-encrypt.js');
    artifact = await encryptToArmoredKey(config, prepared.pgp!.armored, prepared.pgp!.file);
  }
  if (prepared.outPath !== undefined) {
    await writeOutFile(prepared.outPath, artifact, Boolean(d.force));
    say(ctx, `wrote ${clean(d.out!)} (mode 0600)${privateKeyIncluded && !d.encrypt ? ": it holds the device's private key; move it to the device and delete it here" : ''}`);
  }
  if (d.qr) {
    const { terminalQr } = await import('../adapters/qr.js');
    const colour = ctx.stdout.isTTY && !ctx.env.NO_COLOR && ctx.env.TERM !== 'dumb';
    ctx.stdout.write(withNewline(await terminalQr(config, { colour })));
    say(ctx, privateKeyIncluded ? yellow("this QR code holds the device's private key: scan it with the WireGuard app, then clear the screen") : 'this config has no private key: the device adds its own');
  } else if (prepared.outPath === undefined && !ctx.json) {
    if (privateKeyIncluded && !d.encrypt && (ctx.stdout.isTTY || ctx.prompter))
      say(ctx, yellow("warning: the config below holds the device's private key; prefer --out FILE, --qr or --encrypt, and do not paste it anywhere shared"));
    ctx.stdout.write(withNewline(artifact));
  }
  return { config: prepared.outPath !== undefined ? null : artifact, encrypted: Boolean(d.encrypt), ...(d.out !== undefined ? { out: d.out } : {}) };
}

const withNewline = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);
