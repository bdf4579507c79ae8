/** INI inventories as ansible-core 2.14's `ini` inventory plugin reads them, from file text. */
import { inventoryError, InventoryBuilder, type Inventory } from './inventory-model.js';
import { HIDDEN_INI_BREAK_RE, PY_SPACE, pythonStrip, refuseMisreadCharacters } from './inventory-characters.js';
import { addHostDefinition, parseAddress } from './inventory-hosts.js';

// The INI plugin's patterns, with Python's Unicode \s and \w
const INI_SECTION = new RegExp(String.raw`^\[([^:\]${PY_SPACE}]+)(?::([\p{L}\p{N}_]+))?\][${PY_SPACE}]*(?:#.*)?$`, 'u');
const INI_GROUP_NAME = new RegExp(String.raw`^([^:\]${PY_SPACE}]+)[${PY_SPACE}]*(?:#.*)?$`, 'u');
/** Python's shlex splits only at these (not at a no-break space, a vertical tab or U+3000). */
const SHLEX_SPACE = /[ \t\r\n]/;

/** POSIX shlex.split(line, comments=True), as the INI plugin splits host lines. Whitespace is shlex's: space, tab, CR, LF. */
export function shlexSplit(line: string): string[] {
  const tokens: string[] = [];
  let token = '';
  let inToken = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (SHLEX_SPACE.test(c)) {
      if (inToken) tokens.push(token);
      token = '';
      inToken = false;
      i++;
    } else if (c === '#') {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('No closing quotation');
      token += line.slice(i + 1, end);
      inToken = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new Error('No closing quotation');
        const d = line[i];
        if (d === '"') break;
        if (d === '\\' && i + 1 < line.length && (line[i + 1] === '"' || line[i + 1] === '\\')) {
          token += line[i + 1];
          i += 2;
        } else {
          token += d;
          i++;
        }
      }
      inToken = true;
      i++;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error('No escaped character');
      token += line[i + 1];
      inToken = true;
      i += 2;
    } else {
      token += c;
      inToken = true;
      i++;
    }
  }
  if (inToken) tokens.push(token);
  return tokens;
}

