/** YAML inventories as ansible-core 2.14's `yaml` inventory plugin reads them, from file text. */
import { parseDocument, LineCounter, isMap, isScalar, isAlias, isSeq, visit, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { inventoryError, InventoryBuilder, type Inventory, type SourceLocation } from './inventory-model.js';
import { refuseMisreadCharacters, YAML_MISREAD_RE } from './inventory-characters.js';
import { addHostDefinition } from './inventory-hosts.js';

function parseYamlInto(b: InventoryBuilder, text: string, file: string): void {
  b.files.push(file);
  refuseMisreadCharacters(text, file, YAML_MISREAD_RE, (c) =>
    c === '\ufeff'
      ? 'is a byte-order mark inside the file'
      : c === '\x85' || c === '\u2028' || c === '\u2029'
        ? "starts a new line for Ansible's YAML reader (PyYAML), though editors and diffs show none there"
        : "is a character Ansible's YAML reader (PyYAML) refuses",
  );
  // PyYAML ends a line at a lone CR as at LF; the `yaml` package does not (it reads the CR as text)
  const lineCounter = new LineCounter();
  const doc = parseDocument(text.replace(/\r(?!\n)/g, '\n'), { lineCounter, merge: true, prettyErrors: false });
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as Node | undefined)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  const at = (node: unknown): SourceLocation => ({ file, line: lineOf(node) });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const line = first.linePos?.[0]?.line ?? lineCounter.linePos(first.pos[0]).line;
    throw inventoryError({ file, line }, `YAML syntax error: ${first.message.split('\n')[0]}`);
  }
  refuseAliasBomb(doc, file, lineOf);
  const root = resolve(doc, doc.contents);
  if (root === null || root === undefined || (isScalar(root) && (root.value === null || root.value === ''))) return;
  if (!isMap(root)) throw inventoryError(at(root), 'a YAML inventory is a mapping of group names (e.g. `all:`) at the top level');
  if (root.items.some((pair) => isScalar(pair.key) && pair.key.value === 'plugin')) {
    throw inventoryError(at(root), 'this is an inventory plugin configuration; infra reads only static inventories (hosts.yml or INI hosts)');
  }

  const nameOf = (pair: Pair, what: string): string => {
    if (!isScalar(pair.key) || typeof pair.key.value !== 'string') {
      throw inventoryError(at(pair.key), `${what} name must be a string (quote it: '${String(isScalar(pair.key) ? pair.key.value : '?')}')`);
    }
    return pair.key.value;
  };

  const parseGroup = (name: string, value: unknown, keyNode: unknown): void => {
    const data = resolve(doc, value);
    if (data !== null && data !== undefined && !isNullScalar(data) && !isMap(data)) {
      throw inventoryError(at(data ?? keyNode), `group '${name}' must be a mapping with hosts:, children: and vars:`);
    }
    b.addGroup(name);
    if (!isMap(data)) return;
    for (const pair of mapEntries(doc, data)) {
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      const section = resolve(doc, pair.value);
      if (key !== 'hosts' && key !== 'children' && key !== 'vars') {
        throw inventoryError(at(pair.key), `group '${name}' has key '${String(key)}'; only hosts, children and vars are allowed`);
      }
      if (isNullScalar(section) || section === null || section === undefined) continue;
      if (isScalar(section) && typeof section.value === 'string' && key !== 'vars') {
        // Ansible accepts `hosts: web1` as a one-entry mapping
        if (key === 'hosts') addHostDefinitionAt(section.value, section, undefined);
        else {
          parseGroup(section.value, null, section);
          b.addChild(name, section.value, at(section));
        }
        continue;
      }
      if (!isMap(section)) throw inventoryError(at(section), `'${key}' of group '${name}' must be a mapping`);
      if (key === 'vars') {
        for (const v of mapEntries(doc, section)) b.setGroupVar(name, String(isScalar(v.key) ? v.key.value : v.key), toJs(doc, v.value));
      } else if (key === 'children') {
        for (const child of mapEntries(doc, section)) {
          const childName = nameOf(child, 'group');
          parseGroup(childName, child.value, child.key);
          b.addChild(name, childName, at(child.key));
        }
      } else {
        for (const host of mapEntries(doc, section)) addHostDefinitionAt(nameOf(host, 'host'), host.key, host.value);
      }
    }

    function addHostDefinitionAt(pattern: string, keyNode: unknown, varsNode: unknown): void {
      const vars = resolve(doc, varsNode);
      let entries: [string, unknown][] = [];
      if (isMap(vars)) entries = mapEntries(doc, vars).map((p) => [String(isScalar(p.key) ? p.key.value : p.key), toJs(doc, p.value)]);
      else if (!(vars === null || vars === undefined || isNullScalar(vars) || (isScalar(vars) && !vars.value))) {
        throw inventoryError(at(vars), `host '${pattern}' must map to its variables (a mapping) or to nothing`);
      }
      addHostDefinition(b, pattern, name, entries, at(keyNode));
    }
  };

  for (const pair of mapEntries(doc, root)) parseGroup(nameOf(pair, 'group'), pair.value, pair.key);
}

