/**
 * The registry store: finds the registry, parses its YAML with positions, validates it as a whole,
 * and applies edits in place (comments and order survive) under a lock, atomically, refusing to
 * write over a file that changed on disk since it was read.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, promises as fs, readdirSync, readFileSync, statSync, type BigIntStats } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Document, isMap, LineCounter, parseDocument, visit, type Node as YamlNode } from 'yaml';
import { ExitCode, InfraError, invalidRegistry, noMember, type Problem } from '../lib/errors.js';
import type { InfraConfig, Member, Registry } from '../core/types.js';
import { packSummary, unpackSummary, type KeySummary, type PackedSummary } from '../core/key-summary.js';
import { isPeerIndexEntry, OtherMembers, peerIndexEntry, sharesNothingWithOthers, type PeerIndexEntry } from '../core/peer-index.js';
import { crossCheck, crossCheckClean, crossCheckMemberAlone, memberFacts, validateConfig, validateMember, type Located, type MemberFacts, type Path } from '../core/validate.js';
import { YamlSourceEditor } from '../lib/yaml-edit.js';
import { decodeUtf8 } from '../lib/utf8.js';
import { shellCommand, shellQuote } from '../lib/shell-quote.js';
import { derivedStateMinMembers, LEGACY_CACHE_DIR, readDerived, writeDerived } from './derived-state.js';
import { mapLimit } from '../lib/map-limit.js';

export const CONFIG_FILE = 'infra.yml';
/** How edited YAML is written back: no re-wrapping, `[a, b]` as people write it. */
export const YAML_OUT = { lineWidth: 0, flowCollectionPadding: false } as const;
export const LOCK_FILE = '.infra.lock';

