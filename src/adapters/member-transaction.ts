/**
 * Edits of one member: checked against the peer index when it describes the registry exactly, else
 * (or on any doubt) over the whole registry, after which the index is rebuilt.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { InfraConfig, Member } from '../core/types.js';
import type { OthersView } from '../core/others-view.js';
import { peerIndexEntry, sharesNothingWithOthers } from '../core/peer-index.js';
import { crossCheckMemberAlone } from '../core/validate.js';
import { invalidRegistry, type Problem } from '../lib/errors.js';
import { CACHE_DIR } from './member-cache.js';
import { inspectRegistry } from './registry-load.js';
import { withLock, type LockSession } from './registry-lock.js';
import { memberRel } from './registry-root.js';
import { Transaction } from './transaction.js';
import { loadFocused, rebuildPeerIndex, shardOf, writePeerIndex, writtenMemberStat, type FocusedLoad } from './peer-index-store.js';

/** The peer index could not vouch for an edit's result: the edit is done again over the whole registry. */
class PeerIndexDoubt extends Error {}

const TOKEN_FILE_RE = /^keys\/([^/]+)\/tokens\/[^/.][^/]*\.asc$/;
const VAULT_VARS_RE = /^(?:[^/]+\/)*group_vars\/[^/]+\/infra\.tokens\.yml$/;

/**
 * Whether an edit of the member `handle` may write or remove `rel` (besides its member.yml) without the whole
 * registry: only files the registry load never reads. The load reads infra.yml, the folders under keys/, and in
 * each only member.yml and whether pgp.asc exists; a file that is none of those changes no member's validity and
 * nothing another member is compared with, so it needs no cross-member check (a .yml one is still parsed, as on
 * the whole path). Kept to what `tokens rotate` writes:
 * - keys/<handle>/tokens/<file>.asc: the member's own token values (the pending one, the value that replaces it);
 * - <inventory>/group_vars/<group>/infra.tokens.yml outside keys/ and .infra-cache/: Ansible vault variables.
 * Paths with `.`, `..` or empty segments are not; reachedWithoutLinks rules out a link that would make one of
 * them a registry file under another name.
 */
