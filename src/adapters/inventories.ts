/**
 * The registry's inventories on disk: loading every environment's inventory, reading what the last
 * render wrote, and the problems `infra check` and `infra render` refuse to go on with (missing or
 * unparsable inventories, host patterns that select nothing anywhere, host names that would leave host_vars/).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { environmentNames, grantCoversEnvironment } from '../core/grants.js';
import { resolvePattern } from '../core/host-pattern.js';
import { mergeInventories, unsafeHostNameReason, type Inventory } from '../core/inventory.js';
import { GENERATED_FILE, PLAYBOOK_SETTINGS, hostVarsPrefix, vpnRangesOf } from '../core/render.js';
import { fieldName, type Path } from '../core/validate.js';
import type { VarFile } from '../core/audit.js';
import { unreadableVarsFix } from '../core/vars-file.js';
import { InfraError, invalidRegistry, type Problem } from '../lib/errors.js';
import { loadInventory } from './inventory-files.js';
import { linkProblems, varsFilesLoaded } from './vars-files.js';
import { CONFIG_FILE } from './registry-root.js';
import type { Loaded } from './registry-load.js';

/** Each environment's inventory (all of them, or the ones named), or an error listing every problem. */
export async function loadInventories(loaded: Loaded, environments?: readonly string[]): Promise<Record<string, Inventory>> {
  const { inventories, problems } = await readInventories(loaded, environments ?? environmentNames(loaded.registry.config));
  if (problems.length) throw invalidRegistry(problems, 'fix the inventory, then run `infra check`');
  return inventories;
}

interface Inspected {
  inventories: Record<string, Inventory>;
  /** Environment -> the folder its host_vars/ sits in (see inventoryFolder), for every environment that loads. */
  folders: Record<string, string>;
  problems: Problem[];
}

async function readInventories(loaded: Loaded, environments: readonly string[]): Promise<Inspected> {
  const { root, config } = loaded.registry;
  const inventories: Record<string, Inventory> = {};
  const folders: Record<string, string> = {};
  const problems: Problem[] = [];
  for (const env of environments) {
    const folder = config.environments[env];
    try {
      inventories[env] = await loadInventory(path.join(root, folder), folder, env);
      folders[env] = await inventoryFolder(root, folder);
    } catch (e) {
      if (!(e instanceof InfraError)) throw e;
      if (e.problems.length)
        problems.push(...e.problems.map((p) => (p.file === CONFIG_FILE && p.line === undefined ? { ...p, line: loaded.located.configLine(['environments', env]) } : p)));
      else problems.push({ file: folder, field: 'inventory', message: e.hint ? `${e.message} (${e.hint})` : e.message });
    }
  }
  return { inventories, folders, problems };
}

/**
 * Where an environment's host_vars/ sits, relative to the registry root: its path in infra.yml when that
 * is a folder, or the folder holding it when it names an inventory file, as Ansible reads
 * `-i inventories/staging/hosts` with inventories/staging/host_vars/. A path that does not exist stays as it is.
 */
export async function inventoryFolder(root: string, environmentPath: string): Promise<string> {
  const normalized = path.posix.normalize(environmentPath.replace(/\\/g, '/')).replace(/(.)\/+$/, '$1');
  try {
    if ((await fs.stat(path.join(root, normalized))).isFile()) return path.posix.dirname(normalized);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
  }
  return normalized;
}

/**
 * Every environment's inventory that loads, where its host_vars/ sits, and every problem between
 * infra.yml and the inventories.
 */