/** A small subset of Python's ast.literal_eval, which the INI plugin applies to values; anything else stays a string. */
export function iniValue(text: string): unknown {
  const v = text.trim();
  if (/^[+-]?[0-9]+$/.test(v)) return Number(v);
  if (/^[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$|^[+-]?[0-9]+[eE][+-]?[0-9]+$/.test(v)) return Number(v);
  if (v === 'True') return true;
  if (v === 'False') return false;
  if (v === 'None') return null;
  const quoted = /^'((?:[^'\\]|\\.)*)'$|^"((?:[^"\\]|\\.)*)"$/.exec(v);
  if (quoted) return (quoted[1] ?? quoted[2]).replace(/\\(.)/g, '$1');
  if (/^[[{]/.test(v)) {
    try {
      return JSON.parse(v);
    } catch {
      return text;
    }
  }
  return text;
}

function parseIniInto(b: InventoryBuilder, text: string, file: string): void {
  b.files.push(file);
  type Pending = { line: number; state: 'vars' | 'children'; parents: string[] };
  const pending = new Map<string, Pending>();
  let group = 'ungrouped';
  let state = 'hosts';
  // Ansible reads `to_text(data).splitlines()`, then `line.strip()`: where Python cuts lines at characters
  // an editor shows inside a line, the file is refused; the rest is Python's behaviour exactly.
  if (text.startsWith('\ufeff')) {
    throw inventoryError({ file, line: 1 }, 'the file starts with a byte-order mark (U+FEFF), which Ansible reads as part of the first line: save it as UTF-8 without BOM');
  }
  refuseMisreadCharacters(text, file, HIDDEN_INI_BREAK_RE, () => 'starts a new line for Ansible (Python splitlines), though editors and diffs show none there');
  const lines = text.split(/\r\n|\r|\n/);
  for (let index = 0; index < lines.length; index++) {
    const where = { file, line: index + 1 };
    const line = pythonStrip(lines[index]);
    if (!line || line[0] === ';' || line[0] === '#') continue;

    const section = INI_SECTION.exec(line);
    if (section) {
      group = section[1];
      state = section[2] ?? 'hosts';
      if (!['hosts', 'children', 'vars'].includes(state)) {
        throw inventoryError(where, `section [${section[1]}:${state}] has unknown type '${state}' (use hosts, children or vars)`);
      }
      if (!b.groups.has(group)) {
        if (state === 'vars' && !pending.has(group)) pending.set(group, { line: where.line, state: 'vars', parents: [] });
        b.addGroup(group);
      }
      const waiting = pending.get(group);
      if (waiting && state !== 'vars') {
        if (waiting.state === 'children') addPendingChildren(b, group, pending, file);
        else pending.delete(group);
      }
      continue;
    }
    if (line.startsWith('[') && line.endsWith(']')) {
      throw inventoryError(where, `invalid section '${line}': no spaces or ':' other than [group:children] / [group:vars]`);
    }

    if (state === 'hosts') {
      let tokens: string[];
      try {
        tokens = shlexSplit(line);
      } catch (error) {
        throw inventoryError(where, `cannot parse host line '${line}': ${(error as Error).message}`);
      }
      if (tokens.length === 0) continue;
      const [pattern, ...assignments] = tokens;
      if (pythonStrip(pattern).endsWith(':') && parseAddress(pattern)?.port === undefined) {
        throw inventoryError(where, `host '${pattern}' ends in ':' (reserved for a port)`);
      }
      if (pythonStrip(pattern) === '---') throw inventoryError(where, `'---' starts a YAML document: name the file hosts.yml if it is YAML`);
      const vars: [string, unknown][] = [];
      for (const assignment of assignments) {
        const eq = assignment.indexOf('=');
        if (eq < 0) throw inventoryError(where, `expected key=value host variable, got '${assignment}'`);
        vars.push([assignment.slice(0, eq), iniValue(assignment.slice(eq + 1))]);
      }
      addHostDefinition(b, pattern, group, vars, where);
    } else if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) throw inventoryError(where, `expected key=value in [${group}:vars], got '${line}'`);
      b.setGroupVar(group, pythonStrip(line.slice(0, eq)), iniValue(pythonStrip(line.slice(eq + 1))));
    } else {
      const m = INI_GROUP_NAME.exec(line);
      if (!m) throw inventoryError(where, `expected a group name in [${group}:children], got '${line}'`);
      const child = m[1];
      if (!b.groups.has(child)) {
        const waiting = pending.get(child);
        if (waiting) waiting.parents.push(group);
        else pending.set(child, { line: where.line, state: 'children', parents: [group] });
      } else {
        b.addChild(group, child, where);
      }
    }
  }
  for (const [name, decl] of pending) {
    if (decl.state === 'vars') {
      throw inventoryError({ file, line: decl.line }, `section [${name}:vars] is for a group that is never declared (add [${name}] or [${name}:children])`);
    }
    throw inventoryError(
      { file, line: decl.line },
      `section [${decl.parents[decl.parents.length - 1]}:children] includes group '${name}', which is never declared (add a [${name}] section)`,
    );
  }
}

function addPendingChildren(b: InventoryBuilder, group: string, pending: Map<string, { line: number; state: string; parents: string[] }>, file: string): void {
  const decl = pending.get(group)!;
  for (const parent of decl.parents) {
    b.addChild(parent, group, { file, line: decl.line });
    if (pending.get(parent)?.state === 'children') addPendingChildren(b, parent, pending, file);
  }
  pending.delete(group);
}

export function parseIniInventory(text: string, file: string): Inventory {
  const b = new InventoryBuilder();
  parseIniInto(b, text, file);
  return b.build();
}
