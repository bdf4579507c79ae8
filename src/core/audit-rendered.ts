/**
 * The audit's judgements of the rendered files (docs/reference.md, "infra audit"): stale-render (what is on
 * disk against what `infra render` would write now) and shadowed-render (another vars file defining infra_*).
 */
import { InfraError, type Problem } from '../lib/errors.js';
import { decode, finding, folderOf } from './audit-common.js';
import type { AuditInput, VarFile } from './audit.js';
import { environmentNames } from './grants.js';
import type { Inventory } from './inventory.js';
import type { ParseKey } from './key-summary.js';
import { GENERATED_FILE, planRender, PLAYBOOK_SETTINGS } from './render.js';
import type { InfraConfig, Member } from './types.js';
import { readVarsFile, unreadableVarsFix } from './vars-file.js';
import type { Finding } from './vpn-plan.js';

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function renderedFolders(config: InfraConfig, folders?: Readonly<Record<string, string>>): Map<string, string> {
  // host_vars prefix -> the inventory folder (for the apply command)
  const out = new Map<string, string>();
  for (const env of environmentNames(config)) {
    const folder = folderOf(config, env, folders).replace(/\/+$/, '');
    out.set(`${folder}/host_vars/`, folder);
  }
  return out;
}

const sameBytes = (disk: string | Uint8Array, expected: string) =>
  typeof disk === 'string' ? disk === expected : Buffer.from(disk.buffer, disk.byteOffset, disk.byteLength).equals(Buffer.from(expected, 'utf8'));

export function staleRenderFindings(config: InfraConfig, members: readonly Member[], input: AuditInput, environments: readonly string[], parseKey: ParseKey): Finding[] {
  const rendered = input.rendered!;
  const previous = new Map<string, string>();
  for (const [p, content] of rendered) previous.set(p, decode(content));
  const plan = planRender({ root: '', config, members: [...members] }, input.inventories as Record<string, Inventory>, previous, {
    environments,
    ...(input.inventoryFolders ? { inventoryFolders: input.inventoryFolders } : {}),
    parseKey,
    ...(input.certificates ? { certificates: input.certificates } : {}),
  });
  const out: Finding[] = [];
  for (const [p, content] of plan.files) {
    const disk = rendered.get(p);
    if (disk === undefined) out.push(finding('stale-render', p, `${p} is missing: render would write it`, 'infra render'));
    else if (!sameBytes(disk, content)) out.push(finding('stale-render', p, `${p} differs from what \`infra render\` would write now (edited by hand, or the registry changed since the last render)`, 'infra render'));
  }
  for (const p of plan.remove) out.push(finding('stale-render', p, `${p} is no longer implied by the registry: render would remove it`, 'infra render'));
  return out;
}

/**
 * stale-render for the audit. On a valid registry: staleRenderFindings, and a plan render refuses is a problem
 * (pushed onto `problems`). On an invalid one (render refuses to run), the files are judged on what loads,
 * each finding saying so; when even that cannot be planned, one finding says plainly that it was not judged.
 */
export function staleRenderJudged(config: InfraConfig, members: readonly Member[], input: AuditInput, environments: readonly string[], parseKey: ParseKey, problems: Problem[]): Finding[] {
  const invalid = problems.length > 0;
  try {
    const found = staleRenderFindings(config, members, input, environments, parseKey);
    return invalid ? found.map((f) => ({ ...f, detail: `${f.detail}; judged on the parts of the registry that load, as render cannot run until it validates` })) : found;
  } catch (e) {
    if (!(e instanceof InfraError)) throw e;
    const why = e.hint ? `${e.message} (${e.hint})` : e.message;
    if (!invalid) {
      problems.push({ file: 'infra.yml', field: '(render)', message: why });
      return [];
    }
    return [finding('stale-render', '(rendered files)', `not judged: the registry does not validate, and what loads cannot be planned either (${why})`, 'fix the registry until `infra check` passes, then run `infra audit` again')];
  }
}

/** The top-level variable names a vars file defines (sorted; merge keys included); undefined when infra cannot read it (see core/vars-file.ts). */
export function variableNames(text: string): string[] | undefined {
  const reading = readVarsFile(text);
  return 'names' in reading ? reading.names : undefined;
}

export function shadowFindings(config: InfraConfig, varFiles: readonly VarFile[], folders?: Readonly<Record<string, string>>): Finding[] {
  const out: Finding[] = [];
  const prefixes = renderedFolders(config, folders);
  for (const file of varFiles) {
    if (file.path.endsWith(`/host_vars/${file.path.split('/').at(-2)}/${GENERATED_FILE}`)) continue; // the generated file itself
    if (file.unreadable !== undefined) {
      // Ansible may load what infra cannot read: it could hide an override, so it is reported, never skipped.
      const at = file.line ? `${file.path}:${file.line}` : file.path;
      out.push(finding('shadowed-render', file.path, `${at} ${file.unreadable}; Ansible loads it, so it could override the generated access unseen`, unreadableVarsFix(file.path, file.unreadable)));
      continue;
    }
    const names = file.variables.filter((v) => v.startsWith('infra_') && !PLAYBOOK_SETTINGS.has(v)).sort(byText); // as render refuses them
    if (!names.length) continue;
    const inHostVars = [...prefixes.keys()].some((p) => file.path.startsWith(p));
    const effect = inHostVars
      ? 'Ansible loads host_vars files alphabetically and the last one wins, so it can override the generated file'
      : 'group_vars apply wherever a host has no generated file, granting keys infra does not know about';
    out.push(finding('shadowed-render', file.path, `defines ${names.join(', ')}: ${effect}`, `remove ${names.join(', ')} from ${file.path} (only \`infra render\` writes infra_* variables)`));
  }
  return out;
}
