/**
 * The registry's cross-file checks: admins that exist and are people, one key under one principal, one
 * WireGuard key per device, peers in known networks at free host addresses. Also the quick form a cached
 * load uses (only the changed members against the others' facts).
 */
import { shellQuote } from '../lib/shell-quote.js';
import type { Problem } from '../lib/errors.js';
import { ownValue } from './dict.js';
import { canonicalKeyData } from './ssh-key.js';
import { addressKey, cidrContains, formatCidr, hostRange, parseCidr, type Cidr } from './ip-alloc.js';
import type { InfraConfig, Member, VpnNetwork, VpnPeer } from './types.js';
import { errorText, fieldName, printable, type Path } from './validate-fields.js';

export interface Located {
  memberFile(handle: string): string;
  memberLine(handle: string, path: Path): number | undefined;
  configFile: string;
  configLine(path: Path): number | undefined;
}

/** What crossCheck compares between members: who already holds a key blob, a WireGuard key, an address. */
interface Owners {
  key: Map<string, string>; // canonical key blob -> handle/key name
  wg: Map<string, string>; // WireGuard public key -> handle/device
  address: Map<string, string>; // addressKey -> handle/device
}

type Push = (handle: string | undefined, path: Path, message: string) => void;

function adminProblems(config: InfraConfig, byHandle: Map<string, Member>, unreadable: ReadonlySet<string>, push: Push): void {
  config.admins.forEach((a, i) => {
    const m = byHandle.get(a);
    if (!m && unreadable.has(a)) return; // its member.yml has problems of its own, reported already
    if (!m) push(undefined, ['admins', i], `no member "${a}": create keys/${a}/member.yml with \`infra members add ${shellQuote(a)}\``);
    else if (m.kind !== 'human') push(undefined, ['admins', i], `${a} is a bot; admins are people who can decrypt tokens`);
  });
}

/** One member's problems against the config and against the members checked before it (`owners`, which it joins). */
function memberCrossProblems(config: InfraConfig, m: Member, owners: Owners, push: Push): void {
  m.tokens.forEach((t, i) =>
    t.consumers.forEach((c, j) => {
      if ('ansible_vault_var' in c && !(c.ansible_vault_var.environment in config.environments))
        push(m.handle, ['tokens', i, 'consumers', j, 'ansible_vault_var', 'environment'], `no environment "${c.ansible_vault_var.environment}" in infra.yml (known: ${Object.keys(config.environments).join(', ') || 'none'})`);
    }),
  );
  m.ssh_keys.forEach((k, i) => {
    const blob = canonicalKeyData(k.key); // a padded re-encoding is the same key
    const other = owners.key.get(blob);
    if (other && other.split('/')[0] !== m.handle)
      push(m.handle, ['ssh_keys', i, 'key'], `the same key is registered as ${other}: one key belongs to one principal; remove one with \`infra keys remove ${shellQuote(m.handle)} ${shellQuote(k.name)}\``);
    else if (!other) owners.key.set(blob, `${m.handle}/${k.name}`);
  });
  m.vpn_peers.forEach((v, i) => {
    const net = ownValue(config.vpn, v.network);
    if (!net) {
      push(m.handle, ['vpn_peers', i, 'network'], `no VPN network "${printable(v.network)}" in infra.yml (known: ${Object.keys(config.vpn).join(', ') || 'none'})`);
      return;
    }
    const other = owners.wg.get(v.public_key);
    if (other) push(m.handle, ['vpn_peers', i, 'public_key'], `the same WireGuard key is used by ${other}: every device needs its own key (\`infra vpn rekey ${shellQuote(m.handle)} --device ${shellQuote(v.device)}\`)`);
    else owners.wg.set(v.public_key, `${m.handle}/${v.device}`);
    for (const problem of peerAddressProblems(net, v, `${m.handle}/${v.device}`, owners.address)) push(m.handle, ['vpn_peers', i, ...problem.path], problem.message);
  });
}

