/**
 * Edits of YAML source that change only the bytes they must. The registry is reviewed as pull requests:
 * re-stringifying a document re-aligns comments, re-quotes strings and re-flows lists, and a diff full
 * of that hides the change. Each operation here parses the current text, finds the node's source range
 * and splices new text into it; everything else stays byte for byte.
 */
import { Document, isMap, isScalar, isSeq, parseDocument, stringify, visit, type Node as YamlNode, type Scalar } from 'yaml';

export type YamlPath = ReadonlyArray<string | number>;

const STRINGIFY = { lineWidth: 0, flowCollectionPadding: false } as const;

export class YamlSourceEditor {
  private readonly parsedText: string;
  /** `parsed`: the document of `text` as already parsed (by the store's load), used until the first change. */
  constructor(
    public text: string,
    private readonly parsed?: Document,
  ) {
    this.parsedText = text;
  }

  private doc(): Document {
    if (this.parsed && this.text === this.parsedText && !this.parsed.errors.length) return this.parsed;
    const doc = parseDocument(this.text, { uniqueKeys: true });
    if (doc.errors.length) throw new Error(`cannot edit YAML with errors: ${doc.errors[0].message}`);
    return doc;
  }

  private splice(start: number, end: number, insert: string): void {
    this.text = this.text.slice(0, start) + insert + this.text.slice(end);
  }

  /** Start of the line holding `offset`. */
  private lineStart(offset: number): number {
    return this.text.lastIndexOf('\n', offset - 1) + 1;
  }

  /** Offset just past the newline ending the line holding `offset` (or the end of the text). */
  private lineEnd(offset: number): number {
    const nl = this.text.indexOf('\n', offset);
    return nl === -1 ? this.text.length : nl + 1;
  }

  /** Position just past the last content of `node`, without a trailing comment or line break. */
  private valueEnd(node: YamlNode): number {
    return node.range![1];
  }

  get(path: YamlPath): unknown {
    return this.doc().getIn(path);
  }

  /**
   * Set a scalar at `path`. An existing scalar keeps its quoting style when it can; a missing key is
   * inserted into its (block) map after `after` when given, else after the map's last entry.
   */
  set(path: YamlPath, value: string | number | boolean, after?: string): void {
    const doc = this.doc();
    const node = doc.getIn(path, true) as YamlNode | undefined;
    if (node && isScalar(node)) {
      if (node.value === value) return;
      this.splice(node.range![0], node.range![1], scalarText(value, node));
      return;
    }
    if (node) throw new Error(`${path.join('.')} is not a scalar`);
    this.insertPair(doc, path.slice(0, -1), String(path[path.length - 1]), scalarText(value), after);
  }

  /** Insert `key: <text>` into the block map at `mapPath`, after `after` (or at the end). */
  private insertPair(doc: Document, mapPath: YamlPath, key: string, valueText: string, after?: string): void {
    const map = mapPath.length ? doc.getIn(mapPath, true) : doc.contents;
    if (!isMap(map) || map.flow) throw new Error(`${mapPath.join('.') || 'the document'} is not a block map`);
    const pairs = map.items;
    const anchor = (after !== undefined ? pairs.find((p) => (p.key as Scalar)?.value === after) : undefined) ?? pairs[pairs.length - 1];
    const keyText = stringify(key, STRINGIFY).trimEnd();
    if (!anchor) throw new Error(`${mapPath.join('.') || 'the document'} is empty`);
    const keyNode = anchor.key as YamlNode;
    const indent = this.text.slice(this.lineStart(keyNode.range![0]), keyNode.range![0]);
    const end = this.pairEnd(anchor);
    const prefix = end > 0 && this.text[end - 1] !== '\n' ? '\n' : '';
    this.splice(end, end, `${prefix}${indent}${keyText}: ${valueText}\n`);
  }

  /** Offset past the line break that ends a pair (its value may span lines). */
  private pairEnd(pair: { key: unknown; value: unknown }): number {
    const value = pair.value as YamlNode | null;
    const last = value?.range ? this.valueEnd(value) : (pair.key as YamlNode).range![1];
    return this.lineEnd(Math.max(last - 1, 0));
  }

