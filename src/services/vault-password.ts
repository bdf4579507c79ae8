/**
 * Where a token rotation gets the Ansible vault password for its ansible_vault_var consumers, and which
 * vars file each one writes. Kept in one small place: the vault password's source is its only job.
 */
import path from 'node:path';
import { inventoryFolder } from '../adapters/inventories.js';
import type { Loaded } from '../adapters/store.js';
import { formatConsumer, vaultFilePath } from '../core/tokens.js';
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

/** Why the vault password cannot be had (for --dry-run and before a new value exists), or undefined. */
export function vaultPasswordMissing(ctx: Context, consumers: TokenConsumer[], flagFile: string | undefined): InfraError | undefined {
  const vault = vaultConsumers(consumers);
  if (!vault.length || (flagFile ?? ctx.env.ANSIBLE_VAULT_PASSWORD_FILE)) return undefined;
  return new InfraError(ExitCode.usage, `${vault.map(formatConsumer).join(', ')} need${vault.length === 1 ? 's' : ''} the Ansible vault password: set ANSIBLE_VAULT_PASSWORD_FILE or pass --vault-password-file FILE`, {
    hint: 'export ANSIBLE_VAULT_PASSWORD_FILE=~/.ansible/vault-pass (the file Ansible reads it from)',
  });
}

export async function vaultSetup(ctx: Context, loaded: Loaded, consumers: TokenConsumer[], flagFile: string | undefined, needPassword: boolean): Promise<VaultSetup> {
  const files: Record<string, string> = {};
  const vault = vaultConsumers(consumers);
  for (const c of vault) {
    const folder = loaded.registry.config.environments[c.ansible_vault_var.environment];
    files[formatConsumer(c)] = vaultFilePath(await inventoryFolder(loaded.registry.root, folder), c.ansible_vault_var.group);
  }
  if (!vault.length || !needPassword) return { files };
  const missing = vaultPasswordMissing(ctx, consumers, flagFile);
  if (missing) throw missing;
  const { readVaultPasswordFile } = await import('../adapters/ansible-vault.js');
  const { password, warnings } = await readVaultPasswordFile(path.resolve(ctx.cwd, (flagFile ?? ctx.env.ANSIBLE_VAULT_PASSWORD_FILE)!));
  for (const w of warnings) say(ctx, `warning: ${w}`);
  return { password, files };
}
