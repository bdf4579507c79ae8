/**
 * Planning `infra vpn join / leave / rekey` and reading `wg show all dump` against the registry.
 * Pure: the registry, the rendered inventories' text, the date, the clock and keys are passed in.
 */
import { shellCommand, shellQuote } from '../lib/shell-quote.js';
import { parse as parseYaml } from 'yaml';
import { ExitCode, InfraError } from '../lib/errors.js';
import { allocate, tryCanonicalCidr } from './ip-alloc.js';
import { membersView, type OthersView } from './others-view.js';
import { ownValue } from './dict.js';
import { NAME_RE, type IsoDate, type Member, type Registry, type VpnNetwork, type VpnPeer } from './types.js';
import { checkWgKey, type DeviceConfigInput } from './wireguard.js';
import { describeHandshake, type WgDump } from './wg-dump.js';
import { printable } from './validate.js';

/** Plain code-unit order (what Array#sort does by default): the same on every machine, unlike localeCompare. */
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const invalidInput = (message: string, hint?: string) => new InfraError(ExitCode.invalid, message, { hint });

/** Device names go into YAML, peer names (`handle/device`) and config comments: no spaces, no `/`. */
export function checkDeviceName(device: string): void {
  if (!NAME_RE.test(device))
    throw invalidInput(`--device: "${printable(device)}" is not a device name (letters, digits, . _ -, at most 64; no spaces or /)`, 'for example: --device laptop or --device alice-phone');
}

export function networkNames(registry: Registry): string[] {
  return Object.keys(registry.config.vpn).sort();
}

/** The network a command is about: the one named, or the only one there is. */
export function resolveNetwork(registry: Registry, name: string | undefined): VpnNetwork {
  const names = networkNames(registry);
  if (names.length === 0)
    throw invalidInput('infra.yml has no VPN network', 'add one under `vpn:` in infra.yml (see the README: ipv4, endpoint, server_public_key, servers), then run `infra check`');
  if (name === undefined) {
    if (names.length === 1) return ownValue(registry.config.vpn, names[0])!;
    throw new InfraError(ExitCode.usage, `there are ${names.length} VPN networks (${names.join(', ')}): say which one`, { hint: `pass --network ${shellQuote(names[0])}` });
  }
  const net = ownValue(registry.config.vpn, name);
  if (!net) throw invalidInput(`no VPN network "${printable(name)}" in infra.yml (known: ${names.join(', ')})`, `pass one of them: --network ${names[0]}`);
  return net;
}

function memberOf(registry: Registry, handle: string): Member {
  const member = registry.members.find((m) => m.handle === handle);
  if (!member) throw invalidInput(`no member "${handle}"`, `see \`infra members list\`, or add one: infra members add ${shellQuote(handle)} --name ... --org ... --email ...`);
  return member;
}

function assertActive(member: Member, doing: string): void {
  if (member.status === 'departed')
    throw invalidInput(`${member.handle} departed on ${member.departed}: refusing to ${doing}`, `departed members get no VPN access; if ${member.handle} is back, set status: active and remove departed: in keys/${member.handle}/member.yml`);
}

/** Who holds a WireGuard public key in the registry, as `handle/device (network)`. */
function keyHolder(registry: Registry, publicKey: string): string | undefined {
  for (const m of registry.members) for (const p of m.vpn_peers) if (p.public_key === publicKey) return `${m.handle}/${p.device} (network ${p.network})`;
  return undefined;
}

