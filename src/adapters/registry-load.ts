/**
 * The working-tree registry load: every file parsed (or taken from the member cache while its file is
 * unchanged), validated on its own, then checked as a whole.
 */
import { shellQuote } from '../lib/shell-quote.js';
import { createHash } from 'node:crypto';
import { lstatSync, promises as fs, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, InfraError, invalidRegistry, type Problem } from '../lib/errors.js';
import type { InfraConfig, Member, Registry } from '../core/types.js';
import { packSummary } from '../core/key-summary.js';
import { crossCheck, crossCheckClean, memberFacts, validateConfig, validateMember, type Located, type MemberFacts } from '../core/validate.js';
import { decodeUtf8 } from '../lib/utf8.js';
import { mapLimit } from '../lib/map-limit.js';
import { CONFIG_FILE, memberRel } from './registry-root.js';
import { lineOf, parseYamlFile, readRegistryText, type YamlFile } from './yaml-load.js';
import { digest, fileStatPart, memberStatKey, statKey } from './file-stamps.js';
import { cacheMinMembers, readMemberCache, validatorStamp, writeMemberCache, type CacheEntry, type CrossChecked, type MemberCache } from './member-cache.js';
import { factsFrom, type ParsedKeys } from './member-facts.js';

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
  /**
   * By handle, what the cross-file check compares for the members as loaded (from their cache entries, or
   * derived when parsed); a member missing here has its facts derived when asked (factsFrom).
   */
  memberFacts: ReadonlyMap<string, MemberFacts>;
  /** By handle, each member's keys as its validation parsed them (knownKeys), when they were kept. */
  memberKeys: ReadonlyMap<string, ParsedKeys>;
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
  memberFacts: Map<string, MemberFacts>;
  memberKeys: Map<string, ParsedKeys>;
  entryCount: number;
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
    // lstat: a pgp.asc that is a link is refused (reported below), never read as the member's key
    const pgpStat = lstatSync(path.join(root, `keys/${handle}/pgp.asc`), { throwIfNoEntry: false });
    const pgpLink = pgpStat?.isSymbolicLink() === true;
    const hasPgp = pgpStat !== undefined && !pgpLink;
    // what the member's validation depends on: its file, and whether it has an OpenPGP key
    const stat = fileStat ? memberStatKey(fileStat, hasPgp) : undefined;
    const cached = stat !== undefined ? cache.entries.get(handle) : undefined;
    if (cached && cached.stat === stat) return { stat, hasPgp, pgpLink, cached: cached.member };
    // stat before read: a write in between changes the stat, so the entry made from this text is never reused wrongly
    return { stat, hasPgp, pgpLink, text: stat === undefined ? undefined : await read(rel) };
  });
  const members: Member[] = [];
  const fresh = new Map<string, CacheEntry>();
  const stats = new Map<string, string>();
  const memberFactsOf = new Map<string, MemberFacts>();
  const memberKeys = new Map<string, ParsedKeys>();
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
        const fileStat = fileStatPart(stat!);
        const before = statKey(statSync(full, { bigint: true }));
        const body = decodeUtf8(readFileSync(full), rel);
        if (before !== fileStat || statKey(statSync(full, { bigint: true })) !== fileStat)
          throw new InfraError(ExitCode.invalid, `${rel} changed on disk while infra was working on it; nothing was written`, { hint: 'run the command again' });
        return parseYamlFile(rel, body).file;
      });
      members.push(member);
      const entry = cache.entries.get(handle)!;
      if (entry.facts) memberFactsOf.set(handle, entry.facts);
      // the texts as the entry holds them, before anything may edit the member in memory
      if (Array.isArray(entry.keys) && Array.isArray(cached.ssh_keys)) memberKeys.set(handle, { texts: cached.ssh_keys.map((k) => k.key), packed: entry.keys });
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
      if (packed) memberKeys.set(handle, { texts, packed });
      if (!r.problems.length && stat !== undefined) {
        const facts = memberFacts(r.member);
        memberFactsOf.set(handle, facts);
        fresh.set(handle, { stat, member: r.member, facts, ...(packed ? { keys: packed } : {}) });
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
    memberFacts: memberFactsOf,
    memberKeys,
  };
}

export function locatedFor(files: Map<string, YamlFile>): Located {
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
  const partial: Loaded = { registry: { root, config: raw.config, members: raw.members }, files: raw.files, located, memberFacts: raw.memberFacts, memberKeys: raw.memberKeys };
  const cross = crossCheckWithCache(raw, raw.config, located, unreadable);
  const problems = [...raw.problems, ...cross.problems];
  const minMembers = cacheMinMembers();
  if (minMembers >= 0 && raw.entryCount >= minMembers && (raw.cacheStale || cross.stampChanged)) {
    const factsOf = factsFrom(raw.memberFacts);
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
    if (crossCheckClean(config, raw.members, changed, factsFrom(raw.memberFacts))) problems = [];
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
