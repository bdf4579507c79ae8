/**
 * What derived state compares a file with: its stat as one key, and a text's digest.
 */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';


/** size, mtime, ctime and inode: any write changes ctime, an atomic write also the inode. */
export const statKey = (s: BigIntStats) => `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`;

export const digest = (text: string | undefined) => (text === undefined ? 'absent' : createHash('sha256').update(text).digest('hex'));
