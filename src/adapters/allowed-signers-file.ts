/** `allowed_signers` at the registry root: what `infra render` writes so `git log --show-signature` names signers. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ALLOWED_SIGNERS_FILE, renderAllowedSigners } from '../core/allowed-signers.js';
import type { Member } from '../core/types.js';
import { readRegistryText } from './yaml-load.js';
import { writeFileAtomic } from './atomic-write.js';

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

/**
 * In a git working tree: `gpg.ssh.allowedSignersFile` pointed at the registry's allowed_signers (a path from
 * the top of the working tree, where git runs ssh-keygen), so `git log --show-signature` names signers.
 * Returns the value set, or undefined outside git. infra never runs `git init`: where the registry lives in
 * git is the co-op's choice.
 */
export async function configureSignersFile(root: string): Promise<string | undefined> {
  if (!inGitWorkTree(root)) return undefined;
  const { runGit } = await import('./git.js');
  const prefix = await runGit(root, ['rev-parse', '--show-prefix'], {});
  if (prefix.code !== 0) return undefined;
  const value = `${prefix.stdout.toString('utf8').trim()}${ALLOWED_SIGNERS_FILE}`;
  const set = await runGit(root, ['config', 'gpg.ssh.allowedSignersFile', value], {});
  return set.code === 0 ? value : undefined;
}