export async function inspectInventories(loaded: Loaded): Promise<Inspected> {
  const { config } = loaded.registry;
  const envs = environmentNames(config);
  const { inventories, folders, problems } = await readInventories(loaded, envs);
  const at = (p: Path, message: string): Problem => ({ file: CONFIG_FILE, line: loaded.located.configLine(p), field: fieldName(p), message });

  // Two environments sharing one host_vars/ would write, and remove, each other's generated files.
  const envsByFolder = new Map<string, string[]>();
  for (const env of envs) if (folders[env] !== undefined) envsByFolder.set(folders[env], [...(envsByFolder.get(folders[env]) ?? []), env]);
  for (const [folder, sharing] of envsByFolder)
    for (const env of sharing.slice(1))
      problems.push(
        at(['environments', env], `${config.environments[env]} keeps its host_vars/ in ${folder}/, as environments.${sharing[0]} does: give each environment its own inventory folder`),
      );

  for (const env of envs) {
    const inv = inventories[env];
    if (!inv) continue;
    for (const host of inv.hosts.keys()) {
      const unsafe = unsafeHostNameReason(host) ?? (host === '..' || host === '.' ? `host name '${host}' would escape host_vars/` : undefined);
      if (unsafe) problems.push({ file: config.environments[env], field: 'inventory', message: unsafe });
    }
  }

  // A pattern must name something in at least one environment it covers: a typo must not grant nothing in silence.
  const patternProblem = (pattern: string, covered: string[]): string | undefined => {
    const loadedEnvs = covered.filter((e) => inventories[e]);
    if (loadedEnvs.length === 0) return undefined; // the inventory's own problem is reported already
    const errors: string[] = [];
    for (const env of loadedEnvs) {
      try {
        resolvePattern(pattern, inventories[env], { strict: true, inventoryPath: config.environments[env] });
        return undefined;
      } catch (e) {
        if (!(e instanceof InfraError)) throw e;
        errors.push(e.message);
      }
    }
    if (errors.length === 1) return errors[0];
    // One message over everything the grant covers, with the closest names from all those inventories.
    try {
      resolvePattern(pattern, mergeInventories(loadedEnvs.map((e) => inventories[e])), { strict: true, inventoryPath: loadedEnvs.map((e) => config.environments[e]).join(', ') });
    } catch (e) {
      if (e instanceof InfraError) return e.message;
      throw e;
    }
    return errors[0];
  };
  config.access.forEach((grant, i) => {
    const covered = envs.filter((e) => grantCoversEnvironment(grant, e));
    const problem = patternProblem(grant.hosts, covered);
    if (problem) problems.push(at(['access', i, 'hosts'], problem));
    if (grant.vpn_only && vpnRangesOf(config.vpn).length === 0)
      problems.push(at(['access', i, 'vpn_only'], 'is true, but infra.yml has no VPN network (vpn:) whose ranges from= could name'));
  });
  for (const name of Object.keys(config.vpn).sort()) {
    const problem = patternProblem(config.vpn[name].servers, [...envs]);
    if (problem) problems.push(at(['vpn', name, 'servers'], problem));
  }
  // A link in host_vars/ or group_vars/ lets one host read, or render write, another's variables.
  for (const folder of [...new Set([...Object.values(folders), PLAYBOOK_FOLDER])].sort(byName)) problems.push(...(await linkProblems(loaded.registry.root, folder)));
  return { inventories, folders, problems };
}

/** Whether `abs` (which exists) resolves, through every link, to a place inside the registry at `root`. */
export async function resolvesInside(root: string, abs: string): Promise<boolean> {
  const [realRoot, real] = await Promise.all([fs.realpath(root), fs.realpath(abs)]);
  return real === realRoot || real.startsWith(realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep);
}

