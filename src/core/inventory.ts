/**
 * Ansible inventories as Ansible reads them (ansible-core 2.14 `yaml` and `ini` inventory plugins),
 * from file text: no fs here. The model mirrors Ansible's InventoryData: groups and hosts keep the order
 * in which they were first seen, `all` and `ungrouped` always exist, and the same reconciliation runs
 * after every source is read (top-level groups become children of `all`, hosts in no group go to `ungrouped`).
 */
import { parseDocument, LineCounter, isMap, isScalar, isAlias, isSeq, visit, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { InfraError, ExitCode } from '../lib/errors.js';
import { dict, dictOf } from './dict.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface InventoryHost {
  /** Every group the host is in, directly or through children, including `all` (and `ungrouped` when it is there); in group order. */
  groups: Set<string>;
  /** The host's own variables (not merged with group vars; null prototype). `host:port` sets ansible_port, as Ansible does. */
  vars: Record<string, unknown>;
}

export interface InventoryGroup {
  /** Hosts listed directly in the group, in file order. */
  hosts: Set<string>;
  /** Direct child groups, in file order. */
  children: Set<string>;
  vars: Record<string, unknown>;
}

export interface Inventory {
  /** In the order Ansible first saw them (what wildcard and regex patterns iterate). */
  hosts: Map<string, InventoryHost>;
  /** `all`, `ungrouped`, then every group in the order Ansible first saw it. */
  groups: Map<string, InventoryGroup>;
  /** Order Ansible lists hosts in for `all`. */
  hostOrder: string[];
}

interface SourceLocation {
  file: string;
  line?: number;
}

const inventoryHint = (file: string) => `fix ${file}, then check it with \`ansible-inventory -i ${shellQuote(file)} --list\``;

function inventoryError(where: SourceLocation, message: string): InfraError {
  const at = where.line ? `${where.file}:${where.line}` : where.file;
  return new InfraError(ExitCode.invalid, `${at}: ${message}`, {
    hint: inventoryHint(where.file),
    problems: [{ file: where.file, line: where.line, field: 'inventory', message }],
  });
}

/** A file name's limit on Linux and macOS (NAME_MAX): a longer host name passed `check` and failed `render` with ENAMETOOLONG. */
export const MAX_HOST_NAME_BYTES = 255;

/**
 * A host name becomes the folder host_vars/<host>/, so it must not climb out of it or hide, and must fit.
 * Returns what is wrong, or undefined.
 */
export function unsafeHostNameReason(name: string): string | undefined {
  if (name === '') return 'a host name is empty';
  if (name.startsWith('.')) return `host name '${name}' starts with '.' (it would escape or hide in host_vars/)`;
  if (name.includes('/') || name.includes('\\')) return `host name '${name}' contains a path separator (it would escape host_vars/)`;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return `host name ${JSON.stringify(name)} contains a control character`;
  const invisible = INVISIBLE_RE.exec(name);
  if (invisible) return `host name ${JSON.stringify(name)} contains ${codePoint(invisible[0])}, an invisible or look-alike space: Ansible keeps it in the name`;
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > MAX_HOST_NAME_BYTES)
    return `host name '${name.slice(0, 40)}...' is ${bytes} bytes long: it becomes the folder host_vars/<host>/, and a file name holds at most ${MAX_HOST_NAME_BYTES} bytes`;
  return undefined;
}

/**
 * Spaces other than ASCII's, zero-width and direction characters, the byte-order mark: a name holding one
 * looks like another name (or like a name followed by variables), but Ansible treats it as a different one.
 */
const INVISIBLE_RE = /[\u00a0\u00ad\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]/u;

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** Python's str.isspace(): what Ansible's `line.strip()` removes and what `\s` matches in its regexes (JavaScript's `\s` differs: it has U+FEFF but not U+001C-U+001F or U+0085). */
const PY_SPACE = String.raw`\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000`;
const PY_STRIP_RE = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');

/** Python's str.strip() with no argument. */
export function pythonStrip(text: string): string {
  return text.replace(PY_STRIP_RE, '');
}

/**
 * Characters Python's str.splitlines() (how Ansible's INI plugin cuts a file into lines) breaks a line at,
 * beyond the \n, \r\n and \r that editors, `git diff` and reviewers see as line ends.
 */
const HIDDEN_INI_BREAK_RE = /[\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

/**
 * What PyYAML (Ansible's YAML reader) reads differently from the `yaml` package: its line breaks that editors
 * do not show (U+0085, U+2028, U+2029), characters it refuses outright, and a byte-order mark after the start.
 */
const YAML_MISREAD_RE = /[\x85\u2028\u2029]|[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]|(?<!^)\ufeff/gu;

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) line++;
  }
  return line;
}

/**
 * Refuses a file in which Ansible would see other lines than an editor shows; every place is listed
 * with its line (as an editor counts lines: at \n, \r\n and \r).
 */
