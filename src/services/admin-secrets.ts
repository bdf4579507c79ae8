/** The registry's admin-held secrets that an admin (current or past) could decrypt: what to rotate when one leaves. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Registry } from '../core/types.js';

export interface HeldSecret {
  secret: string;
  rotate: string;
}

/** Every stored secret: each bot token value, the Ansible vault password, the SSH user CA's key. */
export async function secretsReadableByAdmin(root: string, registry: Registry): Promise<HeldSecret[]> {
  const out: HeldSecret[] = [];
  for (const m of registry.members) for (const t of m.tokens) out.push({ secret: `token ${m.handle}/${t.name}`, rotate: `infra tokens rotate ${m.handle}/${t.name}` });
  const exists = (rel: string) => fs.lstat(path.join(root, rel)).then((s) => s.isFile(), () => false);
  if (await exists('vault/password.asc')) out.push({ secret: 'the Ansible vault password (vault/password.asc)', rotate: 'infra vault rotate --key YOUR-ADMIN-KEY.asc' });
  if (await exists('ca/user_ca.asc')) out.push({ secret: 'the SSH user CA key (ca/user_ca.asc)', rotate: 'infra ca rotate --ca-key YOUR-ADMIN-KEY.asc' });
  return out;
}
