/**
 * The registry's git history, through the plain `git` program: the commits that touched infra.yml or
 * keys/ since a date or a ref, and the registry files at a commit. No shell: arguments are arrays, a
 * user's ref is resolved to a hash before it is used, and every run has a timeout (a hung git fails,
 * naming git, instead of hanging infra).
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ExitCode, InfraError } from '../lib/errors.js';
import type { CommitFiles } from '../core/changes.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface GitOptions {
  /** The program (default `git` from PATH). */
  git?: string;
  /** Per git run, in milliseconds (default 30 s). */
  timeoutMs?: number;
}

/** A commit that touched the registry: its full and short hash, date (committer's, YYYY-MM-DD), first parent, and the registry files it changed. */
export interface RegistryCommit {
  commit: string;
  short: string;
  date: string;
  parent?: string;
  files: string[]; // relative to the registry root
}

const REGISTRY_PATHS = ['infra.yml', 'keys'];
const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_OUTPUT = 256 * 1024 * 1024;

export interface GitResult {
  stdout: Buffer;
  stderr: string;
  code: number;
}

/** Runs git in `root`; rejects only when git cannot start or does not finish in time. */
export function runGit(root: string, args: readonly string[], options: GitOptions, input?: string): Promise<GitResult> {
  const program = options.git ?? 'git';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    // core.quotePath=false: file names are printed as they are, not as "\303\251"-quoted C strings.
    const child = spawn(program, ['-c', 'core.quotePath=false', '-C', root, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      // Messages in English (they are matched), never a prompt for credentials, no pager.
      env: { ...process.env, LC_ALL: 'C', LANG: 'C', GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', GIT_OPTIONAL_LOCKS: '0' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(() =>
        reject(
          new InfraError(ExitCode.remote, `git ${args[0]} did not finish within ${Math.round(timeoutMs / 100) / 10} s (in ${root})`, {
            hint: `check that \`git -C ${shellQuote(root)} ${shellQuote(args[0])}\` works on its own (a lock, a network filesystem, a credential prompt)`,
          }),
        ),
      );
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_OUTPUT) {
        child.kill('SIGKILL');
        finish(() => reject(new InfraError(ExitCode.remote, `git ${args[0]} printed more than ${MAX_OUTPUT / 1024 / 1024} MB`, { hint: 'narrow --since to a later date or commit' })));
        return;
      }
      out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) =>
      finish(() =>
        reject(
          e.code === 'ENOENT'
            ? new InfraError(ExitCode.invalid, `${program} is not installed (--since reads the registry's git history)`, { hint: 'install git (`apt-get install git`), or run the audit without --since', cause: e })
            : e,
        ),
      ),
    );
    child.on('close', (code) => finish(() => resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), code: code ?? 1 })));
    child.stdin.on('error', () => undefined); // git may exit before reading stdin; its exit code says why
    child.stdin.end(input ?? '');
  });
}

const lastLine = (stderr: string) => stderr.trim().split('\n').filter(Boolean).pop() ?? '';

function gitFailed(args: readonly string[], r: GitResult): InfraError {
  return new InfraError(ExitCode.remote, `git ${args[0]} failed: ${lastLine(r.stderr) || `exit code ${r.code}`}`, { hint: 'run the same git command by hand in the registry to see why' });
}

/** The registry's folder inside its repository (`` for the top, `sub/` for a subfolder); a clear error when it is not in one. */
export async function registryPrefix(root: string, options: GitOptions = {}): Promise<string> {
  const r = await runGit(root, ['rev-parse', '--show-prefix'], options);
  if (r.code !== 0) {
    const why = lastLine(r.stderr);
    if (/not a git repository/i.test(why))
      throw new InfraError(ExitCode.invalid, `the registry ${root} is not a git repository: --since reads what changed from its git history`, {
        hint: `keep the registry in git (\`git -C ${shellQuote(root)} init && git -C ${shellQuote(root)} add -A && git -C ${shellQuote(root)} commit -m "infra registry"\`), or run \`infra audit\` without --since`,
      });
    throw new InfraError(ExitCode.invalid, `git cannot read the registry ${root}: ${why || `exit code ${r.code}`}`, { hint: 'run `git status` in the registry to see why' });
  }
  return r.stdout.toString('utf8').trim();
}