function refuseMisreadCharacters(text: string, file: string, re: RegExp, why: (c: string) => string): void {
  const problems: Array<{ file: string; line: number; field: string; message: string }> = [];
  for (const m of text.matchAll(re)) {
    problems.push({ file, line: lineAt(text, m.index!), field: 'inventory', message: `${codePoint(m[0])} ${why(m[0])}` });
    if (problems.length >= 20) break;
  }
  if (problems.length === 0) return;
  const first = problems[0];
  throw new InfraError(ExitCode.invalid, `${first.file}:${first.line}: ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`, {
    hint: `remove the character${problems.length > 1 ? 's' : ''} from ${file} (\`grep -nP '[^\\x09\\x20-\\x7e]' ${shellQuote(file)}\` shows the lines), then check it with \`ansible-inventory -i ${shellQuote(file)} --list\``,
    problems,
  });
}

/** What the parsers record beyond the Inventory shape, so that merging can redo reconciliation like Ansible. */
interface ReconcileNotes {
  implicitAllChildren: Set<string>;
  implicitUngrouped: Set<string>;
  files: string[];
}
const notesOf = new WeakMap<Inventory, ReconcileNotes>();

interface BuilderGroup {
  hosts: string[];
  children: string[];
  parents: string[];
  vars: Record<string, unknown>;
}

/** Mirrors Ansible's InventoryData while sources are read; build() reconciles once, at the end. */
class InventoryBuilder {
  readonly groups = new Map<string, BuilderGroup>();
  readonly hosts = new Map<string, { directGroups: Set<string>; vars: Record<string, unknown> }>();
  readonly files: string[] = [];

  constructor() {
    this.addGroup('all');
    this.addGroup('ungrouped');
    this.addChild('all', 'ungrouped', { file: '(built-in)' });
  }

  addGroup(name: string): void {
    if (!this.groups.has(name)) this.groups.set(name, { hosts: [], children: [], parents: [], vars: dict() });
  }

  addHost(name: string, group: string | undefined, where: SourceLocation): void {
    const unsafe = unsafeHostNameReason(name);
    if (unsafe) throw inventoryError(where, unsafe);
    let host = this.hosts.get(name);
    if (!host) {
      host = { directGroups: new Set(), vars: dict() };
      this.hosts.set(name, host);
    }
    if (group !== undefined) {
      const g = this.groups.get(group)!;
      if (!host.directGroups.has(group)) {
        g.hosts.push(name);
        host.directGroups.add(group);
      }
    }
  }

  removeHostFromGroup(name: string, group: string): void {
    const g = this.groups.get(group)!;
    g.hosts = g.hosts.filter((h) => h !== name);
    this.hosts.get(name)!.directGroups.delete(group);
  }

  addChild(parent: string, child: string, where: SourceLocation): void {
    const p = this.groups.get(parent)!;
    const c = this.groups.get(child)!;
    if (p.children.includes(child)) return;
    if (parent === child || this.ancestorsOf(parent).has(child)) {
      throw inventoryError(where, `adding group '${child}' as a child of '${parent}' creates a loop of groups`);
    }
    p.children.push(child);
    if (!c.parents.includes(parent)) c.parents.push(parent);
  }

  ancestorsOf(group: string): Set<string> {
    const seen = new Set<string>();
    const stack = [...this.groups.get(group)!.parents];
    while (stack.length) {
      const g = stack.pop()!;
      if (seen.has(g)) continue;
      seen.add(g);
      stack.push(...this.groups.get(g)!.parents);
    }
    return seen;
  }

  setHostVar(host: string, key: string, value: unknown): void {
    this.hosts.get(host)!.vars[key] = value;
  }

  setGroupVar(group: string, key: string, value: unknown): void {
    this.groups.get(group)!.vars[key] = value;
  }

  /** Ansible's reconcile_inventory, then the read-only Inventory. */
  build(): Inventory {
    const implicitAllChildren = new Set<string>();
    for (const [name, group] of this.groups) {
      if (name !== 'all' && group.parents.length === 0) {
        this.addChild('all', name, { file: this.files.join(', ') });
        implicitAllChildren.add(name);
      }
    }
    const implicitUngrouped = new Set<string>();
    for (const [name, host] of this.hosts) {
      const realGroups = [...host.directGroups].filter((g) => g !== 'all' && g !== 'ungrouped');
      if (host.directGroups.has('ungrouped')) {
        if (realGroups.length > 0) this.removeHostFromGroup(name, 'ungrouped');
      } else if (realGroups.length === 0) {
        this.addHost(name, 'ungrouped', { file: this.files.join(', ') });
        implicitUngrouped.add(name);
      }
    }

    const groups = new Map<string, InventoryGroup>();
    for (const [name, g] of this.groups) {
      groups.set(name, { hosts: new Set(g.hosts), children: new Set(g.children), vars: dictOf(Object.entries(g.vars)) });
    }
    const hosts = new Map<string, InventoryHost>();
    for (const [name, h] of this.hosts) hosts.set(name, { groups: new Set(), vars: dictOf(Object.entries(h.vars)) });
    const partial: Inventory = { hosts, groups, hostOrder: [] };
    for (const groupName of groups.keys()) {
      for (const host of hostsOfGroup(partial, groupName)) hosts.get(host)!.groups.add(groupName);
    }
    partial.hostOrder = hostsOfGroup(partial, 'all');
    notesOf.set(partial, { implicitAllChildren, implicitUngrouped, files: [...this.files] });
    return partial;
  }
}

