/**
 * The files of the vault password's mechanism on disk: vault/vault.yml (validated strictly on every read)
 * and the walk over the inventories that finds every vault-encrypted thing (docs/reference.md,
 * "Vault password rotation"). Symbolic links are not followed: a link could lead out of the registry.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { findInlineVaultItems, firstNonUtf8Line, isVaultFile, mentionsVaultTag, wholeFileItem, type VaultItem } from '../core/vault-items.js';
import { validateVaultState, VAULT_STATE_FILE, type VaultState } from '../core/vault-state.js';
import { InfraError, invalidInput, type Problem } from '../lib/errors.js';
import { lineOf, parseYamlFile, readRegistryText } from './yaml-load.js';
import { shellQuote } from '../lib/shell-quote.js';

/** vault/vault.yml, or undefined when there is none; any problem in it is invalid input (exit 3), each with its line. */
export async function readVaultState(root: string): Promise<VaultState | undefined> {
  const abs = path.join(root, VAULT_STATE_FILE);
  const info = await fs.lstat(abs).catch(() => undefined);
  if (!info) return undefined;
  const fix = `restore it from git (\`git checkout -- ${shellQuote(VAULT_STATE_FILE)}\`); infra writes it, people need not`;
  if (!info.isFile()) throw invalidInput(VAULT_STATE_FILE, [{ file: VAULT_STATE_FILE, field: '(file)', message: 'is not a regular file (a link or a folder): infra does not follow links in the registry' }], fix);
  const text = (await readRegistryText(abs, VAULT_STATE_FILE)) ?? '';
  const parsed = parseYamlFile(VAULT_STATE_FILE, text);
  if (parsed.problems.length) throw invalidInput(VAULT_STATE_FILE, parsed.problems, fix);
  const { state, problems } = validateVaultState(parsed.file.doc.toJS(), VAULT_STATE_FILE, (p) => lineOf(parsed.file, p));
  if (!state) throw invalidInput(VAULT_STATE_FILE, problems, fix);
  return state;
}

/** The problems of vault/vault.yml, for `infra check` (none when it is absent or valid). */
export async function vaultStateProblems(root: string): Promise<Problem[]> {
  try {
    await readVaultState(root);
    return [];
  } catch (e) {
    if (e instanceof InfraError) return e.problems;
    throw e;
  }
}

export interface VaultFile {
  /** Relative to the registry root, with `/`. */
  rel: string;
  /** The file's bytes when it was read (a rewrite checks the file still holds them). */
  data: Buffer;
  text: string;
  items: VaultItem[];
}

export interface VaultScan {
  files: VaultFile[];
  /** What infra cannot rewrite safely, each with its file and line: nothing may be changed while any is left. */
  problems: Problem[];
  /** Symbolic links met in the walk (not followed). */
  links: string[];
}

/** Larger than any vars file; a whole vault-encrypted file can be larger than registry files, not unbounded. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Files whose inline `!vault` values are looked for: what Ansible reads as YAML vars. */
const YAML_NAME = /(?:\.ya?ml|^[^.]+)$/;
/** A killed writer's temporary file (temp-files.ts names them so): not part of the inventory. */
const WRITER_TEMP = /^\..*\.\d+\.[0-9a-f]{8}\.(?:tmp|stale)$/;

/** One file's vault items, or its problem. */
export function scanFile(rel: string, data: Buffer): { file?: VaultFile; problems: Problem[] } {
  const latin = data.toString('latin1');
  if (isVaultFile(latin)) {
    const text = latin;
    return { file: { rel, data, text, items: [wholeFileItem(text)] }, problems: [] };
  }
  if (!YAML_NAME.test(path.posix.basename(rel)) || !mentionsVaultTag(latin)) return { problems: [] };
  const bad = firstNonUtf8Line(data);
  if (bad !== undefined) return { problems: [{ file: rel, line: bad, field: '(encoding)', message: 'is not valid UTF-8, so its vault values cannot be re-encrypted without changing other bytes' }] };
  const text = data.toString('utf8');
  const { items, problems } = findInlineVaultItems(text, rel);
  return { file: items.length ? { rel, data, text, items } : undefined, problems };
}

/** Every vault-encrypted thing under the given folders (relative to `root`), in a stable order. */
export async function scanVaultFiles(root: string, folders: readonly string[]): Promise<VaultScan> {
  const scan: VaultScan = { files: [], problems: [], links: [] };
  const seen = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    if (seen.has(rel)) return;
    seen.add(rel);
    const abs = path.join(root, rel);
    const info = await fs.lstat(abs).catch(() => undefined);
    if (!info) return;
    if (info.isSymbolicLink()) {
      scan.links.push(rel);
      return;
    }
    if (info.isDirectory()) {
      const names = (await fs.readdir(abs)).sort();
      for (const name of names) if (!WRITER_TEMP.test(name)) await walk(`${rel}/${name}`);
      return;
    }
    if (!info.isFile()) return;
    if (info.size > MAX_FILE_BYTES) {
      scan.problems.push({ file: rel, field: '(file)', message: `is larger than ${MAX_FILE_BYTES / 1048576} MB; infra does not read it` });
      return;
    }
    const { file, problems } = scanFile(rel, await fs.readFile(abs));
    scan.problems.push(...problems);
    if (file) scan.files.push(file);
  };
  for (const folder of [...new Set(folders.map((f) => path.posix.normalize(f).replace(/\/+$/, '')))].sort()) await walk(folder);
  return scan;
}
