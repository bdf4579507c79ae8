/**
 * What an edit of one member compares with every other member: who holds a WireGuard key, and which peer
 * addresses are taken. Two sources answer it: the peer index (OtherMembers, core/peer-index.ts) and the
 * loaded members themselves (membersView, here). A plan (core/vpn-plan.ts) takes either and never knows which.
 * Pure: members, their derived facts and infra.yml's networks are passed in.
 */
import { ExitCode, InfraError } from '../lib/errors.js';
import { ownValue } from './dict.js';
import { parseCidr, type Cidr, type Family } from './ip-alloc.js';
import type { InfraConfig, Member } from './types.js';
import type { MemberFacts } from './validate.js';

export interface OthersView {
  /** Who holds WireGuard key `publicKey` among the others, as `handle/device (network N)` (or the handle); undefined when nobody does. */
  describeWgHolder(publicKey: string): string | undefined;
  /** The others' addresses in `network` of one family, as runs [offset from the range's start, count, ...] sorted by offset (for allocate). */
  takenRuns(network: string, family: Family): ArrayLike<number>;
}

/** Sorted offsets (repeats allowed) as runs [start, count, ...]. */
function runsOf(sorted: readonly number[]): number[] {
  const runs: number[] = [];
  for (const offset of sorted) {
    const last = runs.length - 2;
    if (last >= 0 && runs[last] + runs[last + 1] > offset) continue; // held twice: already in the run
    if (last >= 0 && runs[last] + runs[last + 1] === offset) runs[last + 1]++;
    else runs.push(offset, 1);
  }
  return runs;
}

/**
 * The members of `members` other than `except`, as a view. `factsOf` gives each member's addresses as
 * addressKey (`family:hex`, derived once by the load and kept with the member): then no address text is parsed.
 * Offsets are plain numbers: an address below the range's start, or 2^53 past it, is left out, which cannot
 * change an allocation (the lowest free address lies at most as many places past the start as there are
 * addresses taken).
 */
export function membersView(config: InfraConfig, members: readonly Member[], except: string, factsOf?: (m: Member) => MemberFacts): OthersView {
  const others = members.filter((m) => m.handle !== except);
  const runs = new Map<string, number[]>();
  return {
    describeWgHolder(publicKey) {
      for (const m of others) for (const p of m.vpn_peers) if (p.public_key === publicKey) return `${m.handle}/${p.device} (network ${p.network})`;
      return undefined;
    },
    takenRuns(network, family) {
      const key = `${family}\0${network}`;
      let out = runs.get(key);
      if (out) return out;
      const net = ownValue(config.vpn, network);
      const rangeText = family === 4 ? net?.ipv4 : net?.ipv6;
      const range = rangeText === undefined ? undefined : parseCidr(rangeText, { strict: false });
      const offsets: number[] = [];
      if (range)
        for (const m of others) {
          const facts = factsOf?.(m);
          m.vpn_peers.forEach((peer, i) => {
            if (peer.network !== network) return;
            peer.addresses.forEach((text, j) => {
              const offset = offsetIn(range, facts?.addresses[i]?.[j] ?? undefined, text);
              if (offset !== undefined) offsets.push(offset);
            });
          });
        }
      out = runsOf(offsets.sort((a, b) => a - b));
      runs.set(key, out);
      return out;
    },
  };
}

/** An address's offset from `range`'s start; undefined when it is of the other family or outside the numbers kept. */
function offsetIn(range: Cidr, addressKey: string | undefined, text: string): number | undefined {
  let family: number;
  let value: bigint;
  if (addressKey !== undefined) {
    const colon = addressKey.indexOf(':');
    family = Number(addressKey.slice(0, colon));
    value = BigInt(`0x${addressKey.slice(colon + 1)}`);
  } else {
    let c: Cidr;
    try {
      c = parseCidr(text, { strict: false, allowBareAddress: true });
    } catch {
      // as allocate says it of any address in use it cannot read
      throw new InfraError(ExitCode.invalid, `an address in use is not an IP address or range: ${JSON.stringify(text)}`, { hint: 'run `infra check` to find and fix it' });
    }
    family = c.family;
    value = c.network;
  }
  if (family !== range.family) return undefined;
  const offset = value - range.network;
  return offset < 0n || offset >= BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(offset);
}