/** A symbolic link out of the registry where render reads or writes: refused, naming it (docs/reference.md, "Render"). */
export function linkOutProblem(rel: string): Problem {
  return { file: rel, field: 'render', message: 'is a symbolic link that leads out of the registry: infra never reads or writes through it' };
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The generated files that exist now for the given environment paths (as in infra.yml: folders, or
 * inventory files whose folder holds host_vars/): relative path -> text.
 * Only `host_vars/<host>/infra.generated.yml`; hand-written files beside them are never read.
 * A host folder or generated file that is a symbolic link out of the registry is refused (exit 3, naming
 * every one), so nothing outside is read, or later written, through it.
 */
export async function previousRenders(root: string, environmentPaths: readonly string[], links: 'refuse' | 'skip' = 'refuse'): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const outside: Problem[] = [];
  const folders = new Set<string>();
  for (const p of environmentPaths) folders.add(await inventoryFolder(root, p)); // a folder resolves to itself
  for (const folder of folders) {
    const prefix = hostVarsPrefix(folder);
    let entries;
    try {
      if (!(await resolvesInside(root, path.join(root, prefix)))) {
        outside.push(linkOutProblem(prefix.replace(/\/$/, '')));
        continue;
      }
      entries = await fs.readdir(path.join(root, prefix), { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw e;
    }
    for (const entry of entries.filter((d) => d.isDirectory() || d.isSymbolicLink()).sort((a, b) => byName(a.name, b.name))) {
      const rel = `${prefix}${entry.name}/${GENERATED_FILE}`;
      try {
        if (entry.isSymbolicLink() && !(await resolvesInside(root, path.join(root, prefix, entry.name)))) {
          outside.push(linkOutProblem(`${prefix}${entry.name}`));
          continue;
        }
        if (!(await resolvesInside(root, path.join(root, rel)))) {
          outside.push(linkOutProblem(rel));
          continue;
        }
        out.set(rel, await fs.readFile(path.join(root, rel), 'utf8'));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
      }
    }
  }
  // The audit skips them: inspectInventories reports every link under host_vars/ as invalid-registry.
  if (outside.length && links === 'refuse') throw invalidRegistry(outside, 'replace each link with a real folder or file inside the registry (or remove it), then run `infra render` again; nothing was written');
  return out;
}

/** Where the registry keeps its playbooks (ansible/apply-access.yml, …): ansible-playbook reads host_vars/ and group_vars/ there too. */
export const PLAYBOOK_FOLDER = 'ansible';

/**
 * Vars files Ansible loads for a host or group of an environment (see adapters/vars-files.ts) that define
 * an `infra_*` variable: each would override what render writes (Ansible loads a host's files
 * alphabetically, and group_vars apply wherever a host has no generated file), so render refuses while one
 * exists (docs/reference.md "Vars files infra reads", the audit's shadowed-render). A file infra cannot read
 * (a YAML error infra's parser has and PyYAML may not, a whole-file vault, several documents) is refused
 * too, naming its line: what it defines would be unseen. Links are inspectInventories' problems.
 */
export async function shadowingProblems(root: string, folders: Readonly<Record<string, string>>, inventories: Readonly<Record<string, Inventory>>): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const file of await varsFilesOf(root, folders, inventories)) {
    if (file.unreadable !== undefined) {
      problems.push({
        file: file.path,
        ...(file.line ? { line: file.line } : {}),
        field: '(vars file)',
        message: `${file.unreadable}; Ansible loads it, so it could override what \`infra render\` writes unseen: ${unreadableVarsFix(file.path, file.unreadable)}`,
      });
      continue;
    }
    for (const name of file.variables.filter((n) => n.startsWith('infra_') && !PLAYBOOK_SETTINGS.has(n)))
      problems.push({
        file: file.path,
        field: name,
        message: `defines ${name}, which overrides what \`infra render\` writes (Ansible loads the last vars file alphabetically): remove ${name} from ${file.path}`,
      });
  }
  return problems;
}

/**
 * Every vars file Ansible loads for a host or group of each environment whose inventory loaded (once, even
 * when environments share it), with the variables it defines, except render's own generated files.
 */
export async function varsFilesOf(root: string, folders: Readonly<Record<string, string>>, inventories: Readonly<Record<string, Inventory>>): Promise<VarFile[]> {
  const byPath = new Map<string, VarFile>();
  for (const env of Object.keys(folders).sort(byName)) {
    if (!inventories[env]) continue;
    const generated = `${folders[env] === '.' ? '' : `${folders[env].replace(/\/+$/, '')}/`}host_vars/`;
    const isGenerated = (rel: string) => {
      const rest = rel.startsWith(generated) ? rel.slice(generated.length).split('/') : [];
      return rest.length === 2 && rest[1] === GENERATED_FILE; // render's own file: never read here
    };
    // ansible-playbook also loads host_vars/ and group_vars/ beside the playbooks, over the inventory's
    for (const found of [...(await varsFilesLoaded(root, folders[env], inventories[env], isGenerated)), ...(await varsFilesLoaded(root, PLAYBOOK_FOLDER, inventories[env]))]) {
      const r = found.reading;
      byPath.set(found.path, 'names' in r ? { path: found.path, variables: r.names } : { path: found.path, variables: [], unreadable: r.unreadable, ...(r.line ? { line: r.line } : {}) });
    }
  }
  return [...byPath.values()].sort((a, b) => byName(a.path, b.path));
}
