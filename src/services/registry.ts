/** The registry as a whole: `infra init` scaffolds one, `infra check` validates one. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { legacyCacheNote } from '../adapters/derived-state.js';
import { inspectInventories, shadowingProblems } from '../adapters/inventories.js';
import { configureSignersFile, inGitWorkTree } from '../adapters/allowed-signers-file.js';
import { ALLOWED_SIGNERS_FILE, renderAllowedSigners } from '../core/allowed-signers.js';
import { readPublicKey } from '../adapters/pgp.js';
import { CONFIG_FILE } from '../adapters/registry-root.js';
import { knownKeys } from '../adapters/member-facts.js';
import { writeFileAtomic } from '../adapters/atomic-write.js';
import type { Loaded } from '../adapters/registry-load.js';
import { vaultStateProblems } from '../adapters/vault-files.js';
import { futureDateProblems } from '../core/future-dates.js';
import { keyParser } from '../core/key-summary.js';
import type { Member } from '../core/types.js';
import { policyCheck, textProblem } from '../core/validate.js';
import { ExitCode, InfraError, type Problem } from '../lib/errors.js';
import { need, today, type Context } from './context.js';
import { EMPTY_INVENTORY } from './environments.js';

const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));

export function scaffoldConfig(org: string): string {
  return `# yaml-language-server: $schema=schema/infra.schema.json
# The registry's org-wide settings. Reviewed like code: change it in a pull request.
org: ${JSON.stringify(org)}
admins: []                      # handles that may decrypt bot tokens; each needs keys/<handle>/pgp.asc
environments:                   # name -> Ansible inventory folder
  production: inventories/production
policy:
  ssh:
    allowed_types: [ed25519, ed25519-sk, ecdsa, ecdsa-sk, rsa]   # dsa is never allowed
    min_rsa_bits: 3072
    max_age_days: 730           # older keys are reported, not refused
  tokens:
    rotate_every_days: 90
  audit:
    min_members_per_host: 2
    horizon_days: 30
access: []                      # grants: {groups: [..], hosts: <Ansible pattern>, user: <remote user>}
vpn: {}
`;
}

export interface InitResult {
  root: string;
  created: string[];
  /** in a git working tree: the git config gpg.ssh.allowedSignersFile set (see docs/reference.md, "Signed changes") */
  allowed_signers_file?: string;
  /** On a terminal: what the prompts after the scaffold did (see init-steps.ts). */
  setup?: import('./init-steps.js').FirstSteps;
}

/** A new registry: infra.yml, keys/, an empty inventory, the schemas and the playbooks that apply a render. */
export async function initRegistry(ctx: Context, input: { dir?: string; org?: string }): Promise<InitResult> {
  const root = path.resolve(ctx.cwd, input.dir ?? ctx.env.INFRA_DIR ?? '.');
  if (await fs.stat(path.join(root, CONFIG_FILE)).catch(() => undefined))
    throw new InfraError(ExitCode.invalid, `${path.join(root, CONFIG_FILE)} already exists: this folder is a registry already`, { hint: 'run `infra check` to validate it' });
  const org = await need(ctx, input.org, 'org', 'Organisation name', (v) => textProblem(v, 'a name'));
  const shipped = (rel: string) => fs.readFile(path.join(PACKAGE_DIR, rel), 'utf8');
  const files: Array<[string, string]> = [
    [CONFIG_FILE, scaffoldConfig(org)],
    ['keys/.gitkeep', ''],
    ['inventories/production/hosts.yml', EMPTY_INVENTORY],
    // Private material must never be committed by a `git add -A`: device configs, WireGuard keys, exported secret keys.
    ['.gitignore', '.infra.lock\n.infra-cache/\n*.conf\n*.key\n*.sec.asc\n*.secret.asc\n'],
  ];
  for (const rel of ['schema/infra.schema.json', 'schema/member.schema.json', 'ansible/apply-access.yml', 'ansible/ssh-certificates.yml', 'ansible/wireguard.yml']) files.push([rel, await shipped(rel)]);
  const created: string[] = [];
  for (const [rel, content] of files) {
    const target = path.join(root, rel);
    if (await fs.stat(target).catch(() => undefined)) continue; // never over an existing file
    await writeFileAtomic(target, content);
    created.push(rel);
  }
  // Signed changes: in a git working tree, allowed_signers is made now and git is told where it is.
  let allowedSignersFile: string | undefined;
  if (inGitWorkTree(root)) {
    const target = path.join(root, ALLOWED_SIGNERS_FILE);
    if (!(await fs.stat(target).catch(() => undefined))) {
      await writeFileAtomic(target, renderAllowedSigners([]));
      created.push(ALLOWED_SIGNERS_FILE);
    }
    allowedSignersFile = await configureSignersFile(root);
  }
  // On a terminal: the first admin, environment and grant by prompts (init-steps.ts); elsewhere the scaffold only.
  const setup = ctx.prompter ? await (await import('./init-steps.js')).firstSteps(ctx, root) : undefined;
  return { root, created, ...(allowedSignersFile ? { allowed_signers_file: allowedSignersFile } : {}), ...(setup ? { setup } : {}) };
}

