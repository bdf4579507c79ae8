/**
 * The member cache: validated members as derived state, and the stamp of the code that validated them.
 */
import { statSync } from 'node:fs';
import type { Member } from '../core/types.js';
import type { PackedSummary } from '../core/key-summary.js';
import type { MemberFacts } from '../core/validate.js';
import { derivedStateMinMembers, LEGACY_CACHE_DIR, readDerived, writeDerived } from './derived-state.js';
import { statKey } from './file-stamps.js';

/**
 * Validated members kept as derived state (members.json in the user's cache folder, authenticated, see
 * derived-state.ts: nothing in the registry can forge or plant it), so that a registry of thousands of members is not parsed with the YAML document API on
 * every command. An entry is used only while its member.yml has the same size, mtime, ctime and inode as
 * when it was parsed (any write changes ctime; an atomic write also changes the inode), and only by the
 * same validator (CACHE_FORMAT and the validator's own files). Only members that validated are cached:
 * a file with problems is always parsed, so every problem is still reported with its line.
 */
/** The in-registry folder older versions kept derived state in: never read nor written now. */
export const CACHE_DIR = LEGACY_CACHE_DIR;
const MEMBER_CACHE = 'members.json';
const CACHE_FORMAT = 2; // 2: each key's parsed summary (keys)
/**
 * Below this many members parsing is quick and no derived state (this cache, render's stamp) is written
 * (INFRA_CACHE_MIN_MEMBERS; 0 always, -1 never). At 100 members a parse of every file already costs
 * more than Node's start-up.
 */
export const cacheMinMembers = () => derivedStateMinMembers();

export interface CacheEntry {
  stat: string;
  member: Member;
  /** what the cross-file check compares (key blobs, address keys), derived from `member` */
  facts?: MemberFacts;
  /** each of member.ssh_keys as its validation parsed it, in the same order (packSummary) */
  keys?: PackedSummary[];
}

/**
 * The last registry state the cross-file check found clean: infra.yml's digest and each member's stat.
 * A load whose members mostly match it checks only the others against them (crossCheckClean), so an
 * edit of one member in 50,000 peers does not compare every pair again.
 */
export interface CrossChecked {
  config: string;
  members: Record<string, string>;
}

export interface MemberCache {
  entries: Map<string, CacheEntry>;
  crossChecked?: CrossChecked;
}


/** Changes whenever the code that validates a member does (a rebuilt dist, an edited source). */
export const validatorStamp = (() => {
  let stamp: string | undefined;
  return () => {
    if (stamp === undefined) {
      // this module's own file too (the whole CLI when it runs from the bundle, dist/bundle/infra.cjs), and the
      // adapters that make derived state from a load
      const parts = [import.meta.url, './registry-load.js', './peer-index-store.js', './member-facts.js', '../core/validate.js', '../core/validate-member.js', '../core/validate-config.js', '../core/validate-fields.js', '../core/cross-check.js', '../core/ssh-key.js', '../core/ssh-key-policy.js', '../core/ssh-key-blob.js', '../core/authorized-keys.js', '../core/key-options.js', '../core/key-summary.js', '../core/tokens.js'].map((rel) => {
        try {
          return statKey(statSync(new URL(rel, import.meta.url), { bigint: true }));
        } catch {
          return 'none';
        }
      });
      stamp = `${CACHE_FORMAT}|${parts.join('|')}`;
    }
    return stamp;
  };
})();


export async function readMemberCache(root: string): Promise<MemberCache> {
  try {
    const text = await readDerived(root, MEMBER_CACHE);
    if (text === undefined) return { entries: new Map() };
    const data = JSON.parse(text) as { validator?: string; members?: Record<string, CacheEntry>; crossChecked?: CrossChecked };
    if (data.validator !== validatorStamp() || !data.members || typeof data.members !== 'object') return { entries: new Map() };
    const crossChecked = data.crossChecked && typeof data.crossChecked.config === 'string' && data.crossChecked.members && typeof data.crossChecked.members === 'object' ? data.crossChecked : undefined;
    return { entries: new Map(Object.entries(data.members)), crossChecked };
  } catch {
    return { entries: new Map() }; // none yet, or unreadable: parse everything and write a new one
  }
}

export async function writeMemberCache(root: string, entries: Map<string, CacheEntry>, crossChecked?: CrossChecked): Promise<void> {
  // best effort (writeDerived): a read-only or full home only means the next command parses again
  await writeDerived(root, MEMBER_CACHE, JSON.stringify({ validator: validatorStamp(), members: Object.fromEntries(entries), crossChecked }));
}

/** Whether derived state (the member cache, render's stamp) is kept for a registry of this many members. */
export function keepsDerivedState(memberCount: number): boolean {
  const min = cacheMinMembers();
  return min >= 0 && memberCount >= min;
}
