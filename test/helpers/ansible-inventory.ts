/**
 * The real `ansible-inventory --list` next to infra's reading of the same file, in one comparable shape:
 * every group with its direct hosts and children (in order; groups with neither are left out, as Ansible
 * leaves them out), and every host's own variables.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Inventory } from '../../src/core/inventory.js';

export interface InventoryList {
  groups: Record<string, { hosts?: string[]; children?: string[] }>;
  hostvars: Record<string, Record<string, unknown>>;
}

export type AnsibleReading = { parsed: true; list: InventoryList } | { parsed: false; stderr: string };

const ansibleEnv = (plugin: 'ini' | 'yaml') => ({
  ...process.env,
  ANSIBLE_INVENTORY_ENABLED: plugin, // the plugin infra picks for the file; no fallback to the other
  ANSIBLE_INVENTORY_UNPARSED_FAILED: 'True', // a file Ansible cannot read fails instead of giving an empty inventory
  ANSIBLE_NOCOLOR: '1',
  ANSIBLE_LOCALHOST_WARNING: 'False',
  ANSIBLE_LOCAL_TEMP: mkdtempSync(path.join(tmpdir(), 'infra-ansible-tmp-')),
});

/** `ansible-inventory -i file --list` with one plugin, killed after `timeoutMs`. */
export function ansibleInventoryList(file: string, plugin: 'ini' | 'yaml', timeoutMs = 30_000): Promise<AnsibleReading> {
  return new Promise((resolve, reject) => {
    execFile('ansible-inventory', ['-i', file, '--list'], { env: ansibleEnv(plugin), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error && (error as { killed?: boolean }).killed) return reject(new Error(`ansible-inventory timed out after ${timeoutMs} ms on ${file}`));
      if (error) return resolve({ parsed: false, stderr: String(stderr) });
      const { _meta: meta, ...rest } = JSON.parse(String(stdout)) as Record<string, unknown>;
      const raw = rest as Record<string, { hosts?: string[]; children?: string[] }>;
      const groups: InventoryList['groups'] = {};
      for (const [name, entry] of Object.entries(raw)) {
        const g: { hosts?: string[]; children?: string[] } = {};
        if (entry.hosts?.length) g.hosts = entry.hosts;
        if (entry.children?.length) g.children = entry.children;
        if (g.hosts || g.children) groups[name] = g;
      }
      resolve({ parsed: true, list: { groups, hostvars: (meta as { hostvars: InventoryList['hostvars'] }).hostvars } });
    });
  });
}

/** infra's Inventory in the shape above. */
export function inventoryList(inv: Inventory): InventoryList {
  const groups: InventoryList['groups'] = {};
  for (const [name, group] of inv.groups) {
    const g: { hosts?: string[]; children?: string[] } = {};
    // --list never shows the hosts of `all` (they are also in `ungrouped` or another group)
    if (group.hosts.size && name !== 'all') g.hosts = [...group.hosts];
    if (group.children.size) g.children = [...group.children];
    if (g.hosts || g.children) groups[name] = g;
  }
  const hostvars: InventoryList['hostvars'] = {};
  for (const [name, host] of inv.hosts) if (Object.keys(host.vars).length) hostvars[name] = { ...host.vars };
  return { groups, hostvars };
}

/**
 * The same, with each host's variables merged as `ansible-inventory --list` shows them: group variables by
 * group depth (`all` first, then deeper groups), then group name, then the host's own (Ansible's sort_groups
 * and combine_vars with the default `replace` behaviour).
 */
export function effectiveInventoryList(inv: Inventory): InventoryList {
  const list = inventoryList(inv);
  const depth = new Map<string, number>([['all', 0]]);
  const depthOf = (group: string): number => {
    const known = depth.get(group);
    if (known !== undefined) return known;
    let d = 0;
    for (const [parent, g] of inv.groups) if (g.children.has(group)) d = Math.max(d, depthOf(parent) + 1);
    depth.set(group, d);
    return d;
  };
  const hostvars: InventoryList['hostvars'] = {};
  for (const [name, host] of inv.hosts) {
    const groups = [...host.groups].sort((a, b) => depthOf(a) - depthOf(b) || (a < b ? -1 : a > b ? 1 : 0));
    const merged: Record<string, unknown> = {};
    for (const g of groups) Object.assign(merged, inv.groups.get(g)!.vars);
    Object.assign(merged, host.vars);
    if (Object.keys(merged).length) hostvars[name] = merged;
  }
  return { groups: list.groups, hostvars };
}
