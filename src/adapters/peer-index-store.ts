import { existsSync, lstatSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Member } from '../core/types.js';
import { isPeerIndexEntry, OtherMembers, peerIndexEntry, type PeerIndexEntry } from '../core/peer-index.js';
import { validateConfig, validateMember } from '../core/validate.js';
import { readDerived, writeDerived } from './derived-state.js';
import { digest, fileStatPart, memberStatKey, statKey } from './file-stamps.js';
import { keepsDerivedState, validatorStamp } from './member-cache.js';
import { CONFIG_FILE, memberRel } from './registry-root.js';
import { locatedFor, YamlFiles, type Loaded } from './registry-load.js';
import { lineOf, MAX_ALIAS_EXPANSIONS, parseYamlFile, readRegistryText } from './yaml-load.js';

/**
 * `.infra-cache/peers/`: what an edit of one member compares with every other member (see core/peer-index),
 * in shards by handle so that an edit rewrites one shard, plus head.json naming the state they describe: the
 * validator, infra.yml's digest and each shard's sha256. The index only ever describes a registry state found
 * free of cross-file problems. It is written only under the lock, by edits of one member (mutateMember): after
 * a whole-registry edit in full, after a quick one for the edited member's shard alone.
 *
 * It is used only when everything matches: the same validator, the same infra.yml, every shard's digest (a
 * truncated, corrupt or half-replaced shard is doubt), the same set of member folders, and every member file's
 * stat (size, mtime, ctime, inode; for the edited member also whether pgp.asc exists) equal to its entry's. Anything else, and the edit takes the
 * whole-registry path and rebuilds the index after it.
 */
const PEER_INDEX_DIR = 'peers';
const PEER_INDEX_SHARDS = 16;
const PEER_INDEX_FORMAT = 2;

interface PeerIndexHead {
  validator: string;
  config: string;
  shards: string[];
}

interface PeerIndex {
  head: PeerIndexHead;
  /** each shard's entries by handle */
  shards: Array<Record<string, PeerIndexEntry>>;
  entries: Map<string, PeerIndexEntry>;
}

/** FNV-1a of the handle: which shard holds its entry. */
export function shardOf(handle: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < handle.length; i++) h = Math.imul(h ^ handle.charCodeAt(i), 0x01000193) >>> 0;
  return h % PEER_INDEX_SHARDS;
}

const shardRel = (i: number) => `${PEER_INDEX_DIR}/${String(i).padStart(2, '0')}.json`;
const peerIndexValidator = () => `${PEER_INDEX_FORMAT}|${validatorStamp()}`;

/** The peer index as on disk, or undefined when it is missing, from another validator, or inconsistent in any way. */
async function readPeerIndex(root: string): Promise<PeerIndex | undefined> {
  try {
    const headText = await readDerived(root, `${PEER_INDEX_DIR}/head.json`);
    if (headText === undefined) return undefined;
    const head = JSON.parse(headText) as Partial<PeerIndexHead>;
    if (head.validator !== peerIndexValidator() || typeof head.config !== 'string' || !Array.isArray(head.shards) || head.shards.length !== PEER_INDEX_SHARDS) return undefined;
    const texts = await Promise.all(head.shards.map((_, i) => readDerived(root, shardRel(i))));
    const shards: PeerIndex['shards'] = [];
    const entries = new Map<string, PeerIndexEntry>();
    for (let i = 0; i < PEER_INDEX_SHARDS; i++) {
      const text = texts[i];
      if (text === undefined || digest(text) !== head.shards[i]) return undefined;
      const members = (JSON.parse(text) as { members?: unknown }).members;
      if (!members || typeof members !== 'object' || Array.isArray(members)) return undefined;
      for (const [handle, entry] of Object.entries(members)) {
        if (shardOf(handle) !== i || !isPeerIndexEntry(entry)) return undefined;
        entries.set(handle, entry);
      }
      shards.push(members as Record<string, PeerIndexEntry>);
    }
    return { head: head as PeerIndexHead, shards, entries };
  } catch {
    return undefined; // none yet, unreadable, not JSON: the whole-registry path, which writes a new one
  }
}

/** Write the shards numbered in `changed` (all when undefined), then the head naming their digests. */
export async function writePeerIndex(root: string, config: string, shards: PeerIndex['shards'], previous?: PeerIndexHead, changed?: ReadonlySet<number>): Promise<void> {
  try {
    const digests = previous && changed ? [...previous.shards] : new Array<string>(PEER_INDEX_SHARDS);
    const writeCache = (rel: string, text: string) => writeDerived(root, rel, text);
    for (let i = 0; i < PEER_INDEX_SHARDS; i++) {
      if (changed && previous && !changed.has(i)) continue;
      const text = JSON.stringify({ members: shards[i] });
      digests[i] = digest(text);
      await writeCache(shardRel(i), text);
    }
    await writeCache(`${PEER_INDEX_DIR}/head.json`, JSON.stringify({ validator: peerIndexValidator(), config, shards: digests } satisfies PeerIndexHead));
  } catch {
    // a read-only checkout, a full disk: the index is an optimisation, the next edit takes the whole path
  }
}

/** The stat key of a member file just written, if it still holds `text` (a hand edit since gives none). */
export function writtenMemberStat(root: string, handle: string, text: string): string | undefined {
  const full = path.join(root, memberRel(handle));
  const before = lstatSync(full, { bigint: true, throwIfNoEntry: false });
  if (!before || !before.isFile() || readFileSync(full, 'utf8') !== text) return undefined;
  return memberStatKey(before, existsSync(path.join(root, `keys/${handle}/pgp.asc`)));
}