export interface FindOptions {
  dir?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** --dir > INFRA_DIR > nearest folder upward holding infra.yml (docs/reference.md, "The registry"). */
export async function findRoot(opts: FindOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const explicit = opts.dir ?? env.INFRA_DIR;
  if (explicit) {
    const root = path.resolve(opts.cwd ?? process.cwd(), explicit);
    if (!(await exists(path.join(root, CONFIG_FILE))))
      throw new InfraError(ExitCode.invalid, `no registry at ${root}: it has no ${CONFIG_FILE} (from ${opts.dir ? '--dir' : 'INFRA_DIR'})`, {
        hint: `create one with \`infra init --dir ${shellQuote(explicit)}\`, or point --dir at the folder that holds ${CONFIG_FILE}`,
      });
    return root;
  }
  const start = path.resolve(opts.cwd ?? process.cwd());
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (await exists(path.join(dir, CONFIG_FILE))) return dir;
    if (path.dirname(dir) === dir) break;
  }
  throw new InfraError(ExitCode.invalid, `no registry found: no ${CONFIG_FILE} in ${start} or any folder above it, and neither --dir nor INFRA_DIR is set`, {
    hint: 'run `infra init` to create one here, or pass --dir DIR',
  });
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

/** A parsed YAML file with what it takes to point at lines and to detect changes under us. */
export interface YamlFile {
  rel: string; // path relative to the registry root, with /
  text: string;
  doc: Document;
  lines: LineCounter;
}

/** How many times aliases may expand in one registry file: a few anchors are fine, an alias bomb is not. */
export const MAX_ALIAS_EXPANSIONS = 100;

/**
 * An alias bomb (aliases of aliases, each expanding many times) would take the process's memory when the
 * document is converted: the `yaml` package's own guard throws a bare ReferenceError. Convert once with that
 * guard here, where a refusal becomes a problem naming the file and the first alias's line.
 */
function aliasProblem(rel: string, doc: Document, lines: LineCounter): Problem | undefined {
  let firstAlias: number | undefined;
  visit(doc, {
    Alias(_, node) {
      firstAlias = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  if (firstAlias === undefined) return undefined;
  try {
    doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
    return undefined;
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    return {
      file: rel,
      line: lines.linePos(firstAlias).line,
      field: '(yaml)',
      message: `its YAML aliases (*name) expand to more than ${MAX_ALIAS_EXPANSIONS} copies, which infra refuses (a YAML "alias bomb" takes all memory): write the values out`,
    };
  }
}

export function parseYamlFile(rel: string, text: string): { file: YamlFile; problems: Problem[] } {
  const lines = new LineCounter();
  // logLevel error: a mapping used as a key is reported by validation (an unknown field), not warned about on stderr
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  const problems: Problem[] = doc.errors.map((e) => ({
    file: rel,
    // An unclosed `[` or `{` is noticed lines later, where the parser gives up: point at the opener.
    line: lines.linePos(/\bflow (sequence|mapping|collection)\b/i.test(e.message) ? (unclosedFlowOpener(text, e.pos[0]) ?? e.pos[0]) : e.pos[0]).line,
    field: '(yaml)',
    message: `YAML syntax error: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
  }));
  if (!problems.length) {
    const aliases = aliasProblem(rel, doc, lines);
    if (aliases) problems.push(aliases);
  }
  return { file: { rel, text, doc, lines }, problems };
}

/** Offset of the outermost `[` or `{` still open at `pos` (outside quotes and comments), if any. */
export function unclosedFlowOpener(text: string, pos: number): number | undefined {
  const open: number[] = [];
  let quote: string | undefined;
  for (let i = 0; i < Math.min(pos, text.length); i++) {
    const c = text[i];
    if (quote) {
      if (c === quote && !(quote === '"' && text[i - 1] === '\\')) quote = undefined;
      else if (c === '\n' && !open.length) quote = undefined;
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) {
      const nl = text.indexOf('\n', i);
      i = nl === -1 ? text.length : nl;
      continue;
    }
    if ((c === '"' || c === "'") && (open.length || /[\s:,[{-]/.test(text[i - 1] ?? ' '))) quote = c;
    else if (c === '[' || c === '{') open.push(i);
    else if ((c === ']' || c === '}') && open.length) open.pop();
  }
  return open[0];
}

export function lineOf(file: YamlFile, p: Path): number | undefined {
  const node = p.length === 0 ? file.doc.contents : (file.doc.getIn(p, true) as YamlNode | undefined);
  // A scalar at a path: point at its key's line when the value sits on a later line.
  if (node && typeof node === 'object' && 'range' in node && node.range) return file.lines.linePos(node.range[0]).line;
  if (p.length) {
    const parent = p.length === 1 ? file.doc.contents : (file.doc.getIn(p.slice(0, -1), true) as YamlNode | undefined);
    if (isMap(parent)) {
      const pair = parent.items.find((it) => (it.key as { value?: unknown })?.value === p[p.length - 1]);
      const key = pair?.key as YamlNode | undefined;
      if (key?.range) return file.lines.linePos(key.range[0]).line;
    }
  }
  return undefined;
}

export interface Loaded {
  registry: Registry;
  files: Map<string, YamlFile>;
  located: Located;
  /**
   * Names this registry's content, when it loaded without a problem: infra.yml's digest, each member
   * file's stat (as the member cache keys it) and the validator. Equal stamps, equal registries.
   */
  stamp?: string;
  /** each member file's stat as the member cache keys it, when every member validated (for the peer index) */
  memberStats?: ReadonlyMap<string, string>;
}

/**
 * The registry's parsed files. A member taken from the member cache (see member-cache below) was not read:
 * its file is read and parsed when something asks for it (an edit, a problem's line), and only if it is
 * still the file the cache entry describes.
 */
export class YamlFiles extends Map<string, YamlFile> {
  private readonly deferred = new Map<string, () => YamlFile>();

  defer(rel: string, load: () => YamlFile): void {
    this.deferred.set(rel, load);
  }

  override has(rel: string): boolean {
    return super.has(rel) || this.deferred.has(rel);
  }

  override get(rel: string): YamlFile | undefined {
    const file = super.get(rel);
    if (file) return file;
    const load = this.deferred.get(rel);
    if (!load) return undefined;
    const loaded = load();
    this.deferred.delete(rel);
    super.set(rel, loaded);
    return loaded;
  }

  copy(): YamlFiles {
    const out = new YamlFiles(super.entries());
    for (const [rel, load] of this.deferred) if (!super.has(rel)) out.defer(rel, load);
    return out;
  }
}

// ---------------------------------------------------------------- member cache

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
const cacheMinMembers = () => derivedStateMinMembers();

interface CacheEntry {
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
interface CrossChecked {
  config: string;
  members: Record<string, string>;
}

interface MemberCache {
  entries: Map<string, CacheEntry>;
  crossChecked?: CrossChecked;
}

/** Facts of members in memory: from their cache entry, or derived when first asked for. */
const factsByMember = new WeakMap<Member, MemberFacts>();
function factsOf(m: Member): MemberFacts {
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
const keysByMember = new WeakMap<Member, { texts: readonly string[]; packed: readonly unknown[] }>();

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

const statKey = (s: BigIntStats) => `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`;

/** Changes whenever the code that validates a member does (a rebuilt dist, an edited source). */
const validatorStamp = (() => {
  let stamp: string | undefined;
  return () => {
    if (stamp === undefined) {
      // this module's own file too: the whole CLI when it runs from the bundle (dist/bundle/infra.cjs)
      const parts = [import.meta.url, '../core/validate.js', '../core/ssh-key.js', '../core/ssh-key-blob.js', '../core/authorized-keys.js', '../core/key-options.js', '../core/key-summary.js', '../core/tokens.js'].map((rel) => {
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

async function readMemberCache(root: string): Promise<MemberCache> {
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

async function writeMemberCache(root: string, entries: Map<string, CacheEntry>, crossChecked?: CrossChecked): Promise<void> {
  // best effort (writeDerived): a read-only or full home only means the next command parses again
  await writeDerived(root, MEMBER_CACHE, JSON.stringify({ validator: validatorStamp(), members: Object.fromEntries(entries), crossChecked }));
}

interface RawLoad {
  config?: InfraConfig;
  members: Member[];
  /** handles whose member.yml is missing, unparsable or invalid */
  unreadable: string[];
  files: Map<string, YamlFile>;
  problems: Problem[];
  /** infra.yml's digest; each valid member's stat (cache key); the cache as read and as it should now be */
  configDigest?: string;
  stats: Map<string, string>;
  cache: MemberCache;
  fresh: Map<string, CacheEntry>;
  cacheStale: boolean;
  entryCount: number;
}

const memberRel = (handle: string) => `keys/${handle}/member.yml`;

/** infra.yml and a member.yml hold at most this many bytes: far above any real one, far below what exhausts memory. */
export const MAX_REGISTRY_FILE_BYTES = 1024 * 1024;

/**
 * A registry file's text, or undefined when it does not exist. The size is taken from the open file before
 * anything is read, so a huge file (or one growing while read) is refused, naming it, instead of being loaded.
 */
export async function readRegistryText(file: string, rel: string, limit = MAX_REGISTRY_FILE_BYTES): Promise<string | undefined> {
  let handle;
  try {
    handle = await fs.open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const { size } = await handle.stat();
    const tooLarge = (bytes: number) =>
      new InfraError(ExitCode.invalid, `${rel}: ${bytes > limit * 2 ? `is ${(bytes / 1048576).toFixed(1)} MB` : 'is too large'}; a registry file holds at most ${limit / 1048576} MB`, {
        hint: `see what filled it (\`${shellCommand(['ls', '-l', rel])}\`, \`${shellCommand(['git', 'log', '-p', '--', rel])}\`) and restore it, then run \`infra check\``,
        problems: [{ file: rel, field: '(file)', message: `larger than ${limit / 1048576} MB` }],
      });
    if (size > limit) throw tooLarge(size);
    // Room for one byte more than stat said: a file that grew since is read on only up to the limit.
    let buffer = Buffer.allocUnsafe(size + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > limit) throw tooLarge(length);
        buffer = Buffer.concat([buffer, Buffer.allocUnsafe(Math.min(buffer.length, limit + 1 - buffer.length))]);
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return decodeUtf8(buffer.subarray(0, length), rel);
  } finally {
    await handle.close();
  }
}

async function readRaw(root: string): Promise<RawLoad> {
  const files = new YamlFiles();
  const problems: Problem[] = [];
  // A symbolic link, or a file that is not UTF-8, is never read (docs/reference.md "Limits"): a member.yml linked to /etc/shadow must not have its lines
  // printed as field names. It is reported by file name only, and the file counts as unreadable.
  const linked = new Set<string>();
  const reportLink = (rel: string) => {
    linked.add(rel);
    problems.push({ file: rel, field: '(file)', message: 'is a symbolic link: infra does not follow links in the registry; replace it with the file itself' });
  };
  const read = async (rel: string): Promise<string | undefined> => {
    try {
      if ((await fs.lstat(path.join(root, rel))).isSymbolicLink()) {
        reportLink(rel);
        return undefined;
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      return await readRegistryText(path.join(root, rel), rel);
    } catch (e) {
      // not UTF-8: one problem with its line among the others (check lists them all); the file is not read
      if (!(e instanceof InfraError) || !e.problems.some((p) => p.message.startsWith('is not valid UTF-8'))) throw e;
      problems.push(...e.problems);
      linked.add(rel);
      return undefined;
    }
  };
  let configDigest: string | undefined;
  const load = async (rel: string) => {
    const text = await read(rel);
    if (text === undefined) return undefined;
    if (rel === CONFIG_FILE) configDigest = digest(text);
    const parsed = parseYamlFile(rel, text);
    files.set(rel, parsed.file);
    problems.push(...parsed.problems);
    return parsed.problems.length ? undefined : parsed.file;
  };

  const configFile = await load(CONFIG_FILE);
  let config: InfraConfig | undefined;
  if (configFile) {
    const r = validateConfig(configFile.doc.toJS(), CONFIG_FILE, (p) => lineOf(configFile, p));
    problems.push(...r.problems);
    config = r.config;
  }

  let entries: string[] = [];
  try {
    const dirents = await fs.readdir(path.join(root, 'keys'), { withFileTypes: true });
    for (const d of dirents) if (d.isSymbolicLink() && !d.name.startsWith('.')) reportLink(`keys/${d.name}`);
    entries = dirents.filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  entries = entries.filter((h) => !h.startsWith('.')).sort();
  // Reads overlap (a registry can hold thousands of members); parsing and validation stay in order.
  // A member whose file is unchanged since it was cached is taken from the cache without reading the file.
  const cache = await readMemberCache(root);
  const texts = await mapLimit(entries, 64, async (handle) => {
    const rel = memberRel(handle);
    // Synchronous on purpose: at 10,000 members these two calls are most of a load from the cache, and a
    // promise per call (an Error object per missing pgp.asc) costs several times the system call.
    const fileStat = lstatSync(path.join(root, rel), { bigint: true, throwIfNoEntry: false }); // lstat: a link never matches a cached file
    let stat = fileStat ? statKey(fileStat) : undefined;
    // lstat: a pgp.asc that is a link is refused (reported below), never read as the member's key
    const pgpStat = lstatSync(path.join(root, `keys/${handle}/pgp.asc`), { throwIfNoEntry: false });
    const pgpLink = pgpStat?.isSymbolicLink() === true;
    const hasPgp = pgpStat !== undefined && !pgpLink;
    // what the member's validation depends on: its file, and whether it has an OpenPGP key
    if (stat !== undefined) stat = `${stat}|pgp:${hasPgp ? 1 : 0}`;
    const cached = stat !== undefined ? cache.entries.get(handle) : undefined;
    if (cached && cached.stat === stat) return { stat, hasPgp, pgpLink, cached: cached.member };
    // stat before read: a write in between changes the stat, so the entry made from this text is never reused wrongly
    return { stat, hasPgp, pgpLink, text: stat === undefined ? undefined : await read(rel) };
  });
  const members: Member[] = [];
  const fresh = new Map<string, CacheEntry>();
  const stats = new Map<string, string>();
  let parsedAny = false;
  entries.forEach((handle, i) => {
    const rel = memberRel(handle);
    const { text, hasPgp, stat, cached } = texts[i];
    if (texts[i].pgpLink) reportLink(`keys/${handle}/pgp.asc`);
    if (cached) {
      const member = { ...cached, handle, has_pgp: hasPgp };
      files.defer(rel, () => {
        const full = path.join(root, rel);
        // Read only if it is still the file the entry describes; otherwise the command must start again.
        const fileStat = stat!.slice(0, stat!.lastIndexOf('|'));
        const before = statKey(statSync(full, { bigint: true }));
        const body = decodeUtf8(readFileSync(full), rel);
        if (before !== fileStat || statKey(statSync(full, { bigint: true })) !== fileStat)
          throw new InfraError(ExitCode.invalid, `${rel} changed on disk while infra was working on it; nothing was written`, { hint: 'run the command again' });
        return parseYamlFile(rel, body).file;
      });
      members.push(member);
      const entry = cache.entries.get(handle)!;
      if (entry.facts) factsByMember.set(member, entry.facts);
      // the texts as the entry holds them, before anything may edit the member in memory
      if (Array.isArray(entry.keys) && Array.isArray(cached.ssh_keys)) keysByMember.set(member, { texts: cached.ssh_keys.map((k) => k.key), packed: entry.keys });
      fresh.set(handle, entry);
      stats.set(handle, stat!);
      return;
    }
    if (text === undefined && linked.has(rel)) return;
    if (text === undefined) {
      problems.push({ file: `keys/${handle}`, field: '(folder)', message: `has no member.yml: add it with \`infra members add ${shellQuote(handle)}\` or remove the folder` });
      return;
    }
    parsedAny = true;
    const parsed = parseYamlFile(rel, text);
    files.set(rel, parsed.file);
    problems.push(...parsed.problems);
    if (parsed.problems.length) return;
    const r = validateMember(handle, parsed.file.doc.toJS(), rel, (p) => lineOf(parsed.file, p), hasPgp);
    problems.push(...r.problems);
    if (r.member) {
      members.push(r.member);
      const texts = r.member.ssh_keys.map((k) => k.key);
      const packed = r.keys?.length === texts.length ? texts.map((text, i) => packSummary(text, r.keys![i])) : undefined;
      if (packed) keysByMember.set(r.member, { texts, packed });
      if (!r.problems.length && stat !== undefined) {
        fresh.set(handle, { stat, member: r.member, facts: factsOf(r.member), ...(packed ? { keys: packed } : {}) });
        stats.set(handle, stat);
      }
    }
  });
  const ok = new Set(members.map((m) => m.handle));
  const linkedMembers = [...linked].map((rel) => /^keys\/([^/]+)$/.exec(rel)?.[1]).filter((h): h is string => h !== undefined);
  return {
    config,
    members,
    unreadable: [...entries.filter((h) => !ok.has(h)), ...linkedMembers].sort(),
    files,
    problems,
    configDigest,
    stats,
    cache,
    fresh,
    cacheStale: parsedAny || fresh.size !== cache.entries.size,
    entryCount: entries.length,
  };
}

function locatedFor(files: Map<string, YamlFile>): Located {
  return {
    configFile: CONFIG_FILE,
    configLine: (p) => (files.get(CONFIG_FILE) ? lineOf(files.get(CONFIG_FILE)!, p) : undefined),
    memberFile: memberRel,
    memberLine: (h, p) => (files.get(memberRel(h)) ? lineOf(files.get(memberRel(h))!, p) : undefined),
  };
}

/**
 * Everything wrong with the registry, all at once (for `infra check`). `loaded` is there when nothing is
 * wrong; `partial` whenever infra.yml itself is valid: the members that validated, so that cross-file,
 * policy and inventory checks still run while another file has a syntax error.
 */
export async function inspectRegistry(root: string): Promise<{ loaded?: Loaded; partial?: Loaded; problems: Problem[]; betweenFilesOnly?: boolean }> {
  const raw = await readRaw(root);
  if (!raw.config && !raw.files.has(CONFIG_FILE) && !raw.problems.some((p) => p.file === CONFIG_FILE))
    raw.problems.unshift({ file: CONFIG_FILE, field: '(file)', message: 'is missing' });
  if (!raw.config) return { problems: raw.problems };
  const located = locatedFor(raw.files);
  const valid = new Set(raw.members.map((m) => m.handle));
  const unreadable = new Set(raw.unreadable.filter((h) => !valid.has(h)));
  const partial: Loaded = { registry: { root, config: raw.config, members: raw.members }, files: raw.files, located };
  const cross = crossCheckWithCache(raw, raw.config, located, unreadable);
  const problems = [...raw.problems, ...cross.problems];
  const minMembers = cacheMinMembers();
  if (minMembers >= 0 && raw.entryCount >= minMembers && (raw.cacheStale || cross.stampChanged)) {
    for (const [handle, entry] of raw.fresh) if (!entry.facts) raw.fresh.set(handle, { ...entry, facts: factsOf(raw.members.find((m) => m.handle === handle)!) });
    await writeMemberCache(root, raw.fresh, cross.crossChecked);
  }
  // Every file is valid on its own; what is wrong lies between them (a key under two members, an address held twice).
  const betweenFilesOnly = raw.problems.length === 0 && unreadable.size === 0;
  if (problems.length) return { partial, problems, betweenFilesOnly };
  const stamp = raw.configDigest === undefined || raw.stats.size !== raw.members.length ? undefined : registryStamp(raw.configDigest, raw.stats);
  return { loaded: { ...partial, stamp, memberStats: stamp === undefined ? undefined : raw.stats }, partial, problems };
}

/**
 * The cross-file problems of a loaded registry. When the cache says the same infra.yml with (mostly) the
 * same member files was found clean, only the members that changed since are checked against the rest;
 * on any doubt (a problem found, another infra.yml, a member file with problems) the full check runs.
 */
function crossCheckWithCache(raw: RawLoad, config: InfraConfig, located: Located, unreadable: ReadonlySet<string>): { problems: Problem[]; crossChecked?: CrossChecked; stampChanged: boolean } {
  const before = raw.cache.crossChecked;
  const whole = raw.problems.length === 0 && unreadable.size === 0 && raw.configDigest !== undefined && raw.stats.size === raw.members.length;
  let problems: Problem[] | undefined;
  if (whole && before && before.config === raw.configDigest) {
    const changed = new Set(raw.members.filter((m) => !Object.hasOwn(before.members, m.handle) || before.members[m.handle] !== raw.stats.get(m.handle)).map((m) => m.handle));
    const removed = Object.keys(before.members).filter((h) => !raw.stats.has(h)).length;
    if (changed.size === 0 && removed === 0) return { problems: [], crossChecked: before, stampChanged: false };
    if (crossCheckClean(config, raw.members, changed, factsOf)) problems = [];
  }
  problems ??= crossCheck(config, raw.members, located, unreadable);
  if (!whole || problems.length) return { problems, stampChanged: before !== undefined };
  return { problems, crossChecked: { config: raw.configDigest!, members: Object.fromEntries(raw.stats) }, stampChanged: true };
}

function registryStamp(configDigest: string, stats: Map<string, string>): string {
  const hash = createHash('sha256').update(`${validatorStamp()}\n${configDigest}\n`);
  for (const handle of [...stats.keys()].sort()) hash.update(`${handle}=${stats.get(handle)}\n`);
  return hash.digest('hex');
}

/** Whether derived state (the member cache, render's stamp) is kept for a registry of this many members. */
export function keepsDerivedState(memberCount: number): boolean {
  const min = cacheMinMembers();
  return min >= 0 && memberCount >= min;
}

/**
 * infra.yml alone, checked as a full load checks it: for commands that need only the org's settings (the
 * SSH policy of `keys check`) and should neither pay for nor fail on the member files.
 */
export async function loadConfig(root: string): Promise<InfraConfig> {
  const file = path.join(root, CONFIG_FILE);
  if ((await fs.lstat(file)).isSymbolicLink())
    throw invalidRegistry([{ file: CONFIG_FILE, field: '(file)', message: 'is a symbolic link: infra does not follow links in the registry; replace it with the file itself' }]);
  const text = (await readRegistryText(file, CONFIG_FILE)) ?? '';
  const parsed = parseYamlFile(CONFIG_FILE, text);
  if (parsed.problems.length) throw invalidRegistry(parsed.problems);
  const { config, problems } = validateConfig(parsed.file.doc.toJS(), CONFIG_FILE, (p) => lineOf(parsed.file, p));
  if (!config || problems.length) throw invalidRegistry(problems);
  return config;
}

export async function loadRegistry(root: string): Promise<Loaded> {
  const { loaded, problems } = await inspectRegistry(root);
  if (!loaded) throw invalidRegistry(problems);
  return loaded;
}

// ---------------------------------------------------------------- lock

interface LockInfo {
  pid: number;
  host: string;
  command: string;
  started: string;
}

export const LOCK_WAIT_ENV = 'INFRA_LOCK_WAIT_MS';
const DEFAULT_LOCK_WAIT_MS = 10_000;
/**
 * A lock file that is empty or not a lock this long after it last changed was left by a crash: infra writes
 * a lock's content before the file appears, so a held lock is never empty. (Older infra wrote it after.)
 */
export const ABANDONED_LOCK_MS = 5_000;

/** How long a writer waits for the lock: INFRA_LOCK_WAIT_MS (milliseconds), 10 s when unset. */
export function lockWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[LOCK_WAIT_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_LOCK_WAIT_MS;
  if (!/^\d{1,10}$/.test(raw.trim()))
    throw new InfraError(ExitCode.usage, `${LOCK_WAIT_ENV}=${JSON.stringify(raw.slice(0, 40))} is not a number of milliseconds`, {
      hint: `set it to a whole number of milliseconds (e.g. export ${LOCK_WAIT_ENV}=30000), or unset it to wait the default 10 s`,
    });
  return Number(raw.trim());
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo> | null;
    if (v && typeof v === 'object' && Number.isSafeInteger(v.pid) && (v.pid as number) > 0 && typeof v.host === 'string') return v as LockInfo;
  } catch {
    // not JSON: a crashed writer's leftovers
  }
  return undefined;
}

/** Names of infra's own temporary files: `.<name>.<pid>.<8 hex>.tmp` (writes), `<lock>.<pid>.<8 hex>.stale` (lock take-over). */
const TEMP_NAME_RE = /^\..*\.(\d+)\.[0-9a-f]{8}\.(tmp|stale)$/;
const tempName = (file: string, suffix: 'tmp' | 'stale') => path.join(path.dirname(file), `${path.basename(file).startsWith('.') ? '' : '.'}${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.${suffix}`);

/**
 * Create the lock holding `content`, or return false when it exists. The content goes to a temporary file
 * first, which is then hard-linked into place (atomic, and fails when the lock exists): another process never
 * sees a lock file that is empty or half written, so an empty one can only be a crash's leftover.
 */
async function createLock(lockPath: string, content: string): Promise<boolean> {
  const tmp = tempName(lockPath, 'tmp');
  await fs.writeFile(tmp, content, { flag: 'wx', mode: 0o644 });
  try {
    await fs.link(tmp, lockPath);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
    // A file system without hard links: create exclusively and write (the short empty moment is covered by ABANDONED_LOCK_MS).
    try {
      await fs.writeFile(lockPath, content, { flag: 'wx', mode: 0o644 });
      return true;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e2;
    }
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/**
 * Remove an abandoned lock (`staleText` is what it held when judged) without racing another process doing the
 * same: the lock is renamed away (atomic, so only one process gets that file) and put back if it holds
 * something else, i.e. a fresh lock someone took in the meantime.
 */
async function breakStaleLock(lockPath: string, staleText: string): Promise<void> {
  const aside = tempName(lockPath, 'stale');
  try {
    await fs.rename(lockPath, aside);
  } catch {
    return; // someone else moved it first
  }
  try {
    const content = await fs.readFile(aside, 'utf8').catch(() => staleText);
    if (content !== staleText) await fs.link(aside, lockPath).catch(() => undefined);
  } finally {
    await fs.rm(aside, { force: true });
  }
}

/**
 * The locks one command takes in turn (a token rotation records each step under its own lock). Once it has
 * removed killed writers' temporary files, its later locks need not walk the whole tree again: a writer killed
 * while holding the lock leaves the lock behind, and whoever takes that lock over walks it. (Temporary files
 * left outside the lock are removed by the next command.)
 */
export interface LockSession {
  tempsRemoved: boolean;
}

/**
 * One writer per registry. A lock left by a dead process on this host, or left empty or unreadable by a crash
 * (older than ABANDONED_LOCK_MS), is taken over. A live holder is waited for (up to INFRA_LOCK_WAIT_MS,
 * default 10 s), then refused. Once held, temporary files that killed writers left behind are removed (see
 * LockSession for when a later lock of the same command skips that).
 */
export async function withLock<T>(root: string, command: string, fn: (cleanedTemps: string[]) => Promise<T>, waitMs?: number, session?: LockSession): Promise<T> {
  const wait = waitMs ?? lockWaitMs();
  if (!Number.isFinite(wait) || wait < 0) throw new Error(`withLock: waitMs must be a finite number >= 0, not ${wait}`);
  const lockPath = path.join(root, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, host: hostname(), command, started: new Date().toISOString() };
  const deadline = Date.now() + wait;
  let tookOver = false;
  for (;;) {
    if (await createLock(lockPath, JSON.stringify(mine) + '\n')) break;
    let text: string;
    let changed: number;
    try {
      text = await fs.readFile(lockPath, 'utf8');
      changed = (await fs.stat(lockPath)).mtimeMs;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released just now: try again
      throw e;
    }
    const holder = parseLock(text);
    const abandoned = holder ? holder.host === mine.host && !pidAlive(holder.pid) : Date.now() - changed > ABANDONED_LOCK_MS;
    if (abandoned) {
      await breakStaleLock(lockPath, text);
      tookOver = true;
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder
        ? `process ${holder.pid} on ${holder.host} (\`infra ${holder.command}\`, since ${holder.started})`
        : `another process (the lock file is ${text.trim() ? 'not a lock infra wrote' : 'empty'}; it is taken over ${ABANDONED_LOCK_MS / 1000} s after its last change)`;
      throw new InfraError(ExitCode.invalid, `the registry is locked by ${who}: ${lockPath}`, {
        hint: `wait for it to finish and run the command again; if that process is gone, remove the lock: rm ${shellQuote(lockPath)}`,
      });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    await testPausePoint('locked', lockPath);
    const cleaned = session?.tempsRemoved && !tookOver ? [] : await removeAbandonedTemps(root);
    if (session) session.tempsRemoved = true;
    return await fn(cleaned);
  } finally {
    await fs.rm(lockPath, { force: true });
  }
}

/** A temporary file older than this is abandoned even when its writer's pid now belongs to a live process. */
const ABANDONED_TEMP_MS = 60 * 60 * 1000;

/**
 * Remove the temporary files of writers that were killed (their pid is gone, or the file is an hour old): a
 * killed render's temporary file holds authorized keys and must not be picked up by `git add -A`. Only infra's
 * own temp names are touched; links are not followed; .git and node_modules are skipped.
 */
export async function removeAbandonedTemps(root: string, maxDepth = 8): Promise<string[]> {
  const removed: string[] = [];
  // Folders are listed synchronously: a registry of thousands of members is thousands of folders, and a
  // promise per listing costs several times the system call (this runs on every edit).
  const found: string[] = [];
  const list = (rel: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name !== '.git' && e.name !== 'node_modules' && depth < maxDepth) list(r, depth + 1);
        continue;
      }
      const m = e.isFile() ? TEMP_NAME_RE.exec(e.name) : null;
      if (m && Number(m[1]) !== process.pid) found.push(r);
    }
  };
  list('', 0);
  for (const r of found) {
    const pid = Number(TEMP_NAME_RE.exec(path.basename(r))![1]);
    const st = await fs.stat(path.join(root, r)).catch(() => undefined);
    if (!st) continue;
    if (pidAlive(pid) && Date.now() - st.mtimeMs < ABANDONED_TEMP_MS) continue;
    await fs.rm(path.join(root, r), { force: true });
    removed.push(r);
  }
  return removed.sort();
}

/**
 * Crash tests stop a real infra process at a named point and SIGKILL it there: INFRA_TEST_PAUSE_AT=POINT
 * (or POINT#N for its N-th time) makes the process print `infra-test-paused-at POINT DETAIL` on stderr and wait
 * forever. Points: `locked` (lock held), `before-rename` (temporary file written and synced), `after-rename`.
 * This is the only place that reads the variable.
 */
const pauseCounts = new Map<string, number>();
async function testPausePoint(point: string, detail: string): Promise<void> {
  const wanted = process.env.INFRA_TEST_PAUSE_AT;
  if (!wanted) return;
  const [name, nth = '1'] = wanted.split('#');
  if (name !== point) return;
  const seen = (pauseCounts.get(point) ?? 0) + 1;
  pauseCounts.set(point, seen);
  if (String(seen) !== nth) return;
  process.stderr.write(`infra-test-paused-at ${point} ${detail}\n`);
  await new Promise<never>(() => setInterval(() => undefined, 1 << 30));
}

// ---------------------------------------------------------------- writes

/** Write a file atomically: temporary file in the same folder, fsync, rename. Keeps an existing file's mode. */
export async function writeFileAtomic(file: string, content: string | Uint8Array, mode?: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  let fileMode = mode;
  if (fileMode === undefined) {
    try {
      fileMode = (await fs.stat(file)).mode & 0o777;
    } catch {
      fileMode = 0o644;
    }
  }
  const tmp = tempName(file, 'tmp');
  const handle = await fs.open(tmp, 'wx', fileMode);
  // A failure at any step (a full disk) leaves no temporary copy behind: it may hold key lists.
  try {
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.chmod(tmp, fileMode);
    await testPausePoint('before-rename', file);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await testPausePoint('after-rename', file);
}

/** A problem without its line, which an edit above it may shift. */
const problemKey = (p: Problem) => `${p.file}\0${p.field}\0${p.message}`;

const digest = (text: string | undefined) => (text === undefined ? 'absent' : createHash('sha256').update(text).digest('hex'));

/**
 * An edit of the registry. Commands change YAML documents (or stage whole files), then `commit`
 * re-validates the result as a whole and writes every changed file, or nothing.
 */
export class Transaction {
  private readonly staged = new Map<string, { content: string; mode?: number }>();
  private readonly removed = new Set<string>();
  private readonly editors = new Map<string, YamlSourceEditor>();
  /** The members as the last validated result would have them (each changed one as validated from its new text). */
  protected resultMembers?: Map<string, Member>;

  constructor(
    readonly root: string,
    readonly loaded: Loaded,
    /** Problems the registry already had (between files only): the result may keep them, not add to them. */
    protected readonly existing: readonly Problem[] = [],
  ) {}

  get registry(): Registry {
    return this.loaded.registry;
  }

  /**
   * The source of a registry YAML file for editing in place: only the bytes an edit must change change
   * (see YamlSourceEditor). `rel` must be a file that was loaded.
   */
  edit(rel: string): YamlSourceEditor {
    let editor = this.editors.get(rel);
    if (!editor) {
      const file = this.loaded.files.get(rel);
      if (!file) throw new Error(`${rel} was not loaded`);
      editor = new YamlSourceEditor(file.text, file.doc); // the loaded document: not parsed again for the first edit
      this.editors.set(rel, editor);
    }
    return editor;
  }

  /** The member.yml of `handle` for editing; a handle with no file is the usual "no member" error. */
  editMember(handle: string): YamlSourceEditor {
    if (!this.loaded.files.has(memberRel(handle))) throw noMember(handle, this.registry.members.map((m) => m.handle));
    return this.edit(memberRel(handle));
  }

  /** Stage a whole new file (relative path), e.g. a new member.yml or a pgp.asc. */
  writeFile(rel: string, content: string, mode?: number): void {
    this.staged.set(rel, { content, mode });
  }

  removeFile(rel: string): void {
    this.removed.add(rel);
  }

  protected removedAny(): boolean {
    return this.removed.size > 0;
  }

  /** The files this transaction removes (relative paths). */
  protected removedFiles(): string[] {
    return [...this.removed];
  }

  private async assertUnchanged(rel: string): Promise<void> {
    const before = this.loaded.files.get(rel)?.text;
    let now: string | undefined;
    try {
      now = (await fs.readFile(path.join(this.root, rel))).toString('latin1');
    } catch {
      now = undefined;
    }
    // compared as bytes: a byte that is not UTF-8 written meanwhile must not decode to the text we read
    if (digest(now) !== digest(before === undefined ? undefined : Buffer.from(before, 'utf8').toString('latin1')))
      throw new InfraError(ExitCode.invalid, `${rel} changed on disk while infra was working on it; nothing was written`, {
        hint: 'run the command again',
      });
  }

  /** The new content of every changed file. */
  pending(): Map<string, { content: string; mode?: number }> {
    const out = new Map(this.staged);
    for (const [rel, editor] of this.editors) if (editor.text !== this.loaded.files.get(rel)!.text) out.set(rel, { content: editor.text });
    return out;
  }

  /**
   * Problems in the registry as it would be after this transaction. What was loaded already validated,
   * so only the changed files are parsed and validated again, then the cross-file checks run over the result.
   */
  protected async validateResult(pending: Map<string, { content: string }>): Promise<Problem[]> {
    const problems: Problem[] = [];
    const files = this.loaded.files instanceof YamlFiles ? this.loaded.files.copy() : new Map(this.loaded.files);
    let config = this.loaded.registry.config;
    const members = new Map(this.loaded.registry.members.map((m) => [m.handle, m]));
    for (const rel of this.removed) {
      const m = /^keys\/([^/]+)\/member\.yml$/.exec(rel);
      if (m) members.delete(m[1]);
    }
    for (const [rel, { content }] of pending) {
      if (!rel.endsWith('.yml')) continue;
      const parsed = parseYamlFile(rel, content);
      files.set(rel, parsed.file);
      problems.push(...parsed.problems);
      if (parsed.problems.length) continue;
      const locate = (p: Path) => lineOf(parsed.file, p);
      if (rel === CONFIG_FILE) {
        const r = validateConfig(parsed.file.doc.toJS(), rel, locate);
        problems.push(...r.problems);
        if (r.config) config = r.config;
        continue;
      }
      const handle = /^keys\/([^/]+)\/member\.yml$/.exec(rel)?.[1];
      if (!handle) continue;
      const pgp = `keys/${handle}/pgp.asc`;
      const hasPgp = pending.has(pgp) || (!this.removed.has(pgp) && (await exists(path.join(this.root, pgp))));
      const r = validateMember(handle, parsed.file.doc.toJS(), rel, locate, hasPgp);
      problems.push(...r.problems);
      if (r.member) members.set(handle, r.member);
    }
    if (problems.length) return problems;
    this.resultMembers = members;
    return this.crossFileProblems(config, members, files, pending);
  }

  /** The cross-file problems of the result, whose files are each valid on their own. */
  protected crossFileProblems(config: InfraConfig, members: Map<string, Member>, files: Map<string, YamlFile>, pending: Map<string, { content: string }>): Problem[] {
    const sorted = [...members.values()].sort((a, b) => (a.handle < b.handle ? -1 : 1));
    // The loaded registry had no cross-file problem (none carried in `existing`) and infra.yml is the same:
    // only the changed members can be in one, so they alone are compared with the rest.
    if (this.existing.length === 0 && config === this.loaded.registry.config) {
      const changed = new Set([...pending.keys()].map((rel) => /^keys\/([^/]+)\/member\.yml$/.exec(rel)?.[1]).filter((h): h is string => h !== undefined));
      if (crossCheckClean(config, sorted, changed, factsOf)) return [];
    }
    return crossCheck(config, sorted, locatedFor(files));
  }

  async commit(): Promise<string[]> {
    const pending = this.pending();
    if (pending.size === 0 && this.removed.size === 0) return [];
    // The result must be a valid registry: validate the new texts before anything touches the disk.
    const known = new Set(this.existing.map(problemKey));
    const problems = (await this.validateResult(pending)).filter((p) => !known.has(problemKey(p)));
    if (problems.length) throw invalidRegistry(problems, 'nothing was written');
    for (const rel of [...pending.keys(), ...this.removed]) if (this.loaded.files.has(rel)) await this.assertUnchanged(rel);
    for (const [rel, { content, mode }] of pending) await writeFileAtomic(path.join(this.root, rel), content, mode);
    for (const rel of this.removed) await fs.rm(path.join(this.root, rel), { force: true });
    return [...pending.keys(), ...this.removed].sort();
  }
}

/** Lock, load fresh, let `fn` edit, commit. The registry is re-read under the lock so no edit is lost. */
export async function mutateRegistry<T>(root: string, command: string, fn: (tx: Transaction) => Promise<T> | T): Promise<{ result: T; written: string[] }> {
  return withLock(root, command, async () => {
    // An edit may start on a registry whose every file is valid but whose files disagree (one key under two
    // members, one address held twice): removing one of them is how that gets fixed. It must add no problem.
    const { loaded, partial, problems, betweenFilesOnly } = await inspectRegistry(root);
    const base = loaded ?? (betweenFilesOnly ? partial : undefined);
    if (!base) throw invalidRegistry(problems);
    const tx = new Transaction(root, base, problems);
    const result = await fn(tx);
    const written = await tx.commit();
    return { result, written };
  });
}

/**
 * The registry as services see it: found once (--dir > INFRA_DIR > nearest infra.yml upward), then
 * loaded, inspected or edited under the lock.
 */
export class RegistryStore {
  private found?: Promise<string>;
  /** The locks of this command's one-member edits (see LockSession). */
  private readonly memberEdits: LockSession = { tempsRemoved: false };

  constructor(private readonly find: FindOptions) {}

  root(): Promise<string> {
    this.found ??= findRoot(this.find);
    return this.found;
  }

  async load(): Promise<Loaded> {
    return loadRegistry(await this.root());
  }

  async loadConfig(): Promise<InfraConfig> {
    return loadConfig(await this.root());
  }

  async inspect(): Promise<{ loaded?: Loaded; partial?: Loaded; problems: Problem[] }> {
    return inspectRegistry(await this.root());
  }

  /** Lock, load fresh, let `fn` edit, commit: re-read under the lock so no edit is lost. */
  async mutate<T>(command: string, fn: (tx: Transaction) => Promise<T> | T): Promise<{ result: T; written: string[] }> {
    return mutateRegistry(await this.root(), command, fn);
  }

  /** Lock, load, let `fn` edit the one member `handle` (see mutateMember: `fn` may run twice). */
  async mutateMember<T>(handle: string, command: string, fn: (tx: Transaction | MemberTransaction) => Promise<T> | T): Promise<{ result: T; written: string[] }> {
    return mutateMember(await this.root(), handle, command, fn, this.memberEdits);
  }

  /** `fn` gets the temporary files of killed writers that taking the lock removed (relative paths). */
  async withLock<T>(command: string, fn: (cleanedTemps: string[]) => Promise<T>): Promise<T> {
    return withLock(await this.root(), command, fn);
  }
}

export { memberRel };

// ---------------------------------------------------------------- peer index (edits of one member)

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
function shardOf(handle: string): number {
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
async function writePeerIndex(root: string, config: string, shards: PeerIndex['shards'], previous?: PeerIndexHead, changed?: ReadonlySet<number>): Promise<void> {
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
function writtenMemberStat(root: string, handle: string, text: string): string | undefined {
  const full = path.join(root, memberRel(handle));
  const before = lstatSync(full, { bigint: true, throwIfNoEntry: false });
  if (!before || !before.isFile() || readFileSync(full, 'utf8') !== text) return undefined;
  return `${statKey(before)}|pgp:${existsSync(path.join(root, `keys/${handle}/pgp.asc`)) ? 1 : 0}`;
}

/** The registry with one member parsed and every other one known only from the peer index. */
interface FocusedLoad {
  loaded: Loaded;
  member: Member;
  index: PeerIndex;
  others: OtherMembers;
}

/** The focused load of `handle`, or undefined when the peer index does not describe the registry as it is exactly. */
async function loadFocused(root: string, handle: string): Promise<FocusedLoad | undefined> {
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
    if (d.name === handle ? want !== `${statKey(fileStat)}|pgp:${existsSync(path.join(root, `keys/${d.name}/pgp.asc`)) ? 1 : 0}` : want.slice(0, want.lastIndexOf('|')) !== statKey(fileStat)) return undefined;
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
  if (text === undefined || !after || stat.slice(0, stat.lastIndexOf('|')) !== statKey(after)) return undefined;
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
    loaded: { registry: { root, config: config.config, members: [r.member] }, files, located: locatedFor(files) },
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

  /** What every other member holds (from the peer index, each entry checked against its file's stat). */
  get others(): OtherMembers {
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

/** Build the peer index from a whole-registry edit's result, when that result was found clean. */
async function rebuildPeerIndex(root: string, loaded: Loaded, handle: string, resultMembers: ReadonlyMap<string, Member> | undefined, newText: string | undefined): Promise<void> {
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

/**
 * Lock, load, let `fn` edit the member `handle` (and write files focusedExtraFile allows), commit. With a peer index that describes
 * the registry exactly, only infra.yml and that member are parsed and `tx` is a MemberTransaction; otherwise,
 * or on any doubt at commit, `fn` runs (again) on a whole-registry Transaction, after which the index is
 * rebuilt. `fn` may therefore run twice: it must only plan and edit `tx`.
 */
export async function mutateMember<T>(
  root: string,
  handle: string,
  command: string,
  fn: (tx: Transaction | MemberTransaction) => Promise<T> | T,
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
