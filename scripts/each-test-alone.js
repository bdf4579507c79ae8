#!/usr/bin/env node
// Proves that every test of the given files passes when run alone (`jest -t NAME`), as a developer reruns one
// failing test: lists each file's tests from one jest run, then runs each test by its full name, one jest and
// one worker at a time, and fails if any of them does not run exactly one test that passes.
//   node scripts/each-test-alone.js test/real/sshd-render.test.ts [more files]   (set CI=true for the real tests)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node scripts/each-test-alone.js TEST_FILE...\n');
  process.exit(2);
}
const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules`.trim() };
const out = mkdtempSync(path.join(os.tmpdir(), 'infra-each-test-alone-'));
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One jest run of `file` (optionally only the tests whose full name matches `pattern`): its JSON report. */
function jest(file, pattern) {
  const report = path.join(out, 'report.json');
  const args = ['jest', '-w', '1', '--json', `--outputFile=${report}`, file, ...(pattern ? ['-t', pattern] : [])];
  const r = spawnSync('npx', args, { env, encoding: 'utf8', timeout: 30 * 60_000, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    return JSON.parse(readFileSync(report, 'utf8'));
  } catch {
    throw new Error(`jest ${args.join(' ')} wrote no report (exit ${r.status}):\n${r.stderr}`);
  } finally {
    rmSync(report, { force: true });
  }
}

let failed = 0;
try {
  for (const file of files) {
    const names = jest(file).testResults.flatMap((t) => t.assertionResults.map((a) => a.fullName));
    for (const name of names) {
      const report = jest(file, `^${escape(name)}$`);
      const ok = report.numPassedTests === 1 && report.numFailedTests === 0 && report.numFailedTestSuites === 0;
      if (!ok) failed++;
      process.stdout.write(`${ok ? 'alone ok ' : 'ALONE FAIL'}  ${file}  ${name}  (${report.numPassedTests} passed, ${report.numFailedTests} failed)\n`);
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.stdout.write(failed ? `${failed} test(s) fail when run alone\n` : 'every test passes alone\n');
process.exit(failed ? 1 : 0);
