/**
 * What an Ansible vars file (host_vars/…, group_vars/…) defines, read as Ansible 2.14 reads it: PyYAML's
 * YAML 1.1 with merge keys (`<<: {…}`, `<<: *anchor`, `<<: [*a, *b]`, any key tagged `!!merge`), anchors
 * and aliases, quoted and tagged keys (`"infra_x"`, `!!str infra_x`, `!unsafe infra_x`), and every
 * duplicate key (the last wins, but each one defines the name). Only the variable names are needed, so
 * aliases are never expanded: each node's keys are collected once, and a file with thousands of aliases
 * costs what its text costs (no alias limit is needed here; see docs/reference.md "Vars files infra reads").
 *
 * A file infra cannot read exactly (not UTF-8, a YAML error, a whole-file vault, several documents, a key
 * whose meaning depends on a tag infra does not know, anything that is not a mapping) is `unreadable`, with
 * the line: the caller refuses it, because Ansible might read it and what it defines would be unseen.
 */
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type Document, type Node } from 'yaml';
import { shellQuote } from '../lib/shell-quote.js';

export type VarsFileReading =
  /** Every top-level variable name the file defines (merge keys included), sorted, without duplicates. */
  | { names: string[] }
  /** Why infra cannot tell what the file defines, and where (1-based line) when known. */
  | { unreadable: string; line?: number };

/** Vars files larger than this are refused: Ansible reads them, infra will not hold one in memory to check. */
export const MAX_VARS_FILE_BYTES = 16 * 1024 * 1024;

/** Tags a key may carry and still be the plain text it spells (PyYAML's str, Ansible's !unsafe). */
const TEXT_TAGS = new Set(['tag:yaml.org,2002:str', '!unsafe']);
const MERGE_TAG = 'tag:yaml.org,2002:merge';
/** Key tags whose value can never be a variable name that is text (PyYAML makes numbers, dates, bytes of them). */
const OTHER_CORE_TAGS = new Set(['int', 'float', 'bool', 'null', 'binary', 'timestamp'].map((t) => `tag:yaml.org,2002:${t}`));

class Unreadable extends Error {
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(message);
  }
}

/** Reads a vars file's bytes (or text already decoded); never throws. */
export function readVarsFile(content: Uint8Array | string): VarsFileReading {
  let text: string;
  if (typeof content === 'string') text = content;
  else {
    if (content.length > MAX_VARS_FILE_BYTES) return { unreadable: `is larger than ${MAX_VARS_FILE_BYTES / 1024 / 1024} MB, more than infra reads` };
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(content);
    } catch {
      return { unreadable: 'is not valid UTF-8 text' };
    }
  }
  // Ansible decrypts a file that starts with the vault header before parsing it; without the password
  // infra cannot see what it defines.
  if (text.startsWith('$ANSIBLE_VAULT')) return { unreadable: 'is encrypted as a whole with ansible-vault, so infra cannot see which variables it defines' };
  const lines = new LineCounter();
  try {
    const docs = parseAllDocuments(text, { version: '1.1', merge: true, uniqueKeys: false, lineCounter: lines, prettyErrors: false, logLevel: 'silent' });
    const all = Array.isArray(docs) ? docs : [];
    // PyYAML's get_single_data, which Ansible uses, refuses a second document (even an empty one after ---).
    if (all.length > 1) return { unreadable: 'holds several YAML documents (---), which Ansible refuses in a vars file', line: lines.linePos(all[1].range[0]).line };
    if (all.length === 0) return { names: [] };
    const doc = all[0];
    if (doc.errors.length) return { unreadable: `is not YAML infra can read (${firstLine(doc.errors[0].message)})`, line: lines.linePos(doc.errors[0].pos[0]).line };
    return { names: [...topLevelNames(doc)].sort() };
  } catch (e) {
    if (e instanceof Unreadable) return { unreadable: e.message, ...(e.offset !== undefined ? { line: lines.linePos(e.offset).line } : {}) };
    if (e instanceof RangeError) return { unreadable: 'nests too deeply for infra to read' }; // the parser's own stack
    throw e;
  }
}

const firstLine = (message: string) => message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');

function topLevelNames(doc: Document): Set<string> {
  const root = doc.contents;
  if (root === null || root === undefined) return new Set();
  if (isScalar(root) && (root.value === null || root.value === false || root.value === 0 || root.value === '')) return new Set(); // Ansible skips a falsy document
  if (isSeq(root) && root.items.length === 0) return new Set();
  if (!isMap(root)) throw new Unreadable('is not a mapping of variable names to values, which Ansible refuses', root.range?.[0]);
  return keysOf(anchorTargets(doc), root, new Map(), new Set());
}

/**
 * Each alias's node, found in one pass in document order (an alias names the latest anchor before it).
 * The `yaml` package's Alias.resolve walks the whole document per alias: quadratic, minutes for a large file.
 */
function anchorTargets(doc: Document): Map<Node, Node> {
  const anchors = new Map<string, Node>();
  const targets = new Map<Node, Node>();
  visit(doc, (_, node) => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (!target) throw new Unreadable(`uses the alias *${node.source} before any anchor &${node.source}`, node.range?.[0]);
      targets.set(node, target);
    } else if (isNode(node) && node.anchor) anchors.set(node.anchor, node);
  });
  return targets;
}

