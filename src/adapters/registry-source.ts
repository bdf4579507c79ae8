/**
 * One registry snapshot from a source of files: a git revision (read through one `git cat-file --batch`
 * process) or memory (service tests). It is parsed and validated by the same functions as the working-tree
 * load (parseYamlFile and lineOf from the store, validateConfig, validateMember and crossCheck from the core),
 * without the working tree's caches: a revision never changes, so what was validated once for a blob is
 * kept by its object id (SnapshotMemo) across the many revisions `infra verify` reads.
 */
import { createHash } from 'node:crypto';
import type { InfraConfig, Member } from '../core/types.js';
import { crossCheck, validateConfig, validateMember, type Located } from '../core/validate.js';
import type { Problem } from '../lib/errors.js';
import type { GitObjectReader, TreeEntry } from './git-objects.js';
import { CONFIG_FILE } from './registry-root.js';
import { lineOf, MAX_REGISTRY_FILE_BYTES, parseYamlFile, type YamlFile } from './yaml-load.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface SourceEntry {
  name: string;
  kind: 'file' | 'dir' | 'link' | 'other';
}

export interface SourceFile {
  text: string;
  /** a name for exactly these bytes (a git blob id): equal ids, equal content */
  id: string;
}

/** Where a snapshot's files come from. Paths are relative to the registry root, with `/`. */
export interface RegistrySource {
  /** what the snapshot was read from, for messages: a revision, `memory` */
  label: string;
  /** A file's text; 'link' for a symbolic link (never followed), 'too-large' past the size limit; undefined when absent. */
  read(rel: string): Promise<SourceFile | 'link' | 'too-large' | undefined>;
  /** A folder's entries; empty when it does not exist. */
  list(rel: string): Promise<SourceEntry[]>;
}

export interface Snapshot {
  label: string;
  /** infra.yml when it validated */
  config?: InfraConfig;
  /** the members whose files validated, by handle */
  members: Member[];
  /** keys/<handle>/pgp.asc texts */
  pgp: Map<string, string>;
  /** every problem, as `infra check` words them (empty: the registry was valid there) */
  problems: Problem[];
  files: Map<string, YamlFile>;
}

/** What was validated once, by blob id: the same file in a thousand revisions is parsed once. */
export interface SnapshotMemo {
  config: Map<string, { config?: InfraConfig; problems: Problem[]; file: YamlFile }>;
  member: Map<string, { member?: Member; problems: Problem[]; file: YamlFile }>;
}

export const newSnapshotMemo = (): SnapshotMemo => ({ config: new Map(), member: new Map() });

const memberRel = (handle: string) => `keys/${handle}/member.yml`;
const HANDLE_DIR_RE = /^[^.]/;

