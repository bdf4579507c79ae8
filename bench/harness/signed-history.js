// A registry whose git history is COMMITS commits, each a member's own edit signed with their ed25519 key by
// the real `git commit -S` (gpg.format=ssh), after an unsigned root commit (the trust root). Built once
// (ssh-keygen signs every commit: a minute or so) and cached under bench/out/cache/. The allowed signers
// file beside it is what `git log --show-signature` is given: the same signers infra finds at each parent.
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { CACHE } from './generate.js';

const VERSION = 'v1';
const MEMBERS = 20;

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000, ...opts });

export async function signedHistory(commits) {
  const base = path.join(CACHE, `signed-history-${commits}-${VERSION}`);
  const repo = path.join(base, 'repo');
  const signers = path.join(base, 'allowed_signers');
  if (existsSync(path.join(base, 'done'))) return { repo, signers };
  await fs.rm(base, { recursive: true, force: true });
  await fs.mkdir(path.join(base, 'keys'), { recursive: true });
  run('git', ['init', '-q', '-b', 'main', repo]);
  const git = (args, env = {}) => run('git', ['-C', repo, ...args], { env: { ...process.env, ...env } });
  git(['config', 'user.name', 'Bench']);
  git(['config', 'user.email', 'bench@coop.example']);
  const handles = Array.from({ length: MEMBERS }, (_, i) => `m${String(i).padStart(2, '0')}`);
  const pub = {};
  for (const h of handles) {
    const key = path.join(base, 'keys', h);
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${h}@bench`, '-f', key]);
    pub[h] = (await fs.readFile(`${key}.pub`, 'utf8')).trim();
  }
  const member = (h, n) => `name: ${h} edit ${n}\nkind: human\norg: bench\nemail: ${h}@coop.example\nstatus: active\ngroups: [ops]\nssh_keys:\n  - name: laptop\n    key: ${pub[h]}\n    added: 2026-01-01\n`;
  await fs.mkdir(path.join(repo, 'inventories/production'), { recursive: true });
  await fs.writeFile(path.join(repo, 'inventories/production/hosts.yml'), 'all:\n  hosts:\n    web1: {}\n');
  await fs.writeFile(path.join(repo, 'infra.yml'), `org: Bench\nadmins: [m00, m01]\nenvironments:\n  production: inventories/production\naccess:\n  - groups: [ops]\n    hosts: all\n    user: sysadmin\nvpn: {}\n`);
  for (const h of handles) {
    await fs.mkdir(path.join(repo, 'keys', h), { recursive: true });
    await fs.writeFile(path.join(repo, 'keys', h, 'member.yml'), member(h, 0));
  }
  const date = (i) => new Date(Date.UTC(2026, 2, 1) + i * 60_000).toISOString();
  git(['add', '-A']);
  git(['commit', '-q', '--no-gpg-sign', '-m', 'registry'], { GIT_COMMITTER_DATE: date(0), GIT_AUTHOR_DATE: date(0) });
  for (let i = 1; i <= commits; i++) {
    const h = handles[i % MEMBERS];
    await fs.writeFile(path.join(repo, 'keys', h, 'member.yml'), member(h, i));
    git(['add', '-A']);
    git(['-c', 'gpg.format=ssh', '-c', `user.signingkey=${path.join(base, 'keys', h)}`, '-c', `user.email=${h}@coop.example`, 'commit', '-q', '-S', '-m', `${h}: edit ${i}`], { GIT_COMMITTER_DATE: date(i), GIT_AUTHOR_DATE: date(i) });
  }
  await fs.writeFile(signers, handles.map((h) => `${h}@coop.example namespaces="git" ${pub[h].split(' ').slice(0, 2).join(' ')}`).join('\n') + '\n');
  await fs.writeFile(path.join(base, 'done'), '');
  return { repo, signers };
}
