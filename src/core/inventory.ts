/**
 * Ansible inventories as Ansible reads them (ansible-core 2.14 `yaml` and `ini` inventory plugins),
 * from file text: no fs here. The model mirrors Ansible's InventoryData: groups and hosts keep the order
 * in which they were first seen, `all` and `ungrouped` always exist, and the same reconciliation runs
 * after every source is read (top-level groups become children of `all`, hosts in no group go to `ungrouped`).
 *
 * One file per job: inventory-model.ts (the model and its builder), inventory-ini.ts and
 * inventory-yaml.ts (the two plugins), inventory-hosts.ts (host names, ranges and ports),
 * inventory-characters.ts (what Python reads differently); this module is what the rest of infra imports.
 */
import { InventoryBuilder, notesOf, type Inventory } from './inventory-model.js';

export { hostsOfGroup, MAX_HOST_NAME_BYTES, unsafeHostNameReason, type Inventory, type InventoryGroup, type InventoryHost } from './inventory-model.js';
export { pythonStrip } from './inventory-characters.js';
export { expandHostRange, parseAddress } from './inventory-hosts.js';
export { iniValue, parseIniInventory, shlexSplit } from './inventory-ini.js';
export { looksLikeYamlInventory, parseYamlInventory } from './inventory-yaml.js';


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
