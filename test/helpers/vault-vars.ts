/**
 * Ansible vault helpers for tests only: reading a value back out of a vars file, and writing one the way
 * a rotation does (setVaultVar over vaultEncrypt, written atomically). infra itself writes through the
 * token and vault services; these check or prepare what those services and ansible-vault read.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseDocument } from 'yaml';
import { setVaultVar, vaultDecryptBytes, vaultEncrypt } from '../../src/adapters/ansible-vault.js';
import { writeFileAtomic } from '../../src/adapters/atomic-write.js';

type Password = Parameters<typeof vaultEncrypt>[1];

/** Decrypts an envelope written by ansible-vault (1.1, or 1.2 with a vault id) or by vaultEncrypt. */
export function vaultDecrypt(envelope: string, password: Password, what = 'the value'): string {
  return vaultDecryptBytes(envelope, password, what).toString('utf8');
}

/** The envelope stored for `varName` in a vars file, or undefined. */
export function readVaultVar(fileText: string, varName: string): string | undefined {
  const value = (parseDocument(fileText).toJS() as Record<string, unknown> | null)?.[varName];
  return typeof value === 'string' && value.startsWith('$ANSIBLE_VAULT;') ? value : undefined;
}

/** Sets `varName` in the vars file at `absFile` (created with its folder when missing), written atomically. */
export async function writeVaultVar(absFile: string, varName: string, value: string, password: Password, randomBytes?: (n: number) => Uint8Array): Promise<void> {
  let existing: string | undefined;
  try {
    existing = await readFile(absFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const text = setVaultVar(existing, varName, vaultEncrypt(value, password, randomBytes), absFile);
  await mkdir(dirname(absFile), { recursive: true });
  await writeFileAtomic(absFile, text);
}