export function focusedExtraFile(handle: string, rel: string): boolean {
  const segments = rel.split('/');
  if (path.posix.isAbsolute(rel) || segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\'))) return false;
  const token = TOKEN_FILE_RE.exec(rel);
  if (token) return token[1] === handle;
  return VAULT_VARS_RE.test(rel) && segments[0] !== 'keys' && segments[0] !== CACHE_DIR;
}

/** Every folder on the way to `rel` (those that exist) is a real folder, and `rel` is a regular file or absent. */
async function reachedWithoutLinks(root: string, rel: string): Promise<boolean> {
  const segments = rel.split('/');
  let at = root;
  for (const [i, segment] of segments.entries()) {
    at = path.join(at, segment);
    let stat;
    try {
      stat = await fs.lstat(at);
    } catch (e) {
      // Absent: made by mkdir (a real folder) or the new file itself. Anything else (no permission) is doubt.
      return (e as NodeJS.ErrnoException).code === 'ENOENT';
    }
    if (i < segments.length - 1 ? !stat.isDirectory() : !stat.isFile()) return false;
  }
  return true;
}

/**
 * An edit of one member whose registry holds only that member (`registry.members`); the others are in
 * `others`. Its result is validated as crossCheck would over the whole registry: the member's own checks,
 * then every SSH key, WireGuard key and address it holds looked up among the others. Anything found means
 * doubt, and the edit runs again over the whole registry, for the problems with their lines.
 */
export class MemberTransaction extends Transaction {
  constructor(
    root: string,
    private readonly focus: FocusedLoad,
  ) {
    super(root, focus.loaded);
  }

  /** What every other member holds: from the peer index, each entry checked against its file's stat. */
  override othersThan(handle: string): OthersView {
    if (handle !== this.focus.member.handle) throw new Error(`an edit of ${this.focus.member.handle} knows the others of ${this.focus.member.handle} only, not of ${handle}`);
    return this.focus.others;
  }

  protected override async validateResult(pending: Map<string, { content: string }>): Promise<Problem[]> {
    const { handle } = this.focus.member;
    const own = memberRel(handle);
    // Its member.yml, and files the load never reads (focusedExtraFile); anything else (infra.yml, another
    // member, its pgp.asc, its member.yml removed) is not this path's to judge.
    for (const rel of pending.keys()) if (rel !== own && !(focusedExtraFile(handle, rel) && (await reachedWithoutLinks(this.root, rel)))) throw new PeerIndexDoubt();
    for (const rel of this.removedFiles()) if (!(focusedExtraFile(handle, rel) && (await reachedWithoutLinks(this.root, rel)))) throw new PeerIndexDoubt();
    return super.validateResult(pending);
  }

  protected override crossFileProblems(config: InfraConfig, members: Map<string, Member>): Problem[] {
    const member = members.get(this.focus.member.handle);
    if (!member || config !== this.registry.config) throw new PeerIndexDoubt();
    const before = this.focus.index.entries.get(member.handle);
    if (!crossCheckMemberAlone(config, member) || !sharesNothingWithOthers(config, member, this.focus.others, before)) throw new PeerIndexDoubt();
    return [];
  }

  override async commit(): Promise<string[]> {
    const pending = this.pending();
    const written = await super.commit();
    const handle = this.focus.member.handle;
    const text = pending.get(memberRel(handle))?.content;
    // Its member.yml untouched (only token or vault files written): its entry still describes it.
    if (text === undefined) return written;
    const member = this.resultMembers?.get(handle);
    const { index } = this.focus;
    const stat = text !== undefined && member ? writtenMemberStat(this.root, handle, text) : undefined;
    const entry = stat === undefined ? undefined : peerIndexEntry(this.registry.config, member!, stat);
    const shard = shardOf(handle);
    const shards = [...index.shards];
    shards[shard] = { ...shards[shard] };
    // No entry (a hand edit just now): the member's entry goes, and the next edit takes the whole path.
    if (entry) shards[shard][handle] = entry;
    else delete shards[shard][handle];
    if (written.length) await writePeerIndex(this.root, index.head.config, shards, index.head, new Set([shard]));
    return written;
  }
}
/**
 * The edit of one member that mutateMember runs. It may run TWICE: first over the peer index (a
 * MemberTransaction), then, when the index cannot vouch for its result, again over the whole registry. So it
 * only reads and plans from `tx` and edits `tx` (no network, no prompt, no file written by itself), and its
 * result is the last run's.
 */
export type RepeatableMemberEdit<T> = (tx: Transaction) => Promise<T> | T;

/**
 * Lock, load, let `fn` edit the member `handle` (and write files focusedExtraFile allows), commit. With a peer index that describes
 * the registry exactly, only infra.yml and that member are parsed and `tx` is a MemberTransaction; otherwise,
 * or on any doubt at commit, `fn` runs (again) on a whole-registry Transaction, after which the index is
 * rebuilt (see RepeatableMemberEdit).
 */
export async function mutateMember<T>(
  root: string,
  handle: string,
  command: string,
  fn: RepeatableMemberEdit<T>,
  session?: LockSession,
): Promise<{ result: T; written: string[] }> {
  return withLock(root, command, async () => {
    const focus = await loadFocused(root, handle);
    if (focus) {
      try {
        const tx = new MemberTransaction(root, focus);
        const result = await fn(tx);
        return { result, written: await tx.commit() };
      } catch (e) {
        if (!(e instanceof PeerIndexDoubt)) throw e;
      }
    }
    const { loaded, partial, problems, betweenFilesOnly } = await inspectRegistry(root);
    const base = loaded ?? (betweenFilesOnly ? partial : undefined);
    if (!base) throw invalidRegistry(problems);
    const tx = new RebuildingTransaction(root, base, problems);
    const result = await fn(tx);
    const pending = tx.pending();
    const written = await tx.commit();
    const onlyMember = [...pending.keys(), ...tx.removals()].every((rel) => rel === memberRel(handle) || focusedExtraFile(handle, rel));
    if (loaded && problems.length === 0 && onlyMember) await rebuildPeerIndex(root, loaded, handle, tx.validated(), pending.get(memberRel(handle))?.content);
    return { result, written };
  }, undefined, session);
}

/** A whole-registry Transaction that lets the peer index be rebuilt from its validated result. */
class RebuildingTransaction extends Transaction {
  removals(): string[] {
    return this.removedFiles();
  }

  /** The members of the result (the loaded ones when nothing changed), once commit validated it. */
  validated(): ReadonlyMap<string, Member> | undefined {
    return this.resultMembers ?? new Map(this.registry.members.map((m) => [m.handle, m]));
  }
}
