/**
 * The vars files Ansible loads beside an inventory, found by the rules of ansible-core 2.14's
 * `host_group_vars` plugin (DataLoader.find_vars_files): for a host or group named N, the first of
 * `N` (a file, or a folder read recursively), `N.yml`, `N.yaml`, `N.json` that exists under host_vars/ or
 * group_vars/; inside a folder, sorted, every file with no extension or one of those three, skipping names
 * that start with `.` or end with `~`, descending only into folders without an extension.
 * Also every symbolic link there, which infra refuses (docs/reference.md "Vars files infra reads").
 */
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { hostsOfGroup, type Inventory } from '../core/inventory.js';
import { CONNECTION_VARS, type VarSource } from '../core/local-command-vars.js';
import { MAX_VARS_FILE_BYTES, readVarsFile, readVarsValues, type VarsFileReading } from '../core/vars-file.js';
import type { Problem } from '../lib/errors.js';

/** Ansible's YAML_FILENAME_EXTENSIONS, tried in this order after the bare name. */
const EXTENSIONS = ['.yml', '.yaml', '.json'];
/** Folders deeper than this under host_vars/ or group_vars/ are refused rather than walked. */
const MAX_DEPTH = 32;

/** Python's sorted() over str: by code point (JS compares UTF-16 units, which differs above U+FFFF). */
const byCodePoint = (a: string, b: string): number => {
  const [x, y] = [[...a], [...b]];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i].codePointAt(0)! - y[i].codePointAt(0)!;
  return x.length - y.length;
};

/** os.path.splitext(name)[1]: the last dot's suffix, leading dots not counting. */
const extensionOf = (name: string): string => {
  const stripped = name.replace(/^\.+/, '');
  const dot = stripped.lastIndexOf('.');
  return dot < 0 ? '' : stripped.slice(dot);
};

/**
 * lstat: a link is never followed here (Ansible would follow it; infra refuses it, see linkProblems), so a
 * link to / is not walked. A link still counts as "exists" where Ansible stops looking at the first match.
 */
const statOf = async (abs: string): Promise<Stats | undefined> => fs.lstat(abs).catch(() => undefined);

async function filesInFolder(root: string, rel: string, depth: number): Promise<string[]> {
  if (depth > MAX_DEPTH) return [];
  const names = (await fs.readdir(path.join(root, rel)).catch(() => [] as string[])).sort(byCodePoint);
  const found: string[] = [];
  for (const name of names) {
    if (name.startsWith('.') || name.endsWith('~')) continue; // hidden files and backups
    const ext = extensionOf(name);
    const child = `${rel}/${name}`;
    const stat = await statOf(path.join(root, child));
    if (stat?.isDirectory() && !ext) found.push(...(await filesInFolder(root, child, depth + 1)));
    else if (stat?.isFile() && (!ext || EXTENSIONS.includes(ext))) found.push(child);
  }
  return found;
}

/** The files Ansible loads for the host or group `name` from `dirRel` (`<inventory>/host_vars` or `.../group_vars`), in load order. */
export async function ansibleVarsFiles(root: string, dirRel: string, name: string, present?: ReadonlySet<string>): Promise<string[]> {
  if (name.startsWith('/')) return []; // Ansible skips "chroot" style names
  for (const ext of ['', ...EXTENSIONS]) {
    if (present && !present.has(`${name}${ext}`)) continue; // not in the folder's listing: no stat needed
    const rel = `${dirRel}/${name}${ext}`;
    const stat = await statOf(path.join(root, rel));
    if (!stat) continue;
    if (stat.isSymbolicLink()) return []; // refused as a link, not read
    return stat.isDirectory() ? filesInFolder(root, rel, 1) : [rel];
  }
  return [];
}

export interface VarsFileFound {
  /** Relative to the registry root, with /. */
  path: string;
  reading: VarsFileReading;
}

const base = (folder: string) => (folder === '.' || folder === '' ? '' : `${folder.replace(/\/+$/, '')}/`);

/**
 * Every vars file Ansible loads for some host or group of `inventory` from `folder`'s host_vars/ and
 * group_vars/, each read once (see readVarsFile). Links are not read here: linkProblems reports them.
 */
export async function varsFilesLoaded(root: string, folder: string, inventory: Inventory, skip: (rel: string) => boolean = () => false): Promise<VarsFileFound[]> {
  const paths = new Set<string>();
  // one listing of each folder instead of four stats per host (thousands of hosts have no file of their own);
  // a folder that is, or is under, a link is refused as such and not listed
  const listing = async (rel: string) => ((await linkOnPath(root, rel)) !== undefined ? new Set<string>() : new Set(await fs.readdir(path.join(root, rel)).catch(() => [] as string[])));
  const [hostNames, groupNames] = await Promise.all([listing(`${base(folder)}host_vars`), listing(`${base(folder)}group_vars`)]);
  for (const host of inventory.hosts.keys()) for (const p of await ansibleVarsFiles(root, `${base(folder)}host_vars`, host, hostNames)) paths.add(p);
  for (const group of inventory.groups.keys()) for (const p of await ansibleVarsFiles(root, `${base(folder)}group_vars`, group, groupNames)) paths.add(p);
  const out: VarsFileFound[] = [];
  for (const rel of [...paths].sort(byCodePoint)) {
    if (skip(rel)) continue;
    const abs = path.join(root, rel);
    const stat = await fs.lstat(abs);
    if (stat.isSymbolicLink() || (await isUnderLink(root, rel))) continue; // refused as a link
    if (!stat.isFile()) {
      out.push({ path: rel, reading: { unreadable: 'is not a regular file (a FIFO or device), which infra does not read' } });
      continue;
    }
    const tooBig = stat.size > MAX_VARS_FILE_BYTES; // not read at all
    out.push({ path: rel, reading: tooBig ? readVarsFile(new Uint8Array(MAX_VARS_FILE_BYTES + 1)) : readVarsFile(await fs.readFile(abs)) });
  }
  return out;
}

