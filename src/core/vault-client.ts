/**
 * ansible/vault-pass-client, the script `infra vault init` writes into the registry: Ansible runs it as
 * its vault password file (a name ending in `-client` makes Ansible call it with `--vault-id ID`), and it
 * prints the password decrypted from vault/password.asc with the key named by INFRA_ADMIN_KEY
 * (docs/reference.md, "ansible/vault-pass-client"). Pure: the text only.
 */
export function vaultClientScript(): string {
  return `#!/bin/sh
# Ansible vault password client, written by \`infra vault init\`. Use it as the vault password file:
#   INFRA_ADMIN_KEY=~/admin-key.asc ansible-playbook --vault-password-file ansible/vault-pass-client ...
# (or vault_password_file = ansible/vault-pass-client in ansible.cfg). It prints this registry's vault
# password, decrypted from vault/password.asc with your private OpenPGP key (INFRA_ADMIN_KEY); a key with
# a passphrase asks for it on the terminal (or set INFRA_PGP_PASSPHRASE). The registry has one vault
# password, so the --vault-id Ansible passes does not change the answer.
set -eu
if [ -z "\${INFRA_ADMIN_KEY:-}" ]; then
  echo "vault-pass-client: set INFRA_ADMIN_KEY to your private OpenPGP key file (gpg --export-secret-keys --armor EMAIL > FILE)" >&2
  exit 1
fi
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
exec infra vault password --dir "$here/.." --key "$INFRA_ADMIN_KEY"
`;
}