const PEER_LINE_RE = /^ {4}- \{name: [^,]*, public_key: '[A-Za-z0-9+/=]*', allowed_ips: \[([^\]]*)\]\}$/;
const NETWORK_LINE_RE = /^ {2}[A-Za-z0-9_.'-]+:( \[\])?$/;

/**
 * The addresses in `infra_wireguard_peers` as `infra render` lays them out (one peer per line), or
 * undefined when the file is laid out any other way. Tens of thousands of peers: a YAML parser takes seconds.
 */
export function scanRenderedLayout(text: string): string[] | undefined {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^infra_wireguard_peers:( *#.*)?$/.test(l) || /^infra_wireguard_peers: \{\}( *#.*)?$/.test(l));
  if (start < 0) return text.includes('infra_wireguard_peers') ? undefined : [];
  if (/^infra_wireguard_peers: \{\}/.test(lines[start])) return [];
  const out: string[] = [];
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '' || /^[^ #]/.test(line)) break; // the next top-level key
    const peer = PEER_LINE_RE.exec(line);
    if (peer) {
      for (const item of peer[1].split(', ')) out.push(item.replace(/^'(.*)'$/, '$1'));
      continue;
    }
    if (!NETWORK_LINE_RE.test(line)) return undefined;
  }
  return out;
}

/**
 * Every peer address listed under `infra_wireguard_peers` in generated inventory files.
 * An unreadable file adds nothing: render overwrites it anyway.
 */
export function renderedPeerAddresses(texts: Iterable<string>): string[] {
  const out: string[] = [];
  for (const text of texts) {
    // A generated file is not trusted (docs/reference.md, "Render"): what is not an address is dropped, not handed to allocate().
    const keep = (a: string) => {
      const canonical = tryCanonicalCidr(a);
      if (canonical !== undefined) out.push(canonical);
    };
    const fast = scanRenderedLayout(text);
    if (fast) {
      fast.forEach(keep);
      continue;
    }
    let data: unknown;
    try {
      data = parseYaml(text);
    } catch {
      continue;
    }
    const byNetwork = (data as Record<string, unknown> | null)?.infra_wireguard_peers;
    if (!byNetwork || typeof byNetwork !== 'object') continue;
    for (const peers of Object.values(byNetwork as Record<string, unknown>)) {
      if (!Array.isArray(peers)) continue;
      for (const peer of peers) {
        const ips = (peer as { allowed_ips?: unknown } | null)?.allowed_ips;
        if (Array.isArray(ips)) for (const ip of ips) if (typeof ip === 'string') keep(ip);
      }
    }
  }
  return out;
}

/**
 * Addresses a new peer must not get: every peer's in the registry (departed members' too: their
 * peers may still be on a server), the network's reserved ones, and those rendered inventories still list.
 */
export function takenAddresses(registry: Registry, network: VpnNetwork, rendered: readonly string[]): string[] {
  const taken: string[] = [...network.reserved, ...rendered];
  for (const m of registry.members) for (const p of m.vpn_peers) if (p.network === network.name) taken.push(...p.addresses);
  return taken;
}

/**
 * The lowest free address of each family the network has, IPv4 first. `others` adds what every other member
 * holds (their addresses as sorted runs of offsets from each range's start, see OthersView).
 */
export function allocateAddresses(network: VpnNetwork, taken: readonly string[], others?: Pick<OthersView, 'takenRuns'>): string[] {
  const out: string[] = [];
  const families = [
    [network.ipv4, 4],
    [network.ipv6, 6],
  ] as const;
  for (const [range, family] of families)
    if (range !== undefined) out.push(allocate(range, taken, { networkName: network.name, takenRuns: others?.takenRuns(network.name, family) }));
  return out;
}

export interface JoinRequest {
  handle: string;
  device: string;
  network?: string;
  publicKey: string;
  today: IsoDate;
  /** Addresses still listed in rendered inventories (`renderedPeerAddresses`). */
  rendered: readonly string[];
  /**
   * What every member but the joining one holds (WireGuard keys, addresses), as the registry source gives it:
   * from the peer index when `registry.members` holds only the joining member, else from the loaded members.
   * Left out: read from `registry.members`, which then holds every member.
   */
  others?: OthersView;
}

export interface JoinPlan {
  network: VpnNetwork;
  peer: VpnPeer;
}

export function planJoin(registry: Registry, req: JoinRequest): JoinPlan {
  checkDeviceName(req.device);
  const member = memberOf(registry, req.handle);
  assertActive(member, 'enrol a device');
  const network = resolveNetwork(registry, req.network);
  checkWgKey(req.publicKey, '--public-key');
  if (member.vpn_peers.some((p) => p.device === req.device && p.network === network.name))
    throw invalidInput(`${req.handle} already has a device "${req.device}" in network ${network.name}`, `for a new key: infra vpn rekey ${shellQuote(req.handle)} --device ${shellQuote(req.device)}; to remove it: infra vpn leave ${shellQuote(req.handle)} --device ${shellQuote(req.device)}; or pick another --device name`);
  const others = req.others ?? membersView(registry.config, registry.members, req.handle);
  const alone: Registry = { ...registry, members: [member] };
  const holder = keyHolder(alone, req.publicKey) ?? others.describeWgHolder(req.publicKey);
  if (holder) throw invalidInput(`--public-key is already used by ${holder}: every device needs its own key`, 'make a new key pair on the device: wg genkey | tee privatekey | wg pubkey');
  // One way to choose: the other members' addresses as numbers (from the index or the load), the reserved,
  // rendered and the joining member's own addresses as text.
  const addresses = allocateAddresses(network, takenAddresses(alone, network, req.rendered), others);
  return { network, peer: { device: req.device, network: network.name, public_key: req.publicKey, addresses, added: req.today } };
}

export interface PeerRef {
  member: Member;
  network: VpnNetwork;
  peer: VpnPeer;
  /** Index in the member's vpn_peers, for editing member.yml. */
  index: number;
}

/** The peer `handle --device D [--network N]` names; --network may be left out when the device is in one network. */
export function findPeer(registry: Registry, handle: string, device: string, network?: string): PeerRef {
  checkDeviceName(device);
  const member = memberOf(registry, handle);
  if (network !== undefined) resolveNetwork(registry, network);
  const matches = member.vpn_peers.map((peer, index) => ({ peer, index })).filter(({ peer }) => peer.device === device && (network === undefined || peer.network === network));
  if (matches.length === 0) {
    const have = member.vpn_peers.map((p) => `${p.device} (${p.network})`);
    throw invalidInput(
      `${handle} has no device "${device}"${network ? ` in network ${network}` : ''} (${have.length ? `enrolled: ${have.join(', ')}` : 'no devices enrolled'})`,
      `see \`infra vpn list\`; to enrol it: infra vpn join ${shellQuote(handle)} --device ${shellQuote(device)}`,
    );
  }
  if (matches.length > 1)
    throw new InfraError(ExitCode.usage, `${handle}'s device "${device}" is in ${matches.length} networks (${matches.map((m) => m.peer.network).join(', ')}): say which one`, {
      hint: `pass --network ${shellQuote(matches[0].peer.network)}`,
    });
  const { peer, index } = matches[0];
  return { member, network: resolveNetwork(registry, peer.network), peer, index };
}

export function planRekey(registry: Registry, handle: string, device: string, network: string | undefined, publicKey: string): PeerRef & { newPeer: VpnPeer } {
  const ref = findPeer(registry, handle, device, network);
  assertActive(ref.member, 'rekey a device');
  checkWgKey(publicKey, '--public-key');
  if (publicKey === ref.peer.public_key) throw invalidInput(`--public-key is the key ${handle}/${device} already has`, 'make a new key pair on the device: wg genkey | tee privatekey | wg pubkey');
  const holder = keyHolder(registry, publicKey);
  if (holder) throw invalidInput(`--public-key is already used by ${holder}: every device needs its own key`, 'make a new key pair on the device: wg genkey | tee privatekey | wg pubkey');
  return { ...ref, newPeer: { ...ref.peer, public_key: publicKey } };
}

/** What renderDeviceConfig needs for a peer; `privateKey` only when it was generated here. */
export function deviceConfigInput(handle: string, network: VpnNetwork, peer: VpnPeer, privateKey?: string): DeviceConfigInput {
  return {
    ...(privateKey !== undefined ? { privateKey } : {}),
    addresses: peer.addresses,
    ...(network.dns && network.dns.length ? { dns: network.dns } : {}),
    ...(network.mtu !== undefined ? { mtu: network.mtu } : {}),
    serverPublicKey: network.server_public_key,
    endpoint: network.endpoint,
    allowedIps: network.allowed_ips,
    ...(network.keepalive !== undefined ? { keepalive: network.keepalive } : {}),
    comment: `${handle}/${peer.device} on network ${network.name}`,
  };
}

// ------------------------------------------------------------------ list

export interface PeerRow {
  member: string;
  device: string;
  network: string;
  addresses: string[];
  public_key: string;
  added: IsoDate;
  member_status: Member['status'];
}

export function listPeers(registry: Registry, network?: string): PeerRow[] {
  if (network !== undefined) resolveNetwork(registry, network);
  const rows: PeerRow[] = [];
  for (const m of registry.members)
    for (const p of m.vpn_peers)
      if (network === undefined || p.network === network)
        rows.push({ member: m.handle, device: p.device, network: p.network, addresses: p.addresses, public_key: p.public_key, added: p.added, member_status: m.status });
  return rows.sort((a, b) => byCodeUnits(a.network, b.network) || byCodeUnits(a.member, b.member) || byCodeUnits(a.device, b.device));
}

// ------------------------------------------------------------------ status

/** The audit's finding shape (docs/reference.md, "infra audit"). */
export interface Finding {
  code: string;
  severity: 'high' | 'medium' | 'low';
  subject: string;
  detail: string;
  fix: string;
}

export interface StatusPeer {
  member: string;
  device: string;
  network: string;
  member_status: Member['status'];
  interface: string;
  public_key: string;
  endpoint: string | null;
  latest_handshake: number | null; // epoch seconds; null = never
  handshake: string; // "never", "3 days ago"
  rx_bytes: number;
  tx_bytes: number;
}

export interface UnknownPeer {
  interface: string;
  public_key: string;
  allowed_ips: string[];
  endpoint: string | null;
  handshake: string;
}

export interface VpnStatus {
  peers: StatusPeer[];
  unknown: UnknownPeer[];
  /** Active members' peers that no interface in the dump has (not yet applied, or another server's dump). */
  absent: Array<{ member: string; device: string; network: string }>;
  findings: Finding[];
}

/** Joins `wg show all dump` with the registry by public key. `nowSeconds` is the clock. */
export function vpnStatus(dump: WgDump, registry: Registry, nowSeconds: number): VpnStatus {
  const byKey = new Map<string, { member: Member; peer: VpnPeer }>();
  for (const member of registry.members) for (const peer of member.vpn_peers) byKey.set(peer.public_key, { member, peer });
  const peers: StatusPeer[] = [];
  const unknown: UnknownPeer[] = [];
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const d of dump.peers) {
    const handshake = describeHandshake(d.latestHandshake, nowSeconds);
    const known = byKey.get(d.publicKey);
    if (!known) {
      unknown.push({ interface: d.interface, public_key: d.publicKey, allowed_ips: d.allowedIps, endpoint: d.endpoint, handshake });
      findings.push({
        code: 'unknown-peer',
        severity: 'high',
        subject: `${d.interface}/${d.publicKey}`,
        detail: `interface ${d.interface} accepts a peer the registry does not know (allowed ips ${d.allowedIps.join(', ') || 'none'}, last handshake ${handshake})`,
        fix: `remove it from the server: \`infra render\`, then apply ansible/wireguard.yml (or \`${shellCommand(['wg', 'set', d.interface, 'peer', d.publicKey, 'remove'])}\`)`,
      });
      continue;
    }
    seen.add(d.publicKey);
    const { member, peer } = known;
    peers.push({
      member: member.handle,
      device: peer.device,
      network: peer.network,
      member_status: member.status,
      interface: d.interface,
      public_key: d.publicKey,
      endpoint: d.endpoint,
      latest_handshake: d.latestHandshake === 0 ? null : d.latestHandshake,
      handshake,
      rx_bytes: d.transferRx,
      tx_bytes: d.transferTx,
    });
    if (member.status === 'departed')
      findings.push({
        code: 'departed-access',
        severity: 'high',
        subject: `${member.handle}/${peer.device}`,
        detail: `${member.handle} departed on ${member.departed}, but ${d.interface} still accepts their device ${peer.device} (last handshake ${handshake})`,
        fix: `infra render, then apply ansible/wireguard.yml to the ${peer.network} servers`,
      });
  }
  const absent: VpnStatus['absent'] = [];
  for (const m of registry.members) {
    if (m.status !== 'active') continue;
    for (const p of m.vpn_peers) if (!seen.has(p.public_key)) absent.push({ member: m.handle, device: p.device, network: p.network });
  }
  const order = (a: { member: string; device: string; network: string }, b: { member: string; device: string; network: string }) =>
    byCodeUnits(a.network, b.network) || byCodeUnits(a.member, b.member) || byCodeUnits(a.device, b.device);
  peers.sort(order);
  absent.sort(order);
  unknown.sort((a, b) => byCodeUnits(a.interface, b.interface) || byCodeUnits(a.public_key, b.public_key));
  return { peers, unknown, absent, findings };
}