/**
 * Whether one member has no cross-file problem of its own: its tokens' environments, its peers' networks
 * and addresses (range, reserved, none twice within it). What it shares with others is checked apart.
 */
export function crossCheckMemberAlone(config: InfraConfig, m: Member): boolean {
  let clean = true;
  memberCrossProblems(config, m, { key: new Map(), wg: new Map(), address: new Map() }, () => void (clean = false));
  return clean;
}

/** Problems that need the whole registry: admins that do not exist, one key under two principals, peers in unknown networks, shared addresses. */
export function crossCheck(config: InfraConfig, members: Member[], at: Located, unreadable: ReadonlySet<string> = new Set()): Problem[] {
  const out: Problem[] = [];
  const push: Push = (handle, path, message) =>
    out.push(
      handle === undefined
        ? { file: at.configFile, line: at.configLine(path), field: fieldName(path), message }
        : { file: at.memberFile(handle), line: at.memberLine(handle, path), field: fieldName(path), message },
    );
  adminProblems(config, new Map(members.map((m) => [m.handle, m])), unreadable, push);
  const owners: Owners = { key: new Map(), wg: new Map(), address: new Map() };
  for (const m of members) memberCrossProblems(config, m, owners, push);
  return out;
}

/**
 * What crossCheck compares of one member, derived once (and kept in the member cache beside the member):
 * its keys' canonical blobs, and each peer's addresses as addressKey (null where one does not parse).
 */
export interface MemberFacts {
  blobs: string[];
  addresses: Array<Array<string | null>>;
}

export function memberFacts(m: Member): MemberFacts {
  return {
    blobs: m.ssh_keys.map((k) => canonicalKeyData(k.key)),
    addresses: m.vpn_peers.map((p) =>
      p.addresses.map((a) => {
        try {
          const c = peerCidr(a);
          return addressKey({ family: c.family, value: c.network });
        } catch {
          return null;
        }
      }),
    ),
  };
}

/**
 * Whether crossCheck(config, members) finds nothing, given that it found nothing for the same config over
 * the members whose handles are not in `changed` (members may since have been removed, changed or added):
 * only the admins and the changed members are checked, against the others' facts. A problem between two
 * unchanged members would have been found before; any pair with a changed member is compared here. When
 * this says false, run crossCheck for the problems themselves.
 */
export function crossCheckClean(config: InfraConfig, members: Member[], changed: ReadonlySet<string>, factsOf: (m: Member) => MemberFacts): boolean {
  let clean = true;
  const push: Push = () => void (clean = false);
  adminProblems(config, new Map(members.map((m) => [m.handle, m])), new Set(), push);
  // The changed members among themselves, collecting what they hold...
  const owners: Owners = { key: new Map(), wg: new Map(), address: new Map() };
  for (const m of members) if (changed.has(m.handle)) memberCrossProblems(config, m, owners, push);
  if (!clean) return false;
  // ...then every other member's holdings looked up in those (a few entries), nothing collected.
  for (const m of members) {
    if (changed.has(m.handle)) continue;
    const facts = factsOf(m);
    for (const blob of facts.blobs) if (owners.key.has(blob)) return false;
    for (let i = 0; i < m.vpn_peers.length; i++) {
      const v = m.vpn_peers[i];
      if (!ownValue(config.vpn, v.network) || owners.wg.has(v.public_key)) return false;
      for (const key of facts.addresses[i] ?? []) if (key === null || owners.address.has(key)) return false;
    }
  }
  return true;
}

/**
 * Peer addresses parsed once per process: a command that edits the registry checks the whole of it twice
 * (as loaded, and as it would be written), and at 50,000 peers parsing is most of that check.
 */
const peerCidrs = new Map<string, Cidr>();

function peerCidr(text: string): Cidr {
  let c = peerCidrs.get(text);
  if (!c) {
    c = parseCidr(text, { strict: false, allowBareAddress: true });
    if (peerCidrs.size >= 500_000) peerCidrs.clear();
    peerCidrs.set(text, c);
  }
  return c;
}

