import { spawnSync } from 'node:child_process';

/**
 * Tests of real programs run whenever the program exists. Missing: in CI that is a failure
 * (the suite must prove the real thing); on a developer machine the tests skip with how to install it.
 */
/** CI=true (or 1, or any value but false/0/empty), as CI systems set it. */
export const inCI = () => !['', '0', 'false'].includes((process.env.CI ?? '').toLowerCase());

export function requireTool(cmd: string, aptPackage: string): boolean {
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
  if (found) return true;
  const message = `${cmd} not found: install it with \`apt-get install ${aptPackage}\``;
  if (inCI()) throw new Error(`${message} (CI is set, so tests that need it must not skip)`);
  console.warn(`skipping tests that need ${message}`);
  return false;
}

/** Whether a process still exists (for cleanup of daemons such as wireguard-go and sshd). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Tests that create Unix users, start sshd or make network namespaces need root: in CI they must not skip. */
export function isRoot(): boolean {
  if (process.getuid?.() === 0) return true;
  const message = 'these tests create a Unix user and start sshd: run them as root';
  if (inCI()) throw new Error(`${message} (CI is set, so they must not skip)`);
  console.warn(`skipping: ${message}`);
  return false;
}
