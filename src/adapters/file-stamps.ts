/**
 * What derived state compares a file with: its stat as one key, and a text's digest.
 */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';


/**
 * size, mtime, ctime and inode (and the mode, where a file's permissions matter): any write changes ctime,
 * an atomic write also the inode. The one stat key of all derived state.
 */
export const statKey = (s: BigIntStats, withMode = false) => `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}${withMode ? `:${s.mode}` : ''}`;

/** A member file as the member cache and the peer index key it: its stat, and whether pgp.asc exists (its validation depends on both). */
export const memberStatKey = (file: BigIntStats, hasPgp: boolean) => `${statKey(file)}|pgp:${hasPgp ? 1 : 0}`;

/** The member file's own stat key inside a memberStatKey. */
export const fileStatPart = (memberStat: string) => memberStat.slice(0, memberStat.lastIndexOf('|'));

export const digest = (text: string | undefined) => (text === undefined ? 'absent' : createHash('sha256').update(text).digest('hex'));