/**
 * The hosts of a group and of all its descendants, in Ansible's order: the group's own hosts, then its
 * children's, then grandchildren's (breadth first). Ansible walks the levels below the first through a
 * Python set, so when several groups on one level have children its order there is not defined;
 * infra keeps the order in which the groups were listed.
 */
export function hostsOfGroup(inv: Inventory, groupName: string): string[] {
  const root = inv.groups.get(groupName);
  if (!root) return [];
  const ordered = [groupName, ...root.children];
  const seen = new Set(ordered);
  let level = [...root.children];
  while (level.length) {
    const next: string[] = [];
    for (const g of level) {
      for (const child of inv.groups.get(g)!.children) {
        if (!seen.has(child)) {
          seen.add(child);
          ordered.push(child);
          next.push(child);
        }
      }
    }
    level = next;
  }
  const hosts: string[] = [];
  const seenHosts = new Set<string>();
  for (const g of ordered) {
    for (const h of inv.groups.get(g)!.hosts) {
      if (!seenHosts.has(h)) {
        seenHosts.add(h);
        hosts.push(h);
      }
    }
  }
  return hosts;
}

// ---------------------------------------------------------------------------------------------
// Host names, ranges and ports (ansible.parsing.utils.addresses and the inventory base plugin)

const NUMERIC_RANGE = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const HEX_RANGE = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`;
const ALNUM_RANGE = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const IPV4_PART = String.raw`(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${NUMERIC_RANGE})`;
const IPV6_PART = String.raw`(?:[0-9a-f]{1,4}|${HEX_RANGE})`;
const LABEL = String.raw`(?:[\p{L}\p{N}_]|${ALNUM_RANGE})(?:[\p{L}\p{N}_-]|${ALNUM_RANGE})*(?<![_-])`;
const ADDRESS = {
  bracketedHostPort: /^\[(.+)\]:([0-9]+)$/,
  hostPort: /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/,
  ipv4: new RegExp(String.raw`^(?:${IPV4_PART}\.){3}${IPV4_PART}$`, 'i'),
  ipv6: new RegExp(
    '^(?:' +
      [
        `(?:${IPV6_PART}:){7}${IPV6_PART}`,
        `(?:${IPV6_PART}:){1,6}:`,
        `(?:${IPV6_PART}:)(?::${IPV6_PART}){1,6}`,
        `(?:${IPV6_PART}:){2}(?::${IPV6_PART}){1,5}`,
        `(?:${IPV6_PART}:){3}(?::${IPV6_PART}){1,4}`,
        `(?:${IPV6_PART}:){4}(?::${IPV6_PART}){1,3}`,
        `(?:${IPV6_PART}:){5}(?::${IPV6_PART}){1,2}`,
        `(?:${IPV6_PART}:){6}(?::${IPV6_PART})`,
        `:(?::${IPV6_PART}){1,6}`,
        `${IPV6_PART}?::`,
        String.raw`(?:0:){6}(?:${IPV6_PART}\.){3}${IPV6_PART}`,
        String.raw`::(?:ffff:)?(?:${IPV6_PART}\.){3}${IPV6_PART}`,
        String.raw`(?:0:){5}ffff:(?:${IPV6_PART}\.){3}${IPV6_PART}`,
      ].join('|') +
      ')$',
    'i',
  ),
  hostname: new RegExp(String.raw`^${LABEL}(?:\.${LABEL})*$`, 'iu'),
};

/**
 * Ansible's parse_address(address, allow_ranges=True): a host name, IPv4 or IPv6 address (ranges allowed)
 * with an optional port; undefined when it is none of these.
 */
export function parseAddress(address: string): { host: string; port?: number } | undefined {
  let rest = address;
  let port: number | undefined;
  for (const re of [ADDRESS.bracketedHostPort, ADDRESS.hostPort]) {
    const m = re.exec(rest);
    if (m) {
      rest = m[1];
      port = Number(m[2]);
    }
  }
  if (ADDRESS.ipv4.test(rest) || ADDRESS.ipv6.test(rest) || ADDRESS.hostname.test(rest)) return { host: rest, port };
  return undefined;
}

const ASCII_LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Ansible's expand_hostname_range: db[01:03]-x, web[a:c], [1:9:2] steps, several ranges in one name. */
export function expandHostRange(name: string): string[] {
  if (!name.includes('[')) return [name];
  const open = name.indexOf('[');
  const close = name.indexOf(']', open);
  if (close < 0 || name.indexOf(']') < open) throw new Error(`host range in '${name}' is not closed with ']'`);
  const head = name.slice(0, open);
  const tail = name.slice(close + 1);
  const bounds = name.slice(open + 1, close).split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new Error(`host range in '${name}' must be begin:end or begin:end:step`);
  const begin = bounds[0] || '0';
  const end = bounds[1];
  const step = bounds.length === 3 ? parsePythonInt(bounds[2], name) : 1;
  if (!end) throw new Error(`host range in '${name}' must specify an end value`);
  if (step === 0) throw new Error(`host range in '${name}' has a step of 0`);
  let fill = (x: string | number) => String(x);
  if (begin[0] === '0' && begin.length > 1) {
    if (begin.length !== end.length) throw new Error(`host range in '${name}' must have begin and end of equal length`);
    fill = (x) => String(x).padStart(begin.length, '0');
  }
  let sequence: (string | number)[];
  const iBegin = ASCII_LETTERS.indexOf(begin);
  const iEnd = ASCII_LETTERS.indexOf(end);
  if (iBegin >= 0 && iEnd >= 0) {
    if (iBegin > iEnd) throw new Error(`host range in '${name}' must have begin <= end`);
    if (step < 0) throw new Error(`host range in '${name}' has a negative step`);
    sequence = [];
    for (let i = iBegin; i <= iEnd; i += step) sequence.push(ASCII_LETTERS.slice(i, i + 1));
  } else {
    const from = parsePythonInt(begin, name);
    const to = parsePythonInt(end, name) + 1;
    sequence = [];
    if (step > 0) for (let i = from; i < to; i += step) sequence.push(i);
    else for (let i = from; i > to; i += step) sequence.push(i);
  }
  return sequence.flatMap((item) => expandHostRange(head + fill(item) + tail));
}

function parsePythonInt(text: string, name: string): number {
  if (!/^\s*[+-]?[0-9]+\s*$/.test(text)) throw new Error(`host range in '${name}' has '${text}', which is not a number or a letter`);
  return Number.parseInt(text, 10);
}

/** The base inventory plugin's _expand_hostpattern: names (ranges expanded) and an optional port. */
function expandHostPattern(pattern: string): { names: string[]; port?: number } {
  const address = parseAddress(pattern);
  const base = address ? address.host : pattern;
  return { names: expandHostRange(base), port: address?.port };
}

function addHostDefinition(b: InventoryBuilder, pattern: string, group: string, vars: [string, unknown][], where: SourceLocation): void {
  let expanded: { names: string[]; port?: number };
  try {
    expanded = expandHostPattern(pattern);
  } catch (error) {
    throw inventoryError(where, (error as Error).message);
  }
  for (const name of expanded.names) {
    b.addHost(name, group, where);
    if (expanded.port !== undefined) b.setHostVar(name, 'ansible_port', expanded.port);
    for (const [k, v] of vars) b.setHostVar(name, k, v);
  }
}

// ---------------------------------------------------------------------------------------------
// INI

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

// ---------------------------------------------------------------------------------------------
// YAML

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

/**
 * Several inventory files read as one, like an inventory folder in Ansible: later files add hosts,
 * groups and children, later variables win, and reconciliation (`all`, `ungrouped`) runs over the whole.
 */
export function mergeInventories(parts: Inventory[]): Inventory {
  const b = new InventoryBuilder();
  for (const part of parts) {
    const notes = notesOf.get(part) ?? { implicitAllChildren: new Set<string>(), implicitUngrouped: new Set<string>(), files: ['(inventory)'] };
    b.files.push(...notes.files);
    const where = { file: notes.files.join(', ') };
    for (const name of part.hosts.keys()) b.addHost(name, undefined, where);
    for (const name of part.groups.keys()) b.addGroup(name);
    for (const [name, group] of part.groups) {
      for (const host of group.hosts) {
        if (name === 'ungrouped' && notes.implicitUngrouped.has(host)) continue;
        b.addHost(host, name, where);
      }
      for (const child of group.children) {
        if (name === 'all' && notes.implicitAllChildren.has(child)) continue;
        b.addChild(name, child, where);
      }
      for (const [k, v] of Object.entries(group.vars)) b.setGroupVar(name, k, v);
    }
    for (const [name, host] of part.hosts) for (const [k, v] of Object.entries(host.vars)) b.setHostVar(name, k, v);
  }
  return b.build();
}
