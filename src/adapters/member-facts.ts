/**
 * What the load derived for each member (cross-file facts, parsed key summaries), for later code.
 */
import type { Member } from '../core/types.js';
import { unpackSummary, type KeySummary } from '../core/key-summary.js';
import { memberFacts, type MemberFacts } from '../core/validate.js';

/** Facts of members in memory: from their cache entry, or derived when first asked for. */
export const factsByMember = new WeakMap<Member, MemberFacts>();
export function factsOf(m: Member): MemberFacts {
  let facts = factsByMember.get(m);
  if (!facts) {
    facts = memberFacts(m);
    factsByMember.set(m, facts);
  }
  return facts;
}

/**
 * Each member's keys as the load parsed them (fresh, or from the member's own cache entry, so trusted exactly
 * as far as the member): key texts and their packed summaries, unpacked only when knownKeys asks.
 */
export const keysByMember = new WeakMap<Member, { texts: readonly string[]; packed: readonly unknown[] }>();

/**
 * Key text -> summary for the members' keys that the load parsed, for render and audit (core/key-summary.ts)
 * not to parse them again. A text missing here (an entry without summaries, a member made since) is parsed.
 */
export function knownKeys(members: readonly Member[]): Map<string, KeySummary> {
  const out = new Map<string, KeySummary>();
  for (const m of members) {
    const known = keysByMember.get(m);
    if (!known || known.texts.length !== known.packed.length) continue;
    known.texts.forEach((text, i) => {
      const summary = typeof text === 'string' ? unpackSummary(text, known.packed[i]) : undefined;
      if (summary) out.set(text, summary);
    });
  }
  return out;
}

/**
 * The addressKey of every peer address in `network`, from the members' facts (kept in the member cache),
 * for `vpn join` to allocate without parsing every address; undefined if one does not parse.
 */
export function peerAddressKeys(members: readonly Member[], network: string): Set<string> | undefined {
  const out = new Set<string>();
  for (const m of members) {
    const facts = factsOf(m);
    for (let i = 0; i < m.vpn_peers.length; i++) {
      if (m.vpn_peers[i].network !== network) continue;
      for (const key of facts.addresses[i] ?? [null]) {
        if (key === null) return undefined;
        out.add(key);
      }
    }
  }
  return out;
}