/** A network's ranges and reserved addresses, parsed once per network object (not once per peer). */
const networkFactsCache = new WeakMap<VpnNetwork, { rangeOf: (family: number) => Cidr | undefined; reserved: Set<string> }>();

function networkFacts(net: VpnNetwork): { rangeOf: (family: number) => Cidr | undefined; reserved: Set<string> } {
  const known = networkFactsCache.get(net);
  if (known) return known;
  const range = (text: string | undefined): Cidr | undefined => {
    if (text === undefined) return undefined;
    try {
      return parseCidr(text, { strict: false });
    } catch {
      return undefined; // the network's own problem, reported on infra.yml
    }
  };
  const v4 = range(net.ipv4);
  const v6 = range(net.ipv6);
  const reserved = new Set<string>();
  for (const r of net.reserved) {
    try {
      const c = parseCidr(r, { strict: false, allowBareAddress: true });
      reserved.add(addressKey({ family: c.family, value: c.network }));
    } catch {
      // reported on infra.yml
    }
  }
  const facts = { rangeOf: (family: number) => (family === 4 ? v4 : v6), reserved };
  networkFactsCache.set(net, facts);
  return facts;
}

/**
 * What `vpn join` guarantees of a peer's addresses, checked for hand edits: each inside the network's
 * range of its family, a host address (not the network or IPv4 broadcast address), not reserved, held by
 * no other peer (compared as addresses, not text), and one for every family the network has.
 * `owners` (addressKey -> `handle/device`) collects the addresses seen so far across calls.
 */
export function peerAddressProblems(net: VpnNetwork, peer: VpnPeer, name: string, owners: Map<string, string>): Array<{ path: Path; message: string }> {
  const out: Array<{ path: Path; message: string }> = [];
  const rejoinText = () => `\`infra vpn leave ${shellQuote(name.split('/')[0])} --device ${shellQuote(peer.device)}\`, then \`infra vpn join ${shellQuote(name.split('/')[0])} --device ${shellQuote(peer.device)}\` gives it free addresses`;
  const { rangeOf, reserved } = networkFacts(net);
  const held = new Set<number>();
  peer.addresses.forEach((a, j) => {
    let c: Cidr;
    try {
      c = peerCidr(a);
    } catch (e) {
      return void out.push({ path: ['addresses', j], message: errorText(e) });
    }
    held.add(c.family);
    const range = rangeOf(c.family);
    const at: Path = ['addresses', j];
    if (!range) return void out.push({ path: at, message: `${a} is IPv${c.family}, but network ${net.name} has no IPv${c.family} range: ${rejoinText()}` });
    const address = { family: c.family, value: c.network };
    if (!cidrContains(range, address)) return void out.push({ path: at, message: `${a} is outside network ${net.name} (${formatCidr(range)}): ${rejoinText()}` });
    const { first, last } = hostRange(range);
    if (c.network < first) return void out.push({ path: at, message: `${a} is the network address of ${formatCidr(range)}, not a host address: ${rejoinText()}` });
    if (c.network > last) return void out.push({ path: at, message: `${a} is the broadcast address of ${formatCidr(range)}, not a host address: ${rejoinText()}` });
    const key = addressKey(address);
    if (reserved.has(key)) return void out.push({ path: at, message: `${a} is reserved in vpn.${net.name}.reserved (never handed to peers): ${rejoinText()}` });
    const holder = owners.get(key);
    if (holder) out.push({ path: at, message: `${a} is also held by ${holder}: ${rejoinText()}` });
    else owners.set(key, name);
  });
  if (peer.addresses.length > 0) {
    for (const family of [4, 6] as const) {
      const range = rangeOf(family);
      if (range && !held.has(family)) out.push({ path: ['addresses'], message: `network ${net.name} has an IPv${family} range (${formatCidr(range)}) but this peer has no IPv${family} address: ${rejoinText()}` });
    }
  }
  return out;
}