async function isUnderLink(root: string, rel: string): Promise<boolean> {
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) if ((await fs.lstat(path.join(root, ...parts.slice(0, i))).catch(() => undefined))?.isSymbolicLink()) return true;
  return false;
}

/** A symbolic link where Ansible reads vars files: refused, whether it leads inside the registry or out. */
function linkProblem(rel: string): Problem {
  return {
    file: rel,
    field: '(link)',
    message: 'is a symbolic link: infra refuses links in host_vars/ and group_vars/ (one host would get, or render would write, another\'s variables); replace it with the real file or folder',
  };
}

/**
 * Every symbolic link on the way to `folder`'s host_vars/ and group_vars/ or anywhere under them (hidden
 * names too), and every folder nested deeper than infra looks.
 */
export async function linkProblems(root: string, folder: string): Promise<Problem[]> {
  const problems: Problem[] = [];
  const parts = base(folder).split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join('/');
    if (rel === '..' || rel.startsWith('../')) return problems; // outside the registry: not render's to walk
    if ((await fs.lstat(path.join(root, rel)).catch(() => undefined))?.isSymbolicLink()) return [linkProblem(rel)];
  }
  const walk = async (rel: string, depth: number): Promise<void> => {
    const stat = await fs.lstat(path.join(root, rel)).catch(() => undefined);
    if (!stat) return;
    if (stat.isSymbolicLink()) return void problems.push(linkProblem(rel));
    if (!stat.isDirectory()) return;
    if (depth > MAX_DEPTH) return void problems.push({ file: rel, field: '(folder)', message: `nests deeper than ${MAX_DEPTH} folders, more than infra reads: flatten it` });
    for (const name of (await fs.readdir(path.join(root, rel))).sort(byCodePoint)) await walk(`${rel}/${name}`, depth + 1);
  };
  await walk(`${base(folder)}host_vars`, 0);
  await walk(`${base(folder)}group_vars`, 0);
  return problems;
}

/** The files Ansible loads for `host` of `inventory` from `folder`: its host_vars, then every group it is in (`all` included). */
export async function varsFilesForHost(root: string, folder: string, inventory: Inventory, host: string): Promise<string[]> {
  const files = await ansibleVarsFiles(root, `${base(folder)}host_vars`, host);
  for (const group of inventory.hosts.get(host)?.groups ?? []) files.push(...(await ansibleVarsFiles(root, `${base(folder)}group_vars`, group)));
  return files;
}

/**
 * The first part of `rel` (relative to `root`; the file itself included) that is a symbolic link, or
 * undefined: a write there would land wherever the link points (another group's vars, or out of the registry).
 */
export async function linkOnPath(root: string, rel: string): Promise<string | undefined> {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    const stat = await fs.lstat(path.join(root, prefix)).catch(() => undefined);
    if (!stat) return undefined; // nothing below a missing part exists yet
    if (stat.isSymbolicLink()) return prefix;
  }
  return undefined;
}

/**
 * Where the inventory at `inventoryPath` (its own host and group variables) and the vars files beside it set
 * a connection variable (CONNECTION_VARS), with the hosts each applies to: what localCommandSettings judges.
 */
export async function connectionSources(root: string, folder: string, inventory: Inventory, inventoryPath: string): Promise<VarSource[]> {
  const wanted = (vars: Readonly<Record<string, unknown>>) => {
    const picked: Record<string, unknown> = {};
    for (const name of CONNECTION_VARS) if (Object.hasOwn(vars, name)) picked[name] = vars[name];
    return picked;
  };
  const sources: VarSource[] = [];
  const push = (where: string, hosts: readonly string[], vars: Record<string, unknown>) => {
    if (Object.keys(vars).length) sources.push({ where, hosts, vars });
  };
  const linked = new Set<string>();
  for (const dir of ['host_vars', 'group_vars']) if ((await linkOnPath(root, `${base(folder)}${dir}`)) !== undefined) linked.add(dir);
  const fromFile = async (rel: string) => {
    const stat = await fs.lstat(path.join(root, rel)).catch(() => undefined);
    if (!stat?.isFile() || stat.size > MAX_VARS_FILE_BYTES) return {}; // links and big files are refused elsewhere
    const bytes = await fs.readFile(path.join(root, rel));
    return readVarsValues(bytes.toString('utf8'), CONNECTION_VARS);
  };
  for (const [group, g] of inventory.groups) push(`${inventoryPath} (group ${group})`, hostsOfGroup(inventory, group), wanted(g.vars));
  for (const [host, h] of inventory.hosts) push(`${inventoryPath} (host ${host})`, [host], wanted(h.vars));
  if (!linked.has('group_vars'))
    for (const group of inventory.groups.keys())
      for (const rel of await ansibleVarsFiles(root, `${base(folder)}group_vars`, group)) push(rel, hostsOfGroup(inventory, group), await fromFile(rel));
  if (!linked.has('host_vars'))
    for (const host of inventory.hosts.keys()) for (const rel of await ansibleVarsFiles(root, `${base(folder)}host_vars`, host)) push(rel, [host], await fromFile(rel));
  return sources;
}
