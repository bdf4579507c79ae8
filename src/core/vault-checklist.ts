/**
 * The vault password's part of an offboarding checklist (docs/reference.md, "Vault password"): an admin
 * who leaves (or is removed from `admins`) could read it, so it must be rotated. Pure; kept apart so the
 * checklists of every kind of admin-held secret can be put together in one place.
 */
import { VAULT_PASSWORD_FILE } from './vault-state.js';

export const VAULT_ROTATE_COMMAND = 'infra vault rotate --key FILE';

/** Checklist lines for a former admin `handle`; `stored`: whether the registry holds vault/password.asc. */
export function vaultPasswordChecklist(handle: string, stored: boolean): string[] {
  if (stored)
    return [
      `Vault password: ${handle} could decrypt ${VAULT_PASSWORD_FILE}, and with it every \`!vault\` value in the inventories (token values included): make a new one and re-encrypt everything with \`${VAULT_ROTATE_COMMAND}\` (after \`infra tokens reencrypt\`, so ${handle} cannot read the new one).`,
    ];
  return [
    `Vault password: ${handle} knows the Ansible vault password, kept outside the registry: bring it in with \`infra vault init - < YOUR-VAULT-PASSWORD-FILE\`, then \`${VAULT_ROTATE_COMMAND}\`.`,
  ];
}
