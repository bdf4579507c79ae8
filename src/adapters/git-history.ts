/**
 * The registry's history as `infra verify` and `infra approve` read it: the repository around the registry
 * (its folder inside, shallow or not), the commits of a range, the files a commit changed (by comparing
 * trees through the one `git cat-file --batch` reader), a merge's clean result (`git merge-tree
 * --write-tree`), and this clone's `infra.verifiedThrough`. Every git run has a timeout (runGit).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ExitCode, InfraError } from '../lib/errors.js';
import type { GitObjectReader, TreeEntry } from './git-objects.js';
import { runGit, type GitOptions } from './git.js';
import { shellQuote } from '../lib/shell-quote.js';

export const PIN_KEY = 'infra.verifiedThrough';

export interface Repository {
  /** the registry's folder inside the repository: '' or 'sub/dir/' */
  prefix: string;
  /** commits whose parents this clone does not have (a shallow clone's boundary) */
  shallow: Set<string>;
}

const lastLine = (s: string) => s.trim().split('\n').filter(Boolean).pop() ?? '';

/** The repository around the registry, or a clear error when there is none. */
export async function openRepository(root: string, options: GitOptions = {}): Promise<Repository> {
  const r = await runGit(root, ['rev-parse', '--show-prefix', '--git-path', 'shallow'], options);
  if (r.code !== 0) {
    if (/not a git repository/i.test(r.stderr))
      throw new InfraError(ExitCode.invalid, `the registry ${root} is not a git repository: signed changes are proved from its git history`, {
        hint: `keep the registry in git: \`git -C ${shellQuote(root)} init && git -C ${shellQuote(root)} add -A && git -C ${shellQuote(root)} commit -S -m "infra registry"\``,
      });
    throw new InfraError(ExitCode.invalid, `git cannot read the registry ${root}: ${lastLine(r.stderr) || `exit code ${r.code}`}`, { hint: 'run `git status` in the registry to see why' });
  }
  const [prefix, shallowPath] = r.stdout.toString('utf8').split('\n');
  const text = await fs.readFile(path.resolve(root, shallowPath), 'utf8').catch(() => '');
  return { prefix: prefix ?? '', shallow: new Set(text.split('\n').filter((l) => /^[0-9a-f]{40,64}$/.test(l))) };
}

/** A revision's commit hash, or a clear error naming what was asked for. */
export async function resolveCommit(root: string, rev: string, what: string, options: GitOptions = {}): Promise<string> {
  const r = await runGit(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], options);
  if (r.code !== 0)
    throw new InfraError(ExitCode.invalid, `${what} ${JSON.stringify(rev)}: no such commit in the registry's git history`, {
      hint: `pass a commit, branch or tag that \`git -C ${shellQuote(root)} log --oneline\` lists (a CI job may need the history: \`git fetch --unshallow\`)`,
    });
  return r.stdout.toString('utf8').trim();
}

/** The commits after `since` up to `head` (all of them without `since`), parents before children. */
export async function commitsInRange(root: string, since: string | undefined, head: string, options: GitOptions = {}): Promise<string[]> {
  const args = ['rev-list', '--topo-order', '--reverse', since ? `${since}..${head}` : head];
  const r = await runGit(root, args, options);
  if (r.code !== 0) throw new InfraError(ExitCode.remote, `git rev-list failed: ${lastLine(r.stderr)}`, { hint: 'run `git log` in the registry to see why' });
  return r.stdout.toString('utf8').split('\n').filter(Boolean);
}

export async function isAncestor(root: string, a: string, b: string, options: GitOptions = {}): Promise<boolean> {
  return (await runGit(root, ['merge-base', '--is-ancestor', a, b], options)).code === 0;
}

/** The tree git would make by merging the two parents, and whether that merge is clean (git 2.38+). */
export async function cleanMergeTree(root: string, first: string, second: string, options: GitOptions = {}): Promise<{ tree?: string; clean: boolean }> {
  const r = await runGit(root, ['merge-tree', '--write-tree', '--no-messages', first, second], options);
  const tree = /^[0-9a-f]{40,64}/.exec(r.stdout.toString('utf8'))?.[0];
  return { ...(tree ? { tree } : {}), clean: r.code === 0 && tree !== undefined };
}

export async function readPin(root: string, options: GitOptions = {}): Promise<string | undefined> {
  const r = await runGit(root, ['config', '--get', PIN_KEY], options);
  const v = r.stdout.toString('utf8').trim();
  return r.code === 0 && v ? v : undefined;
}

export async function writeConfig(root: string, key: string, value: string, options: GitOptions = {}): Promise<void> {
  const r = await runGit(root, ['config', key, value], options);
  if (r.code !== 0) throw new InfraError(ExitCode.remote, `git config ${shellQuote(key)} failed: ${lastLine(r.stderr)}`, { hint: 'check that the repository\'s .git/config is writable' });
}

export async function readConfig(root: string, key: string, options: GitOptions = {}): Promise<string | undefined> {
  const r = await runGit(root, ['config', '--get', key], options);
  const v = r.stdout.toString('utf8').trim();
  return r.code === 0 && v ? v : undefined;
}

/** The tree id of the folder `prefix` ('' or 'a/b/') inside the tree `tree`, if it exists. */
export async function subtree(reader: GitObjectReader, tree: string, prefix: string): Promise<string | undefined> {
  let at: string | undefined = tree;
  for (const part of prefix.split('/').filter(Boolean)) {
    const entries: TreeEntry[] | undefined = await reader.tree(at!);
    at = entries?.find((e) => e.name === part && e.isTree)?.oid;
    if (!at) return undefined;
  }
  return at;
}

export interface TreeChange {
  path: string;
  before?: string; // blob id
  after?: string;
}

/** The files that differ between two trees (either may be absent), by walking only the subtrees that differ. */
export async function diffTrees(reader: GitObjectReader, before: string | undefined, after: string | undefined, base = ''): Promise<TreeChange[]> {
  if (before === after) return [];
  const [a, b] = await Promise.all([before ? reader.tree(before) : [], after ? reader.tree(after) : []]);
  const left = new Map((a ?? []).map((e) => [e.name, e]));
  const right = new Map((b ?? []).map((e) => [e.name, e]));
  const out: TreeChange[] = [];
  for (const name of [...new Set([...left.keys(), ...right.keys()])].sort()) {
    const l = left.get(name);
    const r = right.get(name);
    if (l && r && l.oid === r.oid && l.mode === r.mode) continue;
    const rel = `${base}${name}`;
    const lt = l?.isTree ? l.oid : undefined;
    const rt = r?.isTree ? r.oid : undefined;
    if (lt || rt) out.push(...(await diffTrees(reader, lt, rt, `${rel}/`)));
    const lf = l && !l.isTree ? l.oid : undefined;
    const rf = r && !r.isTree ? r.oid : undefined;
    if (lf || rf) out.push({ path: rel, ...(lf ? { before: lf } : {}), ...(rf ? { after: rf } : {}) });
  }
  return out;
}
