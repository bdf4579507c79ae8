/**
 * The peer index: per member, the few facts an edit of ONE member must compare with every other member
 * (WireGuard keys, SSH key blobs as digests, peer addresses as numbers, whether it is a person), so that
 * `vpn join` at 50,000 peers neither parses nor loads every member. Pure: the store keeps the entries on
 * disk, each tied to its member file's stat; here they are derived, queried and compared.
 */
import { createHash } from 'node:crypto';
import type { InfraConfig, Member } from './types.js';
import { cidrContains, parseCidr, type Cidr, type Family } from './ip-alloc.js';
import { canonicalKeyData } from './ssh-key.js';
import { ownValue } from './dict.js';
import type { OthersView } from './others-view.js';

export interface PeerIndexEntry {
  /** the member file's stat as the store keys it (size, mtime, ctime, inode, pgp.asc present) */
  stat: string;
  kind: Member['kind'];
  /** sha256 of each SSH key's canonical blob (base64, 22 characters): compared, never shown */
  blobs: string[];
  /**
   * each peer's WireGuard public key as a digest (16 base64 characters, no space), joined by spaces:
   * searched, not split; a quarter of the keys' size, for an index read on every join
   */
  wg: string;
  /**
   * per network, the peer addresses of each family as runs [offset from the range's start, count, ...]
   * sorted by offset: peers enrolled one after another hold one run
   */
  addresses: Record<string, { v4: number[]; v6: number[] }>;
}

const blobDigest = (blob: string) => createHash('sha256').update(blob).digest('base64').slice(0, 22);
const wgDigest = (publicKey: string) => createHash('sha256').update(publicKey).digest('base64').slice(0, 16);
const WG_DIGEST_LENGTH = 16;

/** A network's ranges. */
function rangesOf(config: InfraConfig, network: string): { v4?: Cidr; v6?: Cidr } | undefined {
  const net = ownValue(config.vpn, network);
  if (!net) return undefined;
  const parse = (text: string | undefined) => (text === undefined ? undefined : parseCidr(text, { strict: false }));
  try {
    return { v4: parse(net.ipv4), v6: parse(net.ipv6) };
  } catch {
    return undefined;
  }
}

/** Sorted distinct offsets as runs [start, count, ...]; undefined when one is held twice. */
export function offsetRuns(offsets: number[]): number[] | undefined {
  const sorted = [...offsets].sort((a, b) => a - b);
  const runs: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i] === sorted[i - 1]) return undefined;
    const last = runs.length - 2;
    if (last >= 0 && runs[last] + runs[last + 1] === sorted[i]) runs[last + 1]++;
    else runs.push(sorted[i], 1);
  }
  return runs;
}

const inRuns = (runs: readonly number[], offset: number) => {
  for (let i = 0; i < runs.length; i += 2) if (runs[i] <= offset && offset < runs[i] + runs[i + 1]) return true;
  return false;
};

/**
 * The entry of a member that passed the cross-file check, or undefined when it cannot be kept: an address
 * outside its network or past 2^53 from a huge IPv6 range's start, one held twice, a key not in WireGuard's
 * form. Then there is no index and edits take the whole-registry path.
 */