/** Loads and validates the registry from `source`, as the working-tree load does (no derived state). */
export async function loadSnapshot(source: RegistrySource, memo: SnapshotMemo = newSnapshotMemo()): Promise<Snapshot> {
  const problems: Problem[] = [];
  const files = new Map<string, YamlFile>();
  const unreadableFile = (rel: string, what: 'link' | 'too-large') =>
    problems.push({
      file: rel,
      field: '(file)',
      message: what === 'link' ? 'is a symbolic link: infra does not follow links in the registry; replace it with the file itself' : `larger than ${MAX_REGISTRY_FILE_BYTES / 1048576} MB`,
    });

  let config: InfraConfig | undefined;
  const configFile = await source.read(CONFIG_FILE);
  if (configFile === undefined) problems.push({ file: CONFIG_FILE, field: '(file)', message: 'is missing' });
  else if (typeof configFile === 'string') unreadableFile(CONFIG_FILE, configFile);
  else {
    let done = memo.config.get(configFile.id);
    if (!done) {
      const parsed = parseYamlFile(CONFIG_FILE, configFile.text);
      const r = parsed.problems.length ? { problems: parsed.problems } : validateConfig(parsed.file.doc.toJS(), CONFIG_FILE, (p) => lineOf(parsed.file, p));
      done = { config: r.config, problems: parsed.problems.length ? parsed.problems : r.problems, file: parsed.file };
      memo.config.set(configFile.id, done);
    }
    files.set(CONFIG_FILE, done.file);
    problems.push(...done.problems);
    config = done.config;
  }

  const members: Member[] = [];
  const pgp = new Map<string, string>();
  const unreadable = new Set<string>();
  const entries = (await source.list('keys')).filter((e) => HANDLE_DIR_RE.test(e.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const handle = entry.name;
    if (entry.kind === 'link') {
      unreadableFile(`keys/${handle}`, 'link');
      continue;
    }
    if (entry.kind !== 'dir') continue;
    const rel = memberRel(handle);
    const [file, key] = await Promise.all([source.read(rel), source.read(`keys/${handle}/pgp.asc`)]);
    if (typeof key === 'object') pgp.set(handle, key.text);
    if (file === undefined) {
      problems.push({ file: `keys/${handle}`, field: '(folder)', message: `has no member.yml: add it with \`infra members add ${shellQuote(handle)}\` or remove the folder` });
      unreadable.add(handle);
      continue;
    }
    if (typeof file === 'string') {
      unreadableFile(rel, file);
      unreadable.add(handle);
      continue;
    }
    const hasPgp = typeof key === 'object';
    const memoKey = `${handle}\0${file.id}\0${hasPgp ? 1 : 0}`;
    let done = memo.member.get(memoKey);
    if (!done) {
      const parsed = parseYamlFile(rel, file.text);
      const r = parsed.problems.length ? { problems: parsed.problems } : validateMember(handle, parsed.file.doc.toJS(), rel, (p) => lineOf(parsed.file, p), hasPgp);
      done = { member: r.member, problems: parsed.problems.length ? parsed.problems : r.problems, file: parsed.file };
      memo.member.set(memoKey, done);
    }
    files.set(rel, done.file);
    problems.push(...done.problems);
    if (done.member) members.push(done.member);
    else unreadable.add(handle);
  }
  if (config) {
    const located: Located = {
      configFile: CONFIG_FILE,
      configLine: (p) => (files.get(CONFIG_FILE) ? lineOf(files.get(CONFIG_FILE)!, p) : undefined),
      memberFile: memberRel,
      memberLine: (h, p) => (files.get(memberRel(h)) ? lineOf(files.get(memberRel(h))!, p) : undefined),
    };
    problems.push(...crossCheck(config, members, located, unreadable));
  }
  return { label: source.label, config, members, pgp, problems, files };
}

/** A registry held in memory (relative path -> text): for service tests, and for what a test builds. */
export function memorySource(texts: Readonly<Record<string, string>>, label = 'memory'): RegistrySource {
  const paths = Object.keys(texts);
  return {
    label,
    async read(rel) {
      if (!Object.hasOwn(texts, rel)) return undefined;
      const text = texts[rel];
      if (Buffer.byteLength(text) > MAX_REGISTRY_FILE_BYTES) return 'too-large';
      return { text, id: createHash('sha256').update(text).digest('hex') };
    },
    async list(rel) {
      const prefix = `${rel}/`;
      const names = new Map<string, SourceEntry['kind']>();
      for (const p of paths) {
        if (!p.startsWith(prefix)) continue;
        const rest = p.slice(prefix.length);
        const slash = rest.indexOf('/');
        names.set(slash < 0 ? rest : rest.slice(0, slash), slash < 0 ? 'file' : 'dir');
      }
      return [...names].map(([name, kind]) => ({ name, kind }));
    },
  };
}

const kindOf = (e: TreeEntry): SourceEntry['kind'] => (e.isTree ? 'dir' : e.mode === '120000' ? 'link' : e.mode.startsWith('100') ? 'file' : 'other');

/**
 * The registry at a commit: `prefix` is the registry's folder inside the repository ('' or 'sub/dir/'),
 * `tree` the commit's root tree id. Trees are read (and kept by the reader) as paths are asked for.
 */
export function gitTreeSource(reader: GitObjectReader, tree: string, prefix: string, label: string): RegistrySource {
  const folders = new Map<string, Promise<Map<string, TreeEntry> | undefined>>();
  const folder = (rel: string): Promise<Map<string, TreeEntry> | undefined> => {
    let known = folders.get(rel);
    if (!known) {
      known = (async () => {
        if (rel === '') {
          const top = await reader.tree(tree);
          return top && new Map(top.map((e) => [e.name, e]));
        }
        const slash = rel.lastIndexOf('/');
        const parent = await folder(slash < 0 ? '' : rel.slice(0, slash));
        const entry = parent?.get(slash < 0 ? rel : rel.slice(slash + 1));
        if (!entry?.isTree) return undefined;
        const entries = await reader.tree(entry.oid);
        return entries && new Map(entries.map((e) => [e.name, e]));
      })();
      folders.set(rel, known);
    }
    return known;
  };
  const full = (rel: string) => `${prefix}${rel}`.replace(/\/$/, '');
  return {
    label,
    async read(rel) {
      const at = full(rel);
      const slash = at.lastIndexOf('/');
      const entry = (await folder(slash < 0 ? '' : at.slice(0, slash)))?.get(at.slice(slash + 1));
      if (!entry || entry.isTree) return undefined;
      if (entry.mode === '120000') return 'link';
      if (!entry.mode.startsWith('100')) return undefined;
      const blob = await reader.read(entry.oid);
      if (!blob) return undefined;
      if (blob.data.length > MAX_REGISTRY_FILE_BYTES) return 'too-large';
      return { text: blob.data.toString('utf8'), id: entry.oid };
    },
    async list(rel) {
      const entries = await folder(full(rel));
      return entries ? [...entries.values()].map((e) => ({ name: e.name, kind: kindOf(e) })) : [];
    },
  };
}