/** The registry with one member parsed and every other one known only from the peer index. */
export interface FocusedLoad {
  loaded: Loaded;
  member: Member;
  index: PeerIndex;
  others: OtherMembers;
}

/** The focused load of `handle`, or undefined when the peer index does not describe the registry as it is exactly. */
export async function loadFocused(root: string, handle: string): Promise<FocusedLoad | undefined> {
  const index = await readPeerIndex(root);
  if (!index || !index.entries.has(handle) || !keepsDerivedState(index.entries.size)) return undefined;
  const configPath = path.join(root, CONFIG_FILE);
  if (lstatSync(configPath, { throwIfNoEntry: false })?.isFile() !== true) return undefined;
  const configText = await readRegistryText(configPath, CONFIG_FILE);
  if (configText === undefined || digest(configText) !== index.head.config) return undefined;
  let dirents;
  try {
    dirents = await fs.readdir(path.join(root, 'keys'), { withFileTypes: true });
  } catch {
    return undefined;
  }
  let count = 0;
  for (const d of dirents) {
    if (d.name.startsWith('.')) continue;
    if (!d.isDirectory() || !index.entries.has(d.name)) return undefined; // a link, a file, a member the index lacks
    count++;
    const rel = memberRel(d.name);
    const fileStat = lstatSync(path.join(root, rel), { bigint: true, throwIfNoEntry: false });
    if (!fileStat?.isFile()) return undefined;
    // Another member's pgp.asc changes neither its validity nor what it holds: only its file is compared.
    // The edited member's is, for its has_pgp.
    const want = index.entries.get(d.name)!.stat;
    if (d.name === handle ? want !== memberStatKey(fileStat, existsSync(path.join(root, `keys/${d.name}/pgp.asc`))) : fileStatPart(want) !== statKey(fileStat)) return undefined;
  }
  if (count !== index.entries.size) return undefined; // a member removed
  const configParsed = parseYamlFile(CONFIG_FILE, configText);
  if (configParsed.problems.length) return undefined;
  const config = validateConfig(configParsed.file.doc.toJS(), CONFIG_FILE, (p) => lineOf(configParsed.file, p));
  if (!config.config || config.problems.length) return undefined;
  const rel = memberRel(handle);
  const stat = index.entries.get(handle)!.stat;
  const text = await readRegistryText(path.join(root, rel), rel);
  // stat after the read as before it: the text is the file the entry describes
  const after = lstatSync(path.join(root, rel), { bigint: true, throwIfNoEntry: false });
  if (text === undefined || !after || fileStatPart(stat) !== statKey(after)) return undefined;
  const parsed = parseYamlFile(rel, text);
  if (parsed.problems.length) return undefined;
  const hasPgp = stat.endsWith('|pgp:1');
  const r = validateMember(handle, parsed.file.doc.toJS(), rel, (p) => lineOf(parsed.file, p), hasPgp);
  if (!r.member || r.problems.length) return undefined;
  const files = new YamlFiles([
    [CONFIG_FILE, configParsed.file],
    [rel, parsed.file],
  ]);
  const othersEntries = new Map(index.entries);
  othersEntries.delete(handle);
  return {
    loaded: { registry: { root, config: config.config, members: [r.member] }, files, located: locatedFor(files), memberFacts: new Map(), memberKeys: new Map() },
    member: r.member,
    index,
    others: new OtherMembers(othersEntries, (holder, publicKey) => describeWgHolder(root, holder, publicKey)),
  };
}

/** `handle/device (network N)` of the peer of `holder` with WireGuard key `publicKey`, read from its file (for a message). */
function describeWgHolder(root: string, holder: string, publicKey: string): string | undefined {
  try {
    const rel = memberRel(holder);
    const data = parseYamlFile(rel, readFileSync(path.join(root, rel), 'utf8')).file.doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS }) as { vpn_peers?: unknown } | null;
    const peers = Array.isArray(data?.vpn_peers) ? (data.vpn_peers as Array<{ public_key?: unknown; device?: unknown; network?: unknown }>) : [];
    const peer = peers.find((p) => p?.public_key === publicKey);
    return peer && typeof peer.device === 'string' && typeof peer.network === 'string' ? `${holder}/${peer.device} (network ${peer.network})` : undefined;
  } catch {
    return undefined;
  }
}


/** Build the peer index from a whole-registry edit's result, when that result was found clean. */
export async function rebuildPeerIndex(root: string, loaded: Loaded, handle: string, resultMembers: ReadonlyMap<string, Member> | undefined, newText: string | undefined): Promise<void> {
  const stats = loaded.memberStats;
  const configText = loaded.files.get(CONFIG_FILE)?.text;
  if (!stats || configText === undefined || !resultMembers || !keepsDerivedState(resultMembers.size)) return;
  const config = loaded.registry.config;
  const shards: PeerIndex['shards'] = Array.from({ length: PEER_INDEX_SHARDS }, () => Object.create(null) as Record<string, PeerIndexEntry>);
  for (const [h, member] of resultMembers) {
    const stat = h === handle ? (newText === undefined ? stats.get(h) : writtenMemberStat(root, h, newText)) : stats.get(h);
    const entry = stat === undefined ? undefined : peerIndexEntry(config, member, stat);
    if (!entry) return; // one member the index cannot hold: none at all
    shards[shardOf(h)][h] = entry;
  }
  await writePeerIndex(root, digest(configText), shards);
}

