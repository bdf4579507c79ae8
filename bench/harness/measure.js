// Whole-process timing: wall time from spawn to exit, peak RSS from GNU time (`/usr/bin/time -f %M`,
// the child's own maxrss) or, without it, from the wrapper's resourceUsage of its children. A case and its
// reference run alternately (A B A B ...) after one warm-up each, so both see the same machine load.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const GNU_TIME = existsSync('/usr/bin/time') && spawnSync('/usr/bin/time', ['-f', '%M', 'true']).status === 0 ? '/usr/bin/time' : undefined;
export const rssSource = GNU_TIME ? '/usr/bin/time -f %M' : 'process.resourceUsage (wrapper)';
const TIMEOUT_MS = 10 * 60 * 1000;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'infra-bench-rss-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

const RSS_WRAPPER = new URL('./rss-wrapper.js', import.meta.url).href;

/**
 * Run `spec` once ({cmd, args (or args(run)), cwd, env, input, okStatus, check}); run -1 is the warm-up.
 * Returns {ms, rssMB, status, stdout, stderr}.
 */
export function runOnce(spec, run = -1) {
  const rssFile = path.join(scratch, 'rss');
  rmSync(rssFile, { force: true });
  const specArgs = typeof spec.args === 'function' ? spec.args(run) : spec.args;
  let [cmd, args] = [spec.cmd, specArgs];
  if (GNU_TIME) [cmd, args] = [GNU_TIME, ['-f', '%M', '-o', rssFile, spec.cmd, ...specArgs]];
  // Without GNU time, a Node child reports its own maxRSS from an exit hook (other programs: no RSS).
  else if (spec.cmd === process.execPath) args = ['--import', RSS_WRAPPER, ...specArgs];
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, {
    cwd: spec.cwd,
    env: { ...process.env, NO_COLOR: '1', BENCH_RSS_FILE: rssFile, ...spec.env },
    input: spec.input,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    timeout: TIMEOUT_MS,
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const rssKB = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) : undefined;
  // The 1-minute load average as the run ends (this machine may be shared: the figure to read beside the time).
  const result = { ms, rssMB: rssKB ? rssKB / 1024 : undefined, load1: os.loadavg()[0], status: r.status, stdout: r.stdout, stderr: r.stderr };
  const okStatus = spec.okStatus ?? [0];
  if (!okStatus.includes(r.status)) throw new Error(`${spec.cmd} ${spec.args.join(' ')} exited ${r.status ?? r.signal}:\n${(r.stderr || r.stdout || '').slice(0, 2000)}`);
  spec.check?.(result, run);
  return result;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function stats(samples) {
  const ms = samples.map((s) => s.ms);
  const rss = samples.map((s) => s.rssMB).filter((x) => x !== undefined);
  return { median: median(ms), min: Math.min(...ms), max: Math.max(...ms), rssMB: rss.length ? Math.max(...rss) : undefined, runs: ms, load1: samples.map((s) => Number(s.load1.toFixed(2))) };
}

/**
 * Time `subject` and (optionally) `reference`, alternating, `runs` times each after one warm-up each.
 * `before` hooks (untimed) run before every run of that side, e.g. to clear rendered files. `warmup: false`
 * skips the warm-up (runs that start cold anyway and cost minutes each).
 */
export function compare({ subject, reference, runs, warmup = true }) {
  const sides = reference ? [subject, reference] : [subject];
  if (warmup)
    for (const s of sides) {
      s.before?.(-1);
      runOnce(s, -1);
    }
  const samples = sides.map(() => []);
  for (let r = 0; r < runs; r++)
    sides.forEach((s, i) => {
      s.before?.(r);
      samples[i].push(runOnce(s, r));
    });
  return { subject: stats(samples[0]), reference: reference ? stats(samples[1]) : undefined };
}
