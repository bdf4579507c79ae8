/**
 * `infra env add NAME PATH`: an environment in infra.yml, and an empty hand-written inventory at PATH when
 * none exists there (infra reads inventories, never rewrites one it did not make). `--host` seeds that new
 * inventory with hosts, so a new registry reaches its first host without a hand edit.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { printable } from '../core/validate.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import type { Context } from './context.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface AddEnvironmentInput {
  name: string;
  path: string;
  /** HOST or HOST=ADDRESS (ansible_host). */
  hosts?: string[];
}

export interface AddEnvironmentResult {
  environment: string;
  path: string;
  inventory_created: boolean;
  hosts: string[];
  next: string[];
  written: string[];
}

/** The empty inventory `infra init` and `infra env add` write: infra may fill it once, since infra made it and nobody edited it. */
export const EMPTY_INVENTORY = '# Hand-written Ansible inventory: infra reads it, never rewrites it.\nall:\n  hosts: {}\n';

const ENV_RE = /^[a-z][a-z0-9_-]{0,31}$/;
/** What Ansible takes as a host name here, without patterns, ranges or anything YAML would read otherwise. */
const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const ADDRESS_RE = /^[A-Za-z0-9][A-Za-z0-9.:_-]{0,252}$/;

export async function addEnvironment(ctx: Context, input: AddEnvironmentInput): Promise<AddEnvironmentResult> {
  const example = 'infra env add production inventories/production --host bbb1=192.0.2.10';
  if (!ENV_RE.test(input.name)) throw new InfraError(ExitCode.invalid, `NAME: "${printable(input.name)}" is not an environment name (lowercase letters, digits, _ and -, at most 32)`, { hint: example });
  const rel = path.posix.normalize(input.path.replace(/\\/g, '/')).replace(/\/+$/, '');
  if (path.posix.isAbsolute(rel) || rel === '.' || rel.split('/').includes('..') || /[\0-\x1f]/.test(rel))
    throw new InfraError(ExitCode.invalid, `PATH: "${printable(input.path)}" must be a folder inside the registry, relative to it, without ..`, { hint: example });
  const hosts = (input.hosts ?? []).map((h) => {
    const [name, address, ...rest] = h.split('=');
    if (!HOST_RE.test(name) || rest.length || (address !== undefined && !ADDRESS_RE.test(address)))
      throw new InfraError(ExitCode.invalid, `--host: "${printable(h)}" is not HOST or HOST=ADDRESS (a host name; an IP address or DNS name)`, { hint: example });
    return { name, address };
  });
  if (new Set(hosts.map((h) => h.name)).size !== hosts.length) throw new InfraError(ExitCode.invalid, '--host: a host is named twice', { hint: example });

  const { result, written } = await ctx.store.mutate('env add', async (tx) => {
    const { config } = tx.registry;
    const sameEnvironment = config.environments[input.name] !== undefined && path.posix.normalize(config.environments[input.name]).replace(/\/+$/, '') === rel;
    // `infra init` made production with an empty inventory: `env add production PATH --host ...` fills it.
    const untouched = sameEnvironment && hosts.length > 0 && (await fs.readFile(path.join(tx.root, rel, 'hosts.yml'), 'utf8').catch(() => undefined)) === EMPTY_INVENTORY;
    if (untouched) {
      tx.writeFile(`${rel}/hosts.yml`, inventoryText(hosts));
      return { created: true };
    }
    if (input.name in config.environments) throw new InfraError(ExitCode.invalid, `environment ${input.name} already exists (${config.environments[input.name]})`, { hint: 'see infra.yml `environments`' });
    const taken = Object.entries(config.environments).find(([, p]) => path.posix.normalize(p).replace(/\/+$/, '') === rel);
    if (taken) throw new InfraError(ExitCode.invalid, `${rel} is already the inventory of environment ${taken[0]}: two environments may not share one host_vars/`, { hint: example });
    const folder = path.join(tx.root, rel);
    const existing = await fs.lstat(folder).catch(() => undefined);
    if (existing && !existing.isDirectory()) throw new InfraError(ExitCode.invalid, `${rel} exists and is not a folder`, { hint: example });
    const inventoryFiles = existing ? (await fs.readdir(folder)).filter((f) => ['hosts.yml', 'hosts.yaml', 'hosts'].includes(f)) : [];
    if (inventoryFiles.length && hosts.length)
      throw new InfraError(ExitCode.invalid, `${rel} already holds an inventory (${inventoryFiles.join(', ')}): infra never rewrites one; add the hosts there by hand`, { hint: `infra env add ${shellQuote(input.name)} ${shellQuote(rel)}` });
    const created = inventoryFiles.length === 0;
    if (created) tx.writeFile(`${rel}/hosts.yml`, inventoryText(hosts));
    tx.edit('infra.yml').set(['environments', input.name], rel);
    return { created };
  });
  return {
    environment: input.name,
    path: rel,
    inventory_created: result.created,
    hosts: hosts.map((h) => h.name),
    next: [
      ...(hosts.length ? [] : [`add hosts to ${rel}/hosts.yml (Ansible YAML inventory)`]),
      `infra grants add --groups GROUP --hosts all --user sysadmin --env ${shellQuote(input.name)}`,
    ],
    written,
  };
}

function inventoryText(hosts: Array<{ name: string; address?: string }>): string {
  if (!hosts.length) return EMPTY_INVENTORY;
  const all = { all: { hosts: Object.fromEntries(hosts.map((h) => [h.name, h.address ? { ansible_host: h.address } : null])) } };
  return `# Hand-written Ansible inventory: infra reads it, never rewrites it.\n${stringify(all, { lineWidth: 0 })}`;
}
