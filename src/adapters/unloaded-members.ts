/**
 * The member files that did not load, read leniently (core/changes.ts readSnapshot, which reads history the
 * same way): the audit still compares the addresses their VPN peers hold. Hostile input: links, other file
 * types and oversized files are skipped, never followed.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readSnapshot } from '../core/changes.js';
import type { UnloadedPeer } from '../core/audit-vpn.js';

const MAX_MEMBER_BYTES = 1024 * 1024;
const HANDLE_RE = /^[a-z][a-z0-9-]{0,31}$/;

/** The VPN peers of keys/<handle>/member.yml for each of `handles` (files that did not load), as far as they read. */
export async function unloadedPeers(root: string, handles: Iterable<string>): Promise<UnloadedPeer[]> {
  const files = new Map<string, string>();
  for (const handle of new Set(handles)) {
    if (!HANDLE_RE.test(handle)) continue;
    const rel = `keys/${handle}/member.yml`;
    const file = path.join(root, rel);
    const st = await fs.lstat(file).catch(() => undefined);
    if (!st?.isFile() || st.size > MAX_MEMBER_BYTES) continue;
    files.set(rel, await fs.readFile(file, 'utf8'));
  }
  const out: UnloadedPeer[] = [];
  for (const member of readSnapshot(files).members.values())
    for (const p of member.peers.values()) out.push({ handle: member.handle, device: p.device, network: p.network, addresses: p.addresses });
  return out;
}
