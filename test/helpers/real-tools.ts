import { spawnSync } from 'node:child_process';

/**
 * Tests of real programs run whenever the program exists. Missing: in CI that is a failure
 * (the suite must prove the real thing); on a developer machine the tests skip with how to install it.
 */
export function requireTool(cmd: string, aptPackage: string): boolean {
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
  if (found) return true;
  const message = `${cmd} not found: install it with \`apt-get install ${aptPackage}\``;
  if (process.env.CI) throw new Error(`${message} (CI is set, so tests that need it must not skip)`);
  console.warn(`skipping tests that need ${message}`);
  return false;
}
