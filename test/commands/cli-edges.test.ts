/** What users expect of any CLI: -h is --help, and a reader that leaves early (`| head`) ends the command quietly. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { run } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/example.js';

it('-h shows the same help as --help', async () => {
  const short = await run(['keys', 'list', '-h']);
  const long = await run(['keys', 'list', '--help']);
  expect(short.code).toBe(0);
  expect(short.stdout).toContain('USAGE');
  expect(short.stdout).toBe(long.stdout);
});

it('--json is described in infra’s words', async () => {
  const help = await run(['members', 'list', '--help']);
  expect(help.stdout).not.toContain('Format output as json');
  expect(help.stdout).toContain('one JSON document on stdout');
});

it.each([['stdout'], ['stdout and stderr']])('a reader of %s that closes after the first chunk: exit 0, nothing on stderr', async (which) => {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/run.js'), 'audit', '--format', 'markdown', '--dir', REPO_ROOT], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.once('data', () => {
    child.stdout.destroy();
    if (which !== 'stdout') child.stderr.destroy();
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  expect(code).toBe(0);
  if (which === 'stdout') expect(stderr).toBe('');
});
