/**
 * What the load derived for each member, carried as plain data on its result (Loaded): the facts the
 * cross-file check compares, and each key as its validation parsed it. Both come from the member's own
 * cache entry or from parsing its file, so they are trusted exactly as far as the member itself.
 */
import type { Member } from '../core/types.js';
import { unpackSummary, type KeySummary } from '../core/key-summary.js';
import { memberFacts, type MemberFacts } from '../core/validate.js';

/** A member's key texts (member.ssh_keys in order) and their packed summaries (packSummary), unpacked only when asked. */
export interface ParsedKeys {
  texts: readonly string[];
  packed: readonly unknown[];
}

/**
 * The facts of a member of the load, else derived from the member itself. Only for members as loaded:
 * the facts are by handle, so a member changed in memory (an edit's result) must not be looked up here.
 */
export function factsFrom(known: ReadonlyMap<string, MemberFacts>): (m: Member) => MemberFacts {
  return (m) => known.get(m.handle) ?? memberFacts(m);
}

/**
 * Key text -> summary for the members' keys that the load parsed, for render and audit (core/key-summary.ts)
 * not to parse them again. A text missing here (an entry without summaries, a member made since) is parsed.
 */
export function knownKeys(loaded: { memberKeys: ReadonlyMap<string, ParsedKeys> }): Map<string, KeySummary> {
  const out = new Map<string, KeySummary>();
  for (const known of loaded.memberKeys.values()) {
    if (known.texts.length !== known.packed.length) continue;
    known.texts.forEach((text, i) => {
      const summary = typeof text === 'string' ? unpackSummary(text, known.packed[i]) : undefined;
      if (summary) out.set(text, summary);
    });
  }
  return out;
}

