/**
 * Shell completion for real: `infra autocomplete bash` writes oclif's script with infra's function appended,
 * and bash's own completion machinery (the function `complete -p infra` names, called with COMP_WORDS and
 * COMP_CWORD as bash sets them) offers handles, devices and token names read from the registry in the
 * current folder.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { spawnCli } from '../helpers/cli.js';
import { copyExample, REPO_ROOT, tempDir } from '../helpers/example.js';

let cache: string;
let bin: string;
let registry: string;

beforeAll(async () => {
  cache = await tempDir('infra-u20a-cache-');
  bin = await tempDir('infra-u20a-bin-');
  registry = await copyExample();
  await fs.writeFile(path.join(bin, 'infra'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(REPO_ROOT, 'bin/run.js')}" "$@"\n`, { mode: 0o755 });
  const r = await spawnCli(['autocomplete', 'bash'], { env: { XDG_CACHE_HOME: cache } });
  expect(r.code).toBe(0);
}, 120_000);

/** What bash offers for the words after `infra` (the last one being completed), in the registry folder. */
function offered(words: string[]): { reply: string[]; complete: string } {
  const script = [
    `source ${JSON.stringify(path.join(cache, 'infra/autocomplete/functions/bash/infra.bash'))}`,
    'complete -p infra',
    'COMP_WORDS=(infra "$@"); COMP_CWORD=$#',
    'func=$(complete -p infra | sed -n "s/.*-F \\([^ ]*\\) .*/\\1/p")',
    '"$func"',
    'printf "reply:%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script, 'bash', ...words], { cwd: registry, env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, XDG_CACHE_HOME: cache }, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`bash exited ${r.status}: ${r.stderr}`);
  const lines = r.stdout.split('\n');
  return { complete: lines[0], reply: lines.filter((l) => l.startsWith('reply:')).map((l) => l.slice(6)).filter(Boolean) };
}

it('the script registers infra’s function, and `vpn join alice --<TAB>` offers its flags', () => {
  const r = offered(['vpn', 'join', 'alice', '--']);
  expect(r.complete).toContain('-F _infra_complete');
  expect(r.reply).toEqual(expect.arrayContaining(['--device', '--network', '--out', '--qr']));
});

it('offers member handles, a member’s devices and bot/token names from the registry', async () => {
  expect(offered(['vpn', 'join', 'e']).reply).toEqual(['erin']);
  expect(offered(['vpn', 'leave', 'erin', '--device', '']).reply).toEqual(['desktop']);
  expect(offered(['tokens', 'rotate', 'roobot/']).reply).toEqual(['roobot/github', 'roobot/matrix', 'roobot/webhook-secret']);
  expect(offered(['keys', 'remove', 'erin', '']).reply).toEqual(['desktop', 'old-thinkpad']);
});

it('running the setup again appends the function once', async () => {
  const r = await spawnCli(['autocomplete', 'bash'], { env: { XDG_CACHE_HOME: cache } });
  expect(r.code).toBe(0);
  const text = await fs.readFile(path.join(cache, 'infra/autocomplete/functions/bash/infra.bash'), 'utf8');
  expect(text.split('_infra_complete() {').length).toBe(2);
});
