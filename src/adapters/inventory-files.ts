/**
 * Reads an environment's hand-written inventory from disk (docs/reference.md, "The registry"): inventories/<env>/ holding
 * hosts.yml, hosts.yaml and/or an INI `hosts` file, or a path to one such file. Parsing is the pure core's.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ExitCode, InfraError } from '../lib/errors.js';
import { looksLikeYamlInventory, mergeInventories, parseIniInventory, parseYamlInventory, type Inventory } from '../core/inventory.js';

/** Sorted like Ansible lists an inventory folder, so merged order matches `ansible -i <folder>`. */
export const INVENTORY_FILES = ['hosts', 'hosts.yaml', 'hosts.yml'] as const;

/** Parses one inventory file's text the way Ansible picks a plugin for it. */
export function parseInventoryFile(text: string, displayPath: string): Inventory {
  const base = path.basename(displayPath);
  if (/\.(ya?ml|json)$/i.test(base)) return parseYamlInventory(text, displayPath);
  // Ansible tries its YAML plugin before INI on files without an extension
  return looksLikeYamlInventory(text) ? parseYamlInventory(text, displayPath) : parseIniInventory(text, displayPath);
}

/**
 * `dir` is the inventory folder (or file) on disk; `displayPath` is how messages name it (relative to the
 * registry root); `environment` names the infra.yml environment that points at it, for the error when missing.
 */
export async function loadInventory(dir: string, displayPath: string, environment?: string): Promise<Inventory> {
  const referredBy = environment ? ` (environments.${environment} in infra.yml)` : '';
  let stat;
  try {
    stat = await fs.stat(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new InfraError(ExitCode.invalid, `inventory folder ${displayPath} does not exist${referredBy}`, {
      hint: `create ${path.posix.join(displayPath, 'hosts.yml')} (or an INI ${path.posix.join(displayPath, 'hosts')}), or fix the path in infra.yml`,
      problems: [{ file: 'infra.yml', field: environment ? `environments.${environment}` : 'environments', message: `${displayPath} does not exist` }],
    });
  }
  if (stat.isFile()) return parseInventoryFile(await fs.readFile(dir, 'utf8'), displayPath);

  const parts: Inventory[] = [];
  for (const name of INVENTORY_FILES) {
    const file = path.join(dir, name);
    let text: string;
    try {
      if (!(await fs.stat(file)).isFile()) continue;
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    parts.push(parseInventoryFile(text, path.posix.join(displayPath, name)));
  }
  if (parts.length === 0) {
    throw new InfraError(ExitCode.invalid, `inventory folder ${displayPath}${referredBy} has no hosts.yml, hosts.yaml or INI hosts file`, {
      hint: `create ${path.posix.join(displayPath, 'hosts.yml')} listing the environment's hosts`,
    });
  }
  return parts.length === 1 ? parts[0] : mergeInventories(parts);
}