  /** Append `item` to the sequence at `path`; a missing key or an empty `[]` becomes a block sequence. */
  append(path: YamlPath, item: unknown): void {
    const doc = this.doc();
    const node = doc.getIn(path, true) as YamlNode | undefined;
    if (isSeq(node) && node.flow && node.items.length) {
      // `groups: [a, b]` stays a flow list: `[a, b, c]`; a mapping joins a flow list as a flow mapping
      const lastItem = node.items[node.items.length - 1] as YamlNode;
      const text = isFlowable(item) ? stringify(item, STRINGIFY) : stringify(item, { ...STRINGIFY, collectionStyle: 'flow' });
      this.splice(lastItem.range![1], lastItem.range![1], `, ${text.trimEnd()}`);
      return;
    }
    if (isSeq(node) && !node.flow && node.items.length) {
      const first = node.items[0] as YamlNode;
      const dash = this.lineStart(first.range![0]);
      const indent = this.text.slice(dash, this.text.lastIndexOf('-', first.range![0]));
      const lastItem = node.items[node.items.length - 1] as YamlNode;
      const at = this.lineEnd(Math.max(this.valueEnd(lastItem) - 1, 0));
      const prefix = this.text[at - 1] !== '\n' ? '\n' : '';
      this.splice(at, at, prefix + blockItems([item], indent));
      return;
    }
    const parentPath = path.slice(0, -1);
    const key = String(path[path.length - 1]);
    const parent = parentPath.length ? doc.getIn(parentPath, true) : doc.contents;
    if (!isMap(parent)) throw new Error(`${parentPath.join('.') || 'the document'} is not a map`);
    const pair = parent.items.find((p) => (p.key as Scalar)?.value === key);
    const keyNode = (pair?.key ?? parent.items[parent.items.length - 1]?.key) as YamlNode | undefined;
    const keyIndent = keyNode ? this.text.slice(this.lineStart(keyNode.range![0]), keyNode.range![0]) : '';
    const items = blockItems([item], `${keyIndent}  `);
    if (pair && node && !(isScalar(node) && node.range![0] === node.range![1])) {
      // `ssh_keys: []` (or `~`): the value goes, the list starts on the next line; a comment stays
      const colon = this.text.indexOf(':', (pair.key as YamlNode).range![1]);
      this.splice(colon + 1, node.range![1], '');
      const end = this.lineEnd(colon);
      this.splice(end, end, (this.text[end - 1] === '\n' ? '' : '\n') + items);
      return;
    }
    if (pair) {
      // `key:` with nothing after it
      const end = this.lineEnd((pair.key as YamlNode).range![1]);
      this.splice(end, end, items);
      return;
    }
    this.insertBlockPair(parent, key, items, keyIndent);
  }

  private insertBlockPair(parent: { items: Array<{ key: unknown; value: unknown }> }, key: string, body: string, indent: string): void {
    const last = parent.items[parent.items.length - 1];
    const at = last ? this.pairEnd(last) : this.text.length;
    const prefix = at > 0 && this.text[at - 1] !== '\n' ? '\n' : '';
    this.splice(at, at, `${prefix}${indent}${stringify(key, STRINGIFY).trimEnd()}:\n${body}`);
  }

  /** Remove item `index` of the sequence at `path`: its lines (block) or its entry (flow). */
  remove(path: YamlPath, index: number): void {
    const doc = this.doc();
    const node = doc.getIn(path, true) as YamlNode | undefined;
    if (!isSeq(node) || index < 0 || index >= node.items.length) throw new Error(`no item ${index} in ${path.join('.')}`);
    const item = node.items[index] as YamlNode;
    if (node.flow) {
      if (node.items.length === 1) {
        this.splice(node.range![0], node.range![1], '[]');
        return;
      }
      // remove `item, ` or, for the last, `, item`
      const next = node.items[index + 1] as YamlNode | undefined;
      if (next) this.splice(item.range![0], next.range![0], '');
      else this.splice((node.items[index - 1] as YamlNode).range![1], item.range![1], '');
      return;
    }
    // The item's lines, with the comment lines right above it at its indentation (they describe it).
    let start = this.lineStart(item.range![0]);
    const indent = this.text.slice(start, this.text.lastIndexOf('-', item.range![0]));
    while (start > 0) {
      const above = this.lineStart(start - 1);
      const line = this.text.slice(above, start - 1);
      if (!line.startsWith(`${indent}#`)) break;
      start = above;
    }
    const end = this.lineEnd(Math.max(this.valueEnd(item) - 1, 0));
    this.splice(start, end, '');
    if (node.items.length === 1) {
      // the last item went: the key keeps an empty list, as `infra members add` writes it
      const parentPath = path.slice(0, -1);
      const after = this.doc();
      const parent = parentPath.length ? after.getIn(parentPath, true) : after.contents;
      const pair = isMap(parent) ? parent.items.find((p) => (p.key as Scalar)?.value === path[path.length - 1]) : undefined;
      if (!pair) throw new Error(`lost ${path.join('.')} while removing its last item`);
      const colon = this.text.indexOf(':', (pair.key as YamlNode).range![1]);
      this.splice(colon + 1, colon + 1, ' []');
    }
  }

  /** Remove every scalar equal to `value` from the sequence at `path`. */
  removeValue(path: YamlPath, value: string): void {
    for (;;) {
      const node = this.doc().getIn(path, true);
      if (!isSeq(node)) return;
      const index = node.items.findIndex((n) => isScalar(n) && n.value === value);
      if (index === -1) return;
      this.remove(path, index);
    }
  }

