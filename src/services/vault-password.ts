/**
 * Where a token rotation gets the Ansible vault password for its ansible_vault_var consumers, and which
 * vars file each one writes. Kept in one small place: the vault password's source is its only job.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { inventoryFolder } from '../adapters/inventories.js';
import type { Loaded } from '../adapters/registry-load.js';
import { formatConsumer, vaultFilePath } from '../core/tokens.js';
import { VAULT_PASSWORD_FILE } from '../core/vault-state.js';
import type { TokenConsumer } from '../core/types.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { say, type Context } from './context.js';

export interface VaultSetup {
  password?: Buffer;
  /** consumer CLI form -> vault file relative to the root */
  files: Record<string, string>;
}

type VaultConsumer = Extract<TokenConsumer, { ansible_vault_var: unknown }>;
export const vaultConsumers = (consumers: TokenConsumer[]): VaultConsumer[] => consumers.filter((c): c is VaultConsumer => 'ansible_vault_var' in c);

/** The registry holds the vault password itself (vault/password.asc, docs/reference.md, "Vault password"). */
const registryHoldsPassword = (loaded: Loaded) => existsSync(path.join(loaded.registry.root, VAULT_PASSWORD_FILE));

/**
 * Why the vault password cannot be had (for --dry-run and before a new value exists), or undefined: it comes
 * from --vault-password-file or ANSIBLE_VAULT_PASSWORD_FILE, else from vault/password.asc with --key.
 */
export function vaultPasswordMissing(ctx: Context, consumers: TokenConsumer[], flagFile: string | undefined, loaded?: Loaded, keyFile?: string): InfraError | undefined {
  const vault = vaultConsumers(consumers);
  if (!vault.length || (flagFile ?? ctx.env.ANSIBLE_VAULT_PASSWORD_FILE)) return undefined;
  if (loaded && registryHoldsPassword(loaded)) {
    if (keyFile) return undefined;
    return new InfraError(ExitCode.usage, `${vault.map(formatConsumer).join(', ')} need${vault.length === 1 ? 's' : ''} the Ansible vault password: pass --key FILE (your admin key, to decrypt vault/password.asc), or set ANSIBLE_VAULT_PASSWORD_FILE`, {
      hint: 'infra tokens rotate BOT/NAME --key YOUR-ADMIN-KEY.asc (or export ANSIBLE_VAULT_PASSWORD_FILE=ansible/vault-pass-client with INFRA_ADMIN_KEY set)',
    });
  }
  return new InfraError(ExitCode.usage, `${vault.map(formatConsumer).join(', ')} need${vault.length === 1 ? 's' : ''} the Ansible vault password: set ANSIBLE_VAULT_PASSWORD_FILE or pass --vault-password-file FILE (or store it in the registry: infra vault init)`, {
    hint: 'export ANSIBLE_VAULT_PASSWORD_FILE=~/.ansible/vault-pass (the file Ansible reads it from)',
  });
}

export async function vaultSetup(ctx: Context, loaded: Loaded, consumers: TokenConsumer[], flagFile: string | undefined, needPassword: boolean, keyFile?: string): Promise<VaultSetup> {
  const files: Record<string, string> = {};
  const vault = vaultConsumers(consumers);
  for (const c of vault) {
    const folder = loaded.registry.config.environments[c.ansible_vault_var.environment];
    files[formatConsumer(c)] = vaultFilePath(await inventoryFolder(loaded.registry.root, folder), c.ansible_vault_var.group);
  }
  // A link on the way would have the vault file written wherever it points: refused before anything changes.
  const { linkOnPath } = await import('../adapters/vars-files.js');
  for (const [consumer, rel] of Object.entries(files)) {
    const link = await linkOnPath(loaded.registry.root, rel);
    if (link !== undefined)
      throw new InfraError(ExitCode.invalid, `${link} is a symbolic link: infra does not write ${rel} (for ${consumer}) through it`, {
        hint: `replace the link ${link} with a real folder or file inside the registry, then run the command again; nothing was changed`,
        problems: [{ file: link, field: '(link)', message: `is a symbolic link on the way to ${rel}` }],
      });
  }
  if (!vault.length || !needPassword) return { files };
  const missing = vaultPasswordMissing(ctx, consumers, flagFile, loaded, keyFile);
  if (missing) throw missing;
  if (!(flagFile ?? ctx.env.ANSIBLE_VAULT_PASSWORD_FILE)) {
    // the registry's own: vault/password.asc, decrypted with --key
    const { registryVaultPassword } = await import('./vault.js');
    return { password: await registryVaultPassword(ctx, loaded, keyFile), files };
  }
  const { readVaultPasswordFile } = await import('../adapters/ansible-vault.js');
  const { password, warnings } = await readVaultPasswordFile(path.resolve(ctx.cwd, (flagFile ?? ctx.env.ANSIBLE_VAULT_PASSWORD_FILE)!));
  for (const w of warnings) say(ctx, `warning: ${w}`);
  return { password, files };
}