function isNullScalar(node: unknown): boolean {
  return isScalar(node) && node.value === null;
}

function resolve(doc: Document, node: unknown): unknown {
  let current = node;
  for (let depth = 0; isAlias(current) && depth < 100; depth++) current = current.resolve(doc);
  return current;
}

/** A mapping's pairs with YAML merge keys (`<<: *defaults`) applied; explicit keys win. */
function mapEntries(doc: Document, map: YAMLMap): Pair[] {
  const explicit: Pair[] = [];
  const merged: Pair[] = [];
  for (const pair of map.items) {
    // with `merge: true` the yaml package gives the `<<` key a Symbol value
    const isMerge = isScalar(pair.key) && (pair.key.value === '<<' || typeof pair.key.value === 'symbol');
    if (!isMerge) {
      explicit.push(pair);
      continue;
    }
    const source = resolve(doc, pair.value);
    const sources = isSeq(source) ? source.items.map((s) => resolve(doc, s)) : [source];
    for (const s of sources) if (isMap(s)) merged.push(...mapEntries(doc, s));
  }
  const keyOf = (p: Pair) => (isScalar(p.key) ? p.key.value : p.key);
  const seen = new Set(explicit.map(keyOf));
  const result = [...explicit];
  for (const p of merged) {
    if (!seen.has(keyOf(p))) {
      seen.add(keyOf(p));
      result.push(p);
    }
  }
  return result;
}

/** As many alias expansions as the `yaml` package allows by default; an alias bomb would take all memory (PyYAML, Ansible's reader, has no limit). */
const MAX_ALIAS_EXPANSIONS = 100;

function refuseAliasBomb(doc: Document, file: string, lineOf: (node: unknown) => number | undefined): void {
  let firstAlias: unknown;
  visit(doc, {
    Alias(_, node) {
      firstAlias = node;
      return visit.BREAK;
    },
  });
  if (!firstAlias) return;
  try {
    doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    throw inventoryError(
      { file, line: lineOf(firstAlias) },
      `its YAML aliases (*name) expand to more than ${MAX_ALIAS_EXPANSIONS} copies (a YAML "alias bomb", which would take all memory, here and in Ansible): write the values out`,
    );
  }
}

function toJs(doc: Document, node: unknown): unknown {
  const resolved = resolve(doc, node);
  if (resolved === null || resolved === undefined) return null;
  return (resolved as { toJS(doc: Document): unknown }).toJS(doc);
}

export function parseYamlInventory(text: string, file: string): Inventory {
  const b = new InventoryBuilder();
  parseYamlInto(b, text, file);
  return b.build();
}

/**
 * Ansible reads a file without a YAML extension (like `hosts`) with the YAML plugin first and falls back
 * to INI; a `hosts` file that is a YAML mapping is therefore YAML.
 */
export function looksLikeYamlInventory(text: string): boolean {
  const doc = parseDocument(text, { prettyErrors: false });
  return doc.errors.length === 0 && isMap(doc.contents) && doc.contents.items.length > 0;
}