  /** Remove the key at `path` and its value (every line of it). A missing key is no change. */
  removeKey(path: YamlPath): void {
    const doc = this.doc();
    const parentPath = path.slice(0, -1);
    const parent = parentPath.length ? doc.getIn(parentPath, true) : doc.contents;
    if (!isMap(parent) || parent.flow) throw new Error(`${parentPath.join('.') || 'the document'} is not a block map`);
    const pair = parent.items.find((p) => (p.key as Scalar)?.value === path[path.length - 1]);
    if (!pair) return;
    const keyStart = (pair.key as YamlNode).range![0];
    const start = this.lineStart(keyStart);
    // `- name: x` starts a sequence item on the key's line: removing that line would break the item
    if (this.text.slice(start, keyStart).trim() !== '') throw new Error(`${path.join('.')} does not start its own line`);
    this.splice(start, this.pairEnd(pair), '');
  }

  /** Set `path` to a block mapping or list (replacing what is there), written at the key's indentation. */
  setBlock(path: YamlPath, value: object): void {
    const key = String(path[path.length - 1]);
    const parentPath = path.slice(0, -1);
    const before = this.doc();
    const existing = (parentPath.length ? before.getIn(parentPath, true) : before.contents) as { items?: Array<{ key: unknown }> } | undefined;
    const index = existing?.items?.findIndex((p) => (p.key as Scalar)?.value === key) ?? -1;
    const after = index > 0 ? String((existing!.items![index - 1].key as Scalar).value) : undefined;
    if (index >= 0) this.removeKey(path);
    const doc = this.doc();
    const map = parentPath.length ? doc.getIn(parentPath, true) : doc.contents;
    if (!isMap(map) || map.flow || !map.items.length) throw new Error(`${parentPath.join('.') || 'the document'} is not a block map`);
    const anchor = (after !== undefined ? map.items.find((p) => (p.key as Scalar)?.value === after) : undefined) ?? map.items[map.items.length - 1];
    const keyNode = anchor.key as YamlNode;
    const indent = ' '.repeat(keyNode.range![0] - this.lineStart(keyNode.range![0]));
    const body = stringify(value, STRINGIFY)
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => `${indent}  ${line}\n`)
      .join('');
    const end = this.pairEnd(anchor);
    const prefix = end > 0 && this.text[end - 1] !== '\n' ? '\n' : '';
    this.splice(end, end, `${prefix}${indent}${stringify(key, STRINGIFY).trimEnd()}:\n${body}`);
  }

  /** Replace the whole value at `path` (a list of plain strings, written in flow style like `[a, b]`). */
  setList(path: YamlPath, values: string[]): void {
    const doc = this.doc();
    const node = doc.getIn(path, true) as YamlNode | undefined;
    const current = isSeq(node) ? node.items.map((n) => (isScalar(n) ? n.value : undefined)) : undefined;
    if (current && current.length === values.length && current.every((v, i) => v === values[i])) return;
    const text = stringify(values, { ...STRINGIFY, collectionStyle: 'flow' }).trimEnd();
    if (node && (isSeq(node) ? node.flow : isScalar(node))) {
      this.splice(node.range![0], node.range![1], text);
      return;
    }
    if (node) {
      // a block list becomes flow: remove its lines, put the list after the key
      const pathToParent = path.slice(0, -1);
      const parent = (pathToParent.length ? doc.getIn(pathToParent, true) : doc.contents) as { items: Array<{ key: unknown; value: unknown }> };
      const pair = parent.items.find((p) => (p.key as Scalar)?.value === path[path.length - 1])!;
      const keyEnd = (pair.key as YamlNode).range![1];
      const end = this.lineEnd(Math.max(this.valueEnd(node) - 1, 0));
      this.splice(keyEnd, end, `: ${text}\n`);
      return;
    }
    this.insertPair(doc, path.slice(0, -1), String(path[path.length - 1]), text);
  }
}

const isFlowable = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** `value` as YAML scalar text, in `like`'s quoting style where that style can hold it. */
function scalarText(value: string | number | boolean, like?: Scalar): string {
  const type = like?.type;
  const defaultStringType = type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE' ? type : 'PLAIN';
  return stringify(value, { ...STRINGIFY, defaultStringType, defaultKeyType: 'PLAIN' }).trimEnd();
}

/** Items as block sequence lines, each line prefixed with `indent`. */
function blockItems(items: unknown[], indent: string): string {
  const text = stringify(items, STRINGIFY);
  return text
    .split('\n')
    .filter((line, i, all) => !(i === all.length - 1 && line === ''))
    .map((line) => (line ? indent + line : line))
    .join('\n')
    .concat('\n');
}

/** `value` as a YAML node whose lists are written in flow style (`groups: [infra, meet-tech]`), as people write short lists. */
export function withFlowLists(value: object): object {
  const doc = new Document(value);
  visit(doc, { Seq: (_, node) => void (node.flow = true) });
  return doc.contents as object;
}