export function peerIndexEntry(config: InfraConfig, member: Member, stat: string): PeerIndexEntry | undefined {
  const offsets = new Map<string, { v4: number[]; v6: number[] }>();
  for (const peer of member.vpn_peers) {
    const ranges = rangesOf(config, peer.network);
    if (!ranges) return undefined;
    let slot = offsets.get(peer.network);
    if (!slot) offsets.set(peer.network, (slot = { v4: [], v6: [] }));
    for (const text of peer.addresses) {
      let c: Cidr;
      try {
        c = parseCidr(text, { strict: false, allowBareAddress: true });
      } catch {
        return undefined;
      }
      const range = c.family === 4 ? ranges.v4 : ranges.v6;
      if (!range || !cidrContains(range, { family: c.family, value: c.network })) return undefined;
      const offset = c.network - range.network;
      if (offset >= BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
      (c.family === 4 ? slot.v4 : slot.v6).push(Number(offset));
    }
  }
  const addresses: PeerIndexEntry['addresses'] = Object.create(null);
  for (const [network, { v4, v6 }] of offsets) {
    const runs4 = offsetRuns(v4);
    const runs6 = offsetRuns(v6);
    if (!runs4 || !runs6) return undefined;
    addresses[network] = { v4: runs4, v6: runs6 };
  }
  return {
    stat,
    kind: member.kind,
    blobs: member.ssh_keys.map((k) => blobDigest(canonicalKeyData(k.key))),
    wg: member.vpn_peers.map((p) => wgDigest(p.public_key)).join(' '),
    addresses,
  };
}

/** Whether `value` is a well-formed entry (a cache file is read, not trusted). */
export function isPeerIndexEntry(value: unknown): value is PeerIndexEntry {
  if (!value || typeof value !== 'object') return false;
  const e = value as Partial<PeerIndexEntry>;
  const runs = (a: unknown) =>
    Array.isArray(a) && a.length % 2 === 0 && a.every((n, i) => Number.isSafeInteger(n) && n >= (i % 2 ? 1 : 0)) && a.every((n, i) => i % 2 || n + a[i + 1] < Number.MAX_SAFE_INTEGER);
  if (typeof e.stat !== 'string' || (e.kind !== 'human' && e.kind !== 'bot') || typeof e.wg !== 'string') return false;
  if (e.wg !== '' && (e.wg.length + 1) % (WG_DIGEST_LENGTH + 1) !== 0) return false;
  if (!Array.isArray(e.blobs) || !e.blobs.every((b) => typeof b === 'string')) return false;
  if (!e.addresses || typeof e.addresses !== 'object' || Array.isArray(e.addresses)) return false;
  return Object.values(e.addresses).every((a) => a && typeof a === 'object' && runs(a.v4) && runs(a.v6));
}

/** What every member but one holds, for an edit of that one member. */
export class OtherMembers implements OthersView {
  private readonly sortedRuns = new Map<string, Float64Array>();

  /**
   * `describe` names the device holding a WireGuard key as `handle/device (network N)` (the store reads that
   * one member's file); without it, or when it finds nothing, the handle alone.
   */
  constructor(
    private readonly entries: ReadonlyMap<string, PeerIndexEntry>,
    private readonly describe?: (handle: string, publicKey: string) => string | undefined,
  ) {}

  kindOf(handle: string): Member['kind'] | undefined {
    return this.entries.get(handle)?.kind;
  }

  /** The handle holding WireGuard key `publicKey`, if another member does. */
  wgHolder(publicKey: string): string | undefined {
    // Every digest has the same length and no space, joined by spaces: a match is a whole digest.
    const d = wgDigest(publicKey);
    for (const [handle, e] of this.entries) if (e.wg.includes(d)) return handle;
    return undefined;
  }

  /** Who holds WireGuard key `publicKey` among the others, for a message; undefined when nobody does. */
  describeWgHolder(publicKey: string): string | undefined {
    const handle = this.wgHolder(publicKey);
    return handle === undefined ? undefined : (this.describe?.(handle, publicKey) ?? handle);
  }

  /** Whether another member holds an SSH key with this canonical blob. */
  holdsBlob(blob: string): boolean {
    const d = blobDigest(blob);
    for (const e of this.entries.values()) if (e.blobs.includes(d)) return true;
    return false;
  }

  /** Every other member's address runs in `network` of one family, as pairs sorted by offset (for allocate). */
  takenRuns(network: string, family: Family): Float64Array {
    const key = `${family}\0${network}`;
    let out = this.sortedRuns.get(key);
    if (!out) {
      const starts: number[] = [];
      const counts: number[] = [];
      for (const e of this.entries.values()) {
        const runs = family === 4 ? e.addresses[network]?.v4 : e.addresses[network]?.v6;
        if (runs) for (let i = 0; i < runs.length; i += 2) {
          starts.push(runs[i]);
          counts.push(runs[i + 1]);
        }
      }
      const order = starts.map((_, i) => i).sort((a, b) => starts[a] - starts[b]);
      out = new Float64Array(order.length * 2);
      order.forEach((i, at) => ((out![at * 2] = starts[i]), (out![at * 2 + 1] = counts[i])));
      this.sortedRuns.set(key, out);
    }
    return out;
  }

  /** Whether another member holds the address at `offset` of `network`'s range of `family`. */
  holdsOffset(network: string, family: Family, offset: number): boolean {
    for (const e of this.entries.values()) {
      const runs = family === 4 ? e.addresses[network]?.v4 : e.addresses[network]?.v6;
      if (runs && inRuns(runs, offset)) return true;
    }
    return false;
  }
}

/**
 * Whether `member` (as it would be written) shares nothing with the other members: no SSH key blob, no
 * WireGuard key, no address, and every admin that is another member is a person. `before` is the member's
 * entry in the state the index describes, which was found clean: what it already held was compared with
 * the same others then, so only what is new is looked up. Together with the member's own cross-file check
 * (crossCheckMemberAlone) this is crossCheck's verdict over the whole registry.
 */
export function sharesNothingWithOthers(config: InfraConfig, member: Member, others: OtherMembers, before?: PeerIndexEntry): boolean {
  for (const admin of config.admins) if (admin !== member.handle && others.kindOf(admin) !== 'human') return false;
  const after = peerIndexEntry(config, member, '');
  if (!after) return false;
  const oldBlobs = new Set(before?.blobs);
  if (member.ssh_keys.some((k, i) => !oldBlobs.has(after.blobs[i]) && others.holdsBlob(canonicalKeyData(k.key)))) return false;
  const oldKeys = new Set(before?.wg.split(' '));
  const newKeys = after.wg === '' ? [] : after.wg.split(' ');
  if (member.vpn_peers.some((p, i) => !oldKeys.has(newKeys[i]) && others.wgHolder(p.public_key) !== undefined)) return false;
  for (const [network, runs] of Object.entries(after.addresses)) {
    for (const family of [4, 6] as const) {
      const mine = family === 4 ? runs.v4 : runs.v6;
      const old = (family === 4 ? before?.addresses[network]?.v4 : before?.addresses[network]?.v6) ?? [];
      for (let i = 0; i < mine.length; i += 2)
        for (let offset = mine[i]; offset < mine[i] + mine[i + 1]; offset++) if (!inRuns(old, offset) && others.holdsOffset(network, family, offset)) return false;
    }
  }
  return true;
}