/** The keys a mapping node defines, with those its merge keys bring (recursively, as PyYAML's flatten_mapping). */
function keysOf(aliases: Map<Node, Node>, node: Node, memo: Map<Node, Set<string>>, inProgress: Set<Node>): Set<string> {
  const known = memo.get(node);
  if (known) return known;
  if (!isMap(node)) throw new Unreadable('merges (<<) something that is not a mapping, which Ansible refuses', node.range?.[0]);
  if (inProgress.has(node)) throw new Unreadable('merges (<<) a mapping into itself', node.range?.[0]);
  inProgress.add(node);
  const names = new Set<string>();
  for (const pair of node.items) {
    const key = resolve(aliases, pair.key as Node | null);
    if (key !== null && isMergeKey(key)) {
      const value = resolve(aliases, pair.value as Node | null);
      const sources = value !== null && isSeq(value) ? value.items.map((item) => resolve(aliases, item as Node | null)) : [value];
      for (const source of sources) {
        if (source === null) throw new Unreadable('merges (<<) an empty value, which Ansible refuses', key.range?.[0]);
        for (const name of keysOf(aliases, source, memo, inProgress)) names.add(name);
      }
      continue;
    }
    const name = keyText(key);
    if (name !== undefined) names.add(name);
  }
  inProgress.delete(node);
  memo.set(node, names);
  return names;
}

function resolve(aliases: Map<Node, Node>, node: Node | null): Node | null {
  if (node === null || node === undefined) return null;
  return isAlias(node) ? aliases.get(node)! : node;
}

/** PyYAML: a plain `<<` key, or any scalar key tagged !!merge. */
function isMergeKey(key: Node): boolean {
  if (!isScalar(key)) return false;
  return typeof key.value === 'symbol' || key.tag === MERGE_TAG;
}

/** The variable name a key spells; undefined when it is not text (a number, a date, null). */
function keyText(key: Node | null): string | undefined {
  if (key === null) return undefined; // `? ` with no key: PyYAML's None, not a name
  if (!isScalar(key)) throw new Unreadable('has a mapping or list used as a key, which Ansible refuses', key.range?.[0]);
  const tag = key.tag;
  if (tag !== undefined && !TEXT_TAGS.has(tag) && !OTHER_CORE_TAGS.has(tag)) throw new Unreadable(`has a key tagged ${tag}, which infra cannot judge`, key.range?.[0]);
  if (tag !== undefined && OTHER_CORE_TAGS.has(tag)) return undefined;
  if (tag !== undefined && TEXT_TAGS.has(tag)) return typeof key.value === 'string' ? key.value : String(key.source ?? key.value);
  return typeof key.value === 'string' ? key.value : undefined;
}

/** The edit that lets infra read a vars file it refused (`reason` is the reading's unreadable text). */
export function unreadableVarsFix(file: string, reason: string): string {
  if (reason.includes('ansible-vault'))
    return `decrypt ${file} (ansible-vault decrypt ${shellQuote(file)}) and encrypt each secret value on its own with \`ansible-vault encrypt_string\`, so the variable names stay visible`;
  if (reason.includes('several YAML documents')) return `keep one YAML document in ${file} (remove the --- separators), or move it out of host_vars/ and group_vars/`;
  return `rewrite ${file} as plain YAML that infra reads (\`infra check\` names the line), or move it out of host_vars/ and group_vars/ if Ansible should not load it`;
}

/**
 * The values of the `wanted` top-level variables a vars file sets, as Ansible ends up with them (an explicit
 * key over a merged one, the last duplicate winning): scalars as they are, anything else as its YAML text
 * (aliases are never expanded). Empty when the file is unreadable (readVarsFile says why).
 */
export function readVarsValues(text: string, wanted: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  try {
    const docs = parseAllDocuments(text, { version: '1.1', merge: true, uniqueKeys: false, prettyErrors: false, logLevel: 'silent' });
    if (!Array.isArray(docs) || docs.length !== 1 || docs[0].errors.length || !isMap(docs[0].contents)) return out;
    const aliases = anchorTargets(docs[0]);
    const valueOf = (node: Node | null): unknown => {
      const n = resolve(aliases, node);
      return n === null ? null : isScalar(n) ? n.value : String(n);
    };
    const collect = (map: Node, depth: number): Map<string, Node | null> => {
      const found = new Map<string, Node | null>();
      if (!isMap(map) || depth > 64) return found;
      const merged = new Map<string, Node | null>();
      for (const pair of map.items) {
        const key = resolve(aliases, pair.key as Node | null);
        if (key !== null && isMergeKey(key)) {
          const value = resolve(aliases, pair.value as Node | null);
          const sources = value !== null && isSeq(value) ? value.items.map((i) => resolve(aliases, i as Node | null)) : [value];
          // PyYAML: the first source in a merge list wins over later ones
          for (const source of sources.reverse()) if (source !== null) for (const [k, v] of collect(source, depth + 1)) merged.set(k, v);
          continue;
        }
        const name = keyText(key);
        if (name !== undefined && wanted.has(name)) found.set(name, pair.value as Node | null);
      }
      for (const [k, v] of merged) if (!found.has(k)) found.set(k, v);
      return found;
    };
    for (const [name, node] of collect(docs[0].contents as Node, 0)) out[name] = valueOf(node);
  } catch {
    // unreadable: readVarsFile reports it
  }
  return out;
}
