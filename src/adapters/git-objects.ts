/**
 * Reading git objects through ONE long-lived `git cat-file --batch` process: a registry at a revision is a few
 * dozen files, and verifying a thousand commits reads tens of thousands of objects, so a process per file
 * (milliseconds each) would cost more than the verification itself. Requests are answered in order; each
 * has a deadline, after which the process is killed and every waiting request fails, naming git.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ExitCode, InfraError } from '../lib/errors.js';
import { shellCommand } from '../lib/shell-quote.js';

export interface GitObject {
  oid: string;
  type: 'blob' | 'tree' | 'commit' | 'tag';
  data: Buffer;
}

export interface TreeEntry {
  mode: string;
  name: string;
  oid: string;
  /** a folder (tree); otherwise a file, a link (mode 120000) or a submodule */
  isTree: boolean;
}

/** Objects larger than this are refused: a registry file holds at most 1 MB, a commit or a tree far less. */
export const MAX_OBJECT_BYTES = 16 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;

interface Pending {
  resolve: (o: GitObject | undefined) => void;
  reject: (e: Error) => void;
}

export class GitObjectReader {
  private child?: ChildProcessWithoutNullStreams;
  private readonly queue: Pending[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  private failed?: Error;
  private timer?: NodeJS.Timeout;
  private readonly cache = new Map<string, GitObject | undefined>();
  /** how many git processes this reader started (one, unless one died): what tests hold it to */
  started = 0;

  constructor(
    private readonly cwd: string,
    private readonly options: { git?: string; timeoutMs?: number } = {},
  ) {}

  private start(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn(this.options.git ?? 'git', ['-C', this.cwd, 'cat-file', '--batch'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', LANG: 'C', GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' },
    });
    this.started++;
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => this.onData(b));
    child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString('utf8')).slice(-2000)));
    child.on('error', (e: NodeJS.ErrnoException) =>
      this.fail(e.code === 'ENOENT' ? new InfraError(ExitCode.invalid, 'git is not installed (infra reads the registry\'s history with it)', { hint: 'apt-get install git' }) : e),
    );
    child.on('close', (code) => this.fail(new InfraError(ExitCode.remote, `git cat-file stopped (exit ${code ?? 'signal'})${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`, { hint: 'run `git fsck` in the registry' })));
    child.stdin.on('error', () => undefined); // a dead git is reported by 'close'
    this.child = child;
    return child;
  }

  private armTimer(): void {
    clearTimeout(this.timer);
    if (!this.queue.length) return;
    const ms = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.timer = setTimeout(() => {
      this.child?.kill('SIGKILL');
      this.fail(new InfraError(ExitCode.remote, `git cat-file did not answer within ${ms / 1000} s (in ${this.cwd})`, { hint: 'check that `git status` works in the registry (a lock, a network filesystem)' }));
    }, ms);
    this.timer.unref?.();
  }

  private fail(e: Error): void {
    clearTimeout(this.timer);
    this.failed ??= e;
    this.child = undefined;
    for (const p of this.queue.splice(0)) p.reject(this.failed);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      const eol = this.buffer.indexOf(0x0a);
      if (eol < 0 || !this.queue.length) return;
      const header = this.buffer.subarray(0, eol).toString('utf8');
      const m = /^([0-9a-f]{40,64}) (blob|tree|commit|tag) (\d+)$/.exec(header);
      if (!m) {
        // "<name> missing", "<name> ambiguous": no such object
        this.buffer = this.buffer.subarray(eol + 1);
        this.queue.shift()!.resolve(undefined);
        this.armTimer();
        continue;
      }
      const size = Number(m[3]);
      if (size > MAX_OBJECT_BYTES) {
        this.child?.kill('SIGKILL');
        this.fail(new InfraError(ExitCode.invalid, `git object ${m[1]} is ${size} bytes; infra reads registry objects of at most ${MAX_OBJECT_BYTES / 1048576} MB`, { hint: `see what committed it: \`${shellCommand(['git', 'log', `--find-object=${m[1]}`])}\`` }));
        return;
      }
      if (this.buffer.length < eol + 1 + size + 1) return;
      const data = Buffer.from(this.buffer.subarray(eol + 1, eol + 1 + size));
      this.buffer = this.buffer.subarray(eol + 1 + size + 1);
      this.queue.shift()!.resolve({ oid: m[1], type: m[2] as GitObject['type'], data });
      this.armTimer();
    }
  }

  /** The object `name` names (`<oid>`, `<rev>:<path>`), or undefined when there is none. */
  read(name: string): Promise<GitObject | undefined> {
    if (/[\n\r]/.test(name)) return Promise.reject(new InfraError(ExitCode.invalid, `a git object name with a line break: ${JSON.stringify(name.slice(0, 80))}`));
    // Only object ids are cached: `<rev>:<path>` may name another object once a ref moves.
    const cacheable = /^[0-9a-f]{40,64}$/.test(name);
    if (cacheable && this.cache.has(name)) return Promise.resolve(this.cache.get(name));
    if (this.failed) return Promise.reject(this.failed);
    const child = this.start();
    return new Promise<GitObject | undefined>((resolve, reject) => {
      this.queue.push({
        resolve: (o) => {
          if (cacheable && (!o || o.type !== 'blob' || o.data.length < 65536)) this.cache.set(name, o);
          resolve(o);
        },
        reject,
      });
      if (this.queue.length === 1) this.armTimer();
      child.stdin.write(`${name}\n`);
    });
  }

  /** The entries of a tree object (git's binary format: `<mode> <name>\0<raw oid>`). */
  async tree(name: string): Promise<TreeEntry[] | undefined> {
    const o = await this.read(name);
    if (!o || o.type !== 'tree') return undefined;
    return parseTree(o.data, o.oid.length / 2);
  }

  /** Ends the process (stdin closed: git exits on its own), waiting at most a second before killing it. */
  async close(): Promise<void> {
    const child = this.child;
    clearTimeout(this.timer);
    if (!child) return;
    this.child = undefined;
    this.failed ??= new InfraError(ExitCode.remote, 'git cat-file was closed');
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 1000);
      child.once('close', () => {
        clearTimeout(kill);
        resolve();
      });
      child.stdin.end();
    });
  }
}

export function parseTree(data: Buffer, oidBytes = 20): TreeEntry[] {
  const out: TreeEntry[] = [];
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    const nul = data.indexOf(0x00, sp + 1);
    if (sp < 0 || nul < 0 || nul + 1 + oidBytes > data.length) throw new InfraError(ExitCode.invalid, 'a git tree object is malformed', { hint: 'run `git fsck` in the registry' });
    const mode = data.subarray(at, sp).toString('ascii');
    const name = data.subarray(sp + 1, nul).toString('utf8');
    const oid = data.subarray(nul + 1, nul + 1 + oidBytes).toString('hex');
    out.push({ mode, name, oid, isTree: mode === '40000' });
    at = nul + 1 + oidBytes;
  }
  return out;
}
