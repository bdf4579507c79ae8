/**
 * Crash safety and lost updates (campaign): a real `infra` process is stopped at a named point of
 * its write path (INFRA_TEST_PAUSE_AT, read in one place: src/adapters/test-pause.ts) and SIGKILLed there. Every
 * file must then be whole: parseable, and byte for byte either what it was before or what an uninterrupted
 * run writes. The next run takes the dead process's lock over and removes its temporary files.
 * N processes adding different keys at once must all land.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { spawnCli } from '../helpers/cli.js';
import { copyExample, REPO_ROOT } from '../helpers/example.js';
import { ed25519Line } from '../helpers/keys.js';
import { WRITES_AT_ONCE } from '../../src/services/render.js';

type Tree = Map<string, string>;

/** Every file under `dir` (relative path -> content), .git aside. */
async function snapshot(dir: string): Promise<Tree> {
  const out: Tree = new Map();
  const walk = async (rel: string): Promise<void> => {
    for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name !== '.git') await walk(r);
      } else out.set(r, await fs.readFile(path.join(dir, r), 'utf8'));
    }
  };
  await walk('');
  return out;
}

function mustSucceed(r: { code: number; stdout: string; stderr: string }): void {
  if (r.code !== 0) throw new Error(`infra exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
}

const isTemp = (rel: string) => /\.(tmp|stale)$/.test(rel);

/**
 * Run infra until it reports reaching `point`, then SIGKILL it. Resolves with what it said when it paused,
 * or with `finished` when it ended without reaching the point.
 */
function killAt(args: string[], point: string, opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ paused: string } | { finished: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/run.js'), ...args], {
      env: { ...process.env, NO_COLOR: '1', ...opts.env, INFRA_TEST_PAUSE_AT: point },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let paused: string | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`infra ${args.join(' ')} neither paused at ${point} nor finished within 60 s:\n${stderr}`));
    }, 60_000);
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /infra-test-paused-at (\S+ .*)\n/.exec(stderr);
      if (m && paused === undefined) {
        paused = m[1];
        child.kill('SIGKILL');
      }
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(paused !== undefined ? { paused } : { finished: code ?? -1 });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Each file of `now` is parseable (YAML) and equals its `before` or its `after` version; no file vanished. */
function expectEachFileWhole(before: Tree, after: Tree, now: Tree): void {
  for (const [rel, text] of now) {
    if (isTemp(rel) || rel === '.infra.lock') continue;
    const versions = [before.get(rel), after.get(rel)];
    expect({ rel, whole: versions.includes(text) }).toEqual({ rel, whole: true });
    if (rel.endsWith('.yml')) expect({ rel, errors: parseDocument(text).errors.map((e) => e.message) }).toEqual({ rel, errors: [] });
  }
  for (const rel of before.keys()) if (after.has(rel)) expect({ rel, present: now.has(rel) }).toEqual({ rel, present: true });
}

interface Scenario {
  name: string;
  args: (dir: string) => string[];
  input?: string;
  /** How many files the write path renames into place in an uninterrupted run, at least. */
  minWrites: number;
  /** Where to kill it: `locked` (lock held, nothing written), `before-rename#N` (N-th temporary file complete), `after-rename#N`; `#last` is the last write. */
  points: string[];
  /** A run after the crash that must succeed (and take over the lock, and clean up). */
  next: (dir: string) => { args: string[]; input?: string };
}

const keyLine = ed25519Line('crash@test');
const scenarios: Scenario[] = [
  {
    name: 'keys add',
    args: (dir) => ['keys', 'add', 'frank', '-', '--name', 'crash', '--dir', dir],
    input: keyLine,
    minWrites: 1,
    points: ['locked', 'before-rename#1', 'after-rename#1'],
    next: (dir) => ({ args: ['keys', 'add', 'frank', '-', '--name', 'next', '--dir', dir], input: ed25519Line('next@test') }),
  },
  {
    name: 'members offboard (an admin: member.yml and infra.yml)',
    args: (dir) => ['members', 'offboard', 'bob', '--date', '2026-11-01', '--dir', dir],
    minWrites: 2,
    points: ['locked', 'before-rename#1', 'after-rename#1', 'before-rename#2', 'after-rename#2'],
    next: (dir) => ({ args: ['keys', 'add', 'frank', '-', '--name', 'next', '--dir', dir], input: ed25519Line('next@test') }),
  },
  {
    name: 'render',
    args: (dir) => ['render', '--dir', dir],
    minWrites: 3,
    points: ['locked', 'before-rename#1', 'after-rename#1', 'before-rename#2', 'before-rename#last', 'after-rename#last'],
    next: (dir) => ({ args: ['render', '--dir', dir] }),
  },
];

describe.each(scenarios)('SIGKILL during $name', (scenario) => {
  let before: Tree;
  let after: Tree;
  let writes: number;

  beforeAll(async () => {
    const clean = await copyExample();
    before = await snapshot(clean);
    const r = await spawnCli(scenario.args(clean), { input: scenario.input });
    mustSucceed(r);
    after = await snapshot(clean);
    writes = [...after].filter(([rel, text]) => before.get(rel) !== text).length;
    expect(writes).toBeGreaterThanOrEqual(scenario.minWrites);
  });

  it.each(scenario.points)('at %s: every file whole, then the next run takes over and cleans up', async (pointSpec) => {
    const point = pointSpec.replace('#last', `#${writes}`);
    const dir = await copyExample();
    const result = await killAt(scenario.args(dir), point, { input: scenario.input });
    expect(result).toEqual({ paused: expect.stringMatching(new RegExp(`^${point.split('#')[0]} `)) });
    const crashed = await snapshot(dir);
    expectEachFileWhole(before, after, crashed);
    expect(crashed.has('.infra.lock')).toBe(true); // the killed process still "holds" it
    // render writes up to WRITES_AT_ONCE files at once: each may have left its temporary copy
    if (point.startsWith('before-rename')) {
      const temps = [...crashed.keys()].filter(isTemp).length;
      expect(temps).toBeGreaterThanOrEqual(1);
      expect(temps).toBeLessThanOrEqual(scenario.name === 'render' ? WRITES_AT_ONCE : 1);
    }

    const next = scenario.next(dir);
    const r = await spawnCli(next.args, { input: next.input });
    mustSucceed(r);
    const now = await snapshot(dir);
    expect([...now.keys()].filter((rel) => isTemp(rel) || rel === '.infra.lock')).toEqual([]);
    if (scenario.name === 'render') expect(now).toEqual(after); // rendering again finishes the job
  });
});

describe('concurrent edits', () => {
  it('five processes each adding a different key at once: every key lands', async () => {
    const dir = await copyExample();
    const names = ['one', 'two', 'three', 'four', 'five'];
    const lines = names.map((n) => ed25519Line(`${n}@test`));
    const results = await Promise.all(
      names.map((name, i) => spawnCli(['keys', 'add', 'frank', '-', '--name', name, '--dir', dir], { input: lines[i], env: { INFRA_LOCK_WAIT_MS: '120000' }, timeoutMs: 150_000 })),
    );
    results.forEach(mustSucceed);
    const member = await fs.readFile(path.join(dir, 'keys/frank/member.yml'), 'utf8');
    const keys = (parseDocument(member).toJS() as { ssh_keys: Array<{ name: string; key: string }> }).ssh_keys;
    for (const [i, name] of names.entries()) expect(keys).toContainEqual(expect.objectContaining({ name, key: lines[i] }));
    expect((await fs.readdir(dir)).filter((f) => f.startsWith('.infra.lock'))).toEqual([]);
  }, 180_000);
});