const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** A ref's commit hash, or a clear error naming the ref. */
export async function resolveRef(root: string, ref: string, options: GitOptions = {}): Promise<string> {
  await registryPrefix(root, options);
  // --end-of-options: a "ref" that starts with - is a name, never an option.
  const r = await runGit(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], options);
  if (r.code !== 0)
    throw new InfraError(ExitCode.invalid, `--since ${JSON.stringify(ref)}: no such commit, branch or tag in the registry's git history`, {
      hint: `pass a date (YYYY-MM-DD) or a ref that \`git -C ${shellQuote(root)} log --oneline\` lists`,
    });
  return r.stdout.toString('utf8').trim();
}

/**
 * The commits that touched infra.yml or keys/ since `since` (a date YYYY-MM-DD: commits from that day on,
 * by committer date; else a ref: commits after it, up to HEAD), oldest first. Merge commits are left out:
 * the commits they bring are listed themselves.
 */
export async function commitsSince(root: string, since: string, options: GitOptions = {}, paths: readonly string[] = REGISTRY_PATHS): Promise<RegistryCommit[]> {
  await registryPrefix(root, options);
  const head = await runGit(root, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], options);
  if (head.code !== 0) throw new InfraError(ExitCode.invalid, `the registry's git repository has no commits yet`, { hint: `commit the registry first: \`git -C ${shellQuote(root)} add -A && git -C ${shellQuote(root)} commit -m "infra registry"\`` });
  const range = ISO_DATE_RE.test(since) ? [`--since=${since} 00:00:00`, 'HEAD'] : [`${await resolveRef(root, since, options)}..HEAD`];
  const args = ['log', '--reverse', '--no-merges', '--no-renames', '--relative', '--format=%x1e%H%x1f%h%x1f%cs%x1f%P', '--name-only', ...range, '--', ...paths];
  const r = await runGit(root, args, options);
  if (r.code !== 0) throw gitFailed(args, r);
  const out: RegistryCommit[] = [];
  for (const record of r.stdout.toString('utf8').split('\x1e')) {
    if (!record.trim()) continue;
    const [header, ...files] = record.split('\n');
    const [commit, short, date, parents] = header.split('\x1f');
    const parent = parents?.trim().split(' ')[0];
    out.push({ commit, short, date, ...(parent ? { parent } : {}), files: files.map((f) => f.trim()).filter(Boolean) });
  }
  return out;
}

/** The registry files `paths` (relative to the registry root) as they were at `commit`; files that did not exist are absent. */
export async function readFilesAt(root: string, commit: string, paths: readonly string[], options: GitOptions = {}): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (paths.length === 0) return out;
  if (!/^[0-9a-f]{4,64}$/.test(commit)) throw new InfraError(ExitCode.invalid, `not a commit hash: ${JSON.stringify(commit.slice(0, 80))}`, { hint: 'resolve a ref first (resolveRef)' });
  for (const p of paths) if (/[\n\r]/.test(p)) throw new InfraError(ExitCode.invalid, `a registry path with a line break: ${JSON.stringify(p.slice(0, 80))}`);
  const prefix = await registryPrefix(root, options);
  const r = await runGit(root, ['cat-file', '--batch'], options, paths.map((p) => `${commit}:${prefix}${p}\n`).join(''));
  if (r.code !== 0) throw gitFailed(['cat-file'], r);
  // Each answer: "<sha> <type> <size>\n<bytes>\n", or "<name> missing\n".
  const buf = r.stdout;
  let at = 0;
  for (const p of paths) {
    const eol = buf.indexOf(0x0a, at);
    if (eol < 0) throw new InfraError(ExitCode.remote, 'git cat-file answered less than was asked', { hint: 'run `git fsck` in the registry' });
    const header = buf.subarray(at, eol).toString('utf8');
    at = eol + 1;
    const m = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
    if (!m) continue; // "<name> missing" (or ambiguous): the file did not exist there
    const size = Number(m[2]);
    if (m[1] === 'blob') out.set(p, buf.subarray(at, at + size).toString('utf8'));
    at += size + 1;
  }
  return out;
}

