/**
 * The inventory as Ansible holds it (its InventoryData): hosts and groups in the order first seen, the
 * builder every reader fills, and the reconciliation (`all`, `ungrouped`) it runs once at the end.
 * A host name becomes a folder (host_vars/<host>/), so the builder refuses names that would not be one.
 */
import { shellQuote } from '../lib/shell-quote.js';
import { InfraError, ExitCode } from '../lib/errors.js';
import { dict, dictOf } from './dict.js';

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

export interface SourceLocation {
  file: string;
  line?: number;
}

const inventoryHint = (file: string) => `fix ${file}, then check it with \`ansible-inventory -i ${shellQuote(file)} --list\``;

export function inventoryError(where: SourceLocation, message: string): InfraError {
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

export const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** What the parsers record beyond the Inventory shape, so that merging can redo reconciliation like Ansible. */
interface ReconcileNotes {
  implicitAllChildren: Set<string>;
  implicitUngrouped: Set<string>;
  files: string[];
}
export const notesOf = new WeakMap<Inventory, ReconcileNotes>();

interface BuilderGroup {
  hosts: string[];
  children: string[];
  parents: string[];
  vars: Record<string, unknown>;
}

/** Mirrors Ansible's InventoryData while sources are read; build() reconciles once, at the end. */
export class InventoryBuilder {
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
