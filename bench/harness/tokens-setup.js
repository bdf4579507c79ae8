// What `infra tokens rotate` needs in a bench registry: an OpenPGP key for the admin (m00000) to encrypt
// the new value to, and an Ansible vault password file. Made once per scratch registry; no network.
import { promises as fs } from 'node:fs';
import path from 'node:path';

export async function prepareTokens(root) {
  const openpgp = await import('openpgp');
  const { publicKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name: 'Member 0', email: 'm00000@bench.example' }], format: 'armored' });
  await fs.writeFile(path.join(root, 'keys/m00000/pgp.asc'), publicKey);
  const vaultPassword = path.join(root, '..', 'bench-vault-password');
  await fs.writeFile(vaultPassword, 'bench vault password\n', { mode: 0o600 });
  // m00000 is the registry's admin: rotated_by names who rotated.
  return { ANSIBLE_VAULT_PASSWORD_FILE: vaultPassword, INFRA_ADMIN: 'm00000' };
}