async function pgpAsFingerprints(files: Map<string, string>): Promise<Map<string, string>> {
  const { certificateIdsIn } = await import('./pgp-certs.js');
  for (const [rel, text] of files) if (rel.endsWith('/pgp.asc')) files.set(rel, (await certificateIdsIn(text)).map((c) => c.fingerprint).join('\n'));
  return files;
}

/** Every registry commit since `since`, with its changed registry files before (first parent) and after: what changesOver reads. */
export async function registryHistory(root: string, since: string, options: GitOptions = {}): Promise<CommitFiles[]> {
  const commits = await commitsSince(root, since, options);
  const out: CommitFiles[] = [];
  for (const c of commits) {
    // Only the files changes are read from; token values are never read. A pgp.asc is handed on as its
    // certificates' fingerprints, one a line (what "changes since" names), never as the key itself.
    const files = c.files.filter((f) => f === 'infra.yml' || /^keys\/[^/\n]+\/(member\.yml|pgp\.asc)$/.test(f));
    if (files.length === 0) continue;
    const after = await pgpAsFingerprints(await readFilesAt(root, c.commit, files, options));
    const before = c.parent ? await pgpAsFingerprints(await readFilesAt(root, c.parent, files, options)) : new Map<string, string>();
    out.push({ commit: c.short, date: c.date, before, after });
  }
  return out;
}

/**
 * The registry files (infra.yml, keys/<handle>/member.yml and pgp.asc) edited in the working tree and not
 * committed yet, as HEAD has them and as they are on disk now (an untracked file is new; a deleted one is
 * absent after): what changesIn reads, for "what changed since" to say plainly what is not committed.
 * Undefined when nothing is uncommitted. Links and files over 1 MB on disk are left out, never followed.
 */
export async function uncommittedRegistryFiles(root: string, date: string, options: GitOptions = {}): Promise<CommitFiles | undefined> {
  await registryPrefix(root, options);
  const listed = async (args: string[]) => {
    const r = await runGit(root, args, options);
    if (r.code !== 0) throw gitFailed(args, r);
    return r.stdout.toString('utf8').split('\0').filter(Boolean);
  };
  const changed = await listed(['diff', '--name-only', '-z', '--no-renames', '--relative', 'HEAD', '--', ...REGISTRY_PATHS]);
  const untracked = await listed(['ls-files', '-z', '--others', '--exclude-standard', '--', ...REGISTRY_PATHS]);
  const files = [...new Set([...changed, ...untracked])].filter((f) => f === 'infra.yml' || /^keys\/[^/\n]+\/(member\.yml|pgp\.asc)$/.test(f)).sort();
  if (files.length === 0) return undefined;
  const head = await runGit(root, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], options);
  const before = head.code === 0 ? await pgpAsFingerprints(await readFilesAt(root, head.stdout.toString('utf8').trim(), files, options)) : new Map<string, string>();
  const after = new Map<string, string>();
  for (const rel of files) {
    const file = path.join(root, rel);
    const st = await fs.lstat(file).catch(() => undefined);
    if (st?.isFile() && st.size <= 1024 * 1024) after.set(rel, await fs.readFile(file, 'utf8'));
  }
  return { commit: 'uncommitted', date, before, after: await pgpAsFingerprints(after) };
}