export interface CheckResult {
  ok: boolean;
  members: number;
  problems: Problem[];
  /** Things worth doing that are not problems (an old in-registry cache folder to delete). */
  notes?: string[];
}

/** Every problem at once: files, policy, inventories, OpenPGP keys. A member file that does not parse does not stop the rest. */
export async function checkRegistry(ctx: Context): Promise<CheckResult> {
  const root = await ctx.store.root();
  const { partial, problems } = await ctx.store.inspect();
  const all = [...problems];
  if (partial) {
    all.push(...policyCheck(partial.registry.config, partial.registry.members, partial.located, keyParser(knownKeys(partial))));
    const inspected = await inspectInventories(partial);
    all.push(...inspected.problems);
    // what render would refuse: vars files that override its variables, or that infra cannot read
    all.push(...(await shadowingProblems(root, inspected.folders, inspected.inventories)));
    all.push(...(await pgpProblems(root, partial.registry.members)));
    all.push(...futureDateProblems(partial.registry.members, partial.located, today(ctx)));
    all.push(...(await certificateCheck(ctx, partial)));
  }
  all.push(...(await vaultStateProblems(root)));
  // a private key anywhere in the tree is published with the registry (private-key-in-registry)
  const { scanForPrivateKeys } = await import('../adapters/registry-tree.js');
  const { privateKeyProblems } = await import('../core/private-material.js');
  const scan = await scanForPrivateKeys(root);
  all.push(...privateKeyProblems(scan.found));
  const notes = [await legacyCacheNote(root), scan.truncated].filter((n): n is string => n !== undefined);
  return { ok: all.length === 0, members: partial?.registry.members.length ?? 0, problems: all, ...(notes.length ? { notes } : {}) };
}

/** Certificate records that disagree with the registry (core/cert-check.ts), and CA files that do not read. */
async function certificateCheck(ctx: Context, loaded: Loaded): Promise<Problem[]> {
  const { readCaFiles } = await import('../adapters/ca-files.js');
  const { certificateProblems } = await import('../core/cert-check.js');
  const cas = new Set<string>();
  const problems: Problem[] = [];
  try {
    const files = await readCaFiles(loaded.registry.root);
    if (files.current) cas.add(files.current.fingerprint);
    for (const r of files.retired) cas.add(r.fingerprint);
  } catch (e) {
    if (!(e instanceof InfraError)) throw e;
    problems.push({ file: 'ca/', field: '(key)', message: e.message });
  }
  const { registry } = loaded;
  problems.push(...certificateProblems(registry.config, registry.members, loaded.located, Math.floor(ctx.now().getTime() / 1000), cas, keyParser(knownKeys(loaded))));
  return problems;
}

/** Each keys/<handle>/pgp.asc must be a public key that can encrypt: tokens are encrypted to admins' keys. */
async function pgpProblems(root: string, members: readonly Member[]): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const m of members.filter((x) => x.has_pgp)) {
    const rel = `keys/${m.handle}/pgp.asc`;
    try {
      const key = await readPublicKey(await fs.readFile(path.join(root, rel)), rel);
      if (!key.canEncrypt) problems.push({ file: rel, field: '(key)', message: `${key.encryptProblem ?? `${key.fingerprint} cannot encrypt`}, so secrets cannot be encrypted to it` });
    } catch (e) {
      problems.push({ file: rel, field: '(key)', message: e instanceof InfraError ? e.message.replace(`${rel}: `, '') : String(e) });
    }
  }
  return problems;
}
