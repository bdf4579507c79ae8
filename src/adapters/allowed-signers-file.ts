/** `allowed_signers` at the registry root: what `infra render` writes so `git log --show-signature` names signers. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ALLOWED_SIGNERS_FILE, renderAllowedSigners } from '../core/allowed-signers.js';
import type { Member } from '../core/types.js';
import { readRegistryText, writeFileAtomic } from './store.js';

export interface SignersUpdate {
  rel: string;
  content: string;
}

/** Whether `root` is inside a git working tree (a `.git` folder or file here or above): only there are commits signed. */
export function inGitWorkTree(root: string): boolean {
  for (let dir = path.resolve(root); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, '.git'))) return true;
    if (path.dirname(dir) === dir) return false;
  }
}

/**
 * The file's new content when it differs from what is on disk (absent: up to date). Kept in a registry that
 * is a git working tree, or that has the file already: outside git nothing is signed, and the file is noise.
 */
export async function allowedSignersUpdate(root: string, members: readonly Member[]): Promise<SignersUpdate | undefined> {
  const current = await readRegistryText(path.join(root, ALLOWED_SIGNERS_FILE), ALLOWED_SIGNERS_FILE).catch(() => undefined);
  if (current === undefined && !inGitWorkTree(root)) return undefined;
  const content = renderAllowedSigners(members);
  return current === content ? undefined : { rel: ALLOWED_SIGNERS_FILE, content };
}

export async function writeAllowedSigners(root: string, update: SignersUpdate): Promise<void> {
  await writeFileAtomic(path.join(root, update.rel), update.content);
}
