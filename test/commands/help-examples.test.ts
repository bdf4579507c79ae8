/**
 * Every example in every command's --help runs as printed, on a fresh copy of the example registry with a
 * ~/.ssh/id_ed25519.pub made for it: exit 0, or 4 where the example shows a check finding problems.
 * Examples that talk to GitHub or GitLab reach a closed local port instead (exit 5): no test reaches the internet.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { copyExample, REPO_ROOT, tempDir } from '../helpers/example.js';
import { ed25519Line } from '../helpers/keys.js';
import { scanForPrivateKeys } from '../../src/adapters/registry-tree.js';

interface ManifestCommand {
  id: string;
  examples?: Array<string | { command: string; description: string }>;
}

const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, ManifestCommand> };
const examples = Object.values(manifest.commands).flatMap((c) =>
  (c.examples ?? []).map((e) => ({ id: c.id.replace(/:/g, ' '), example: (typeof e === 'string' ? e : e.command).replace(/<%= config\.bin %>/g, 'infra'), description: typeof e === 'string' ? '' : e.description })),
);
const git = (cwd: string, args: string[]) => {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr || r.error}`);
};
const CLOSED = 'http://127.0.0.1:9'; // discard port: nothing listens, the connection is refused at once
const needsForge = (e: string) => /keys add .*--(github|gitlab)\b/.test(e);
/** A rotation that writes secrets reaches GitHub (the closed port: 5); `--due` does once a generic token falls due. */
const rotatesForReal = (e: string) => /^infra tokens rotate \S+\/\S+(?!.*--dry-run)/.test(e);
/**
 * `infra check` exits 3 on the example registry on purpose: erin's 2048-bit RSA key fails the policy (the audit shows it).
 * `infra vault init` exits 3 there on purpose: it holds its vault password already (vault/password.asc), which init never replaces.
 * `infra approve` signs with the admin's own git signing key, which the example's clone has none of: exit 2 naming it.
 */
const expectedCodes = (e: string) =>
  needsForge(e) || rotatesForReal(e) ? [5] : /^infra (check|vault init)\b/.test(e) ? [3] : /^infra tokens rotate --due\b/.test(e) ? [0, 5] : /^infra approve\b/.test(e) ? [2] : [0, 4];
/**
 * What an admin running the token examples has: their private key at ~/admin-key.asc (a test admin key,
 * which ships only under test/), the vault password file Ansible reads, their handle, and a GitHub token
 * of theirs (useless here: GitHub is the closed port). A token to rotate arrives on stdin.
 */
const TEST_ADMIN_KEY = path.join(REPO_ROOT, 'test/fixtures/admin-keys/alice.sec.asc');
const tokenEnv = (e: string) => (/^infra tokens\b/.test(e) ? { ANSIBLE_VAULT_PASSWORD_FILE: path.join(home, 'vault-pass'), INFRA_ADMIN: 'alice', GITHUB_TOKEN: 'admin-token-for-the-examples' } : {});

let bin: string;
let home: string;

beforeAll(async () => {
  bin = await tempDir('infra-bin-');
  await fs.writeFile(path.join(bin, 'infra'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(REPO_ROOT, 'bin/run.js')}" "$@"\n`, { mode: 0o755 });
  home = await tempDir('infra-home-');
  await fs.mkdir(path.join(home, '.ssh'));
  await fs.writeFile(path.join(home, '.ssh/id_ed25519.pub'), `${ed25519Line('me@laptop')}\n`);
  await fs.copyFile(TEST_ADMIN_KEY, path.join(home, 'admin-key.asc'));
  await fs.writeFile(path.join(home, 'vault-pass'), 'vault password of the examples\n', { mode: 0o600 });
});

it('finds examples in every command', () => {
  const without = Object.values(manifest.commands).filter((c) => !c.id.startsWith('autocomplete') && !(c.examples ?? []).length);
  expect(without.map((c) => c.id)).toEqual([]);
  expect(examples.length).toBeGreaterThan(30);
});

/** What prompts or draws on a terminal: a QR code, a pasted token's new value (rotations that are not dry runs). */
const usesTerminal = (e: string) => /--qr\b/.test(e) || (/^infra tokens rotate\b/.test(e) && !/--dry-run\b/.test(e) && !/roobot\/webhook-secret/.test(e));

it('every example that prompts or draws on a terminal says so in its description', () => {
  const terminal = examples.filter((e) => usesTerminal(e.example));
  expect(terminal.length).toBeGreaterThanOrEqual(4);
  expect(terminal.filter((e) => !/\bterminal\b/.test(e.description)).map((e) => e.example)).toEqual([]);
});

describe.each(examples)('$id: $example', ({ example }) => {
  it('runs as printed', async () => {
    const dir = await copyExample();
    // a registry is a git repository (audit --since reads its history): the copy gets one commit
    git(dir, ['init', '-q']);
    git(dir, ['add', '-A']);
    git(dir, ['-c', 'user.email=t@example.org', '-c', 'user.name=t', 'commit', '-qm', 'the example registry']);
    // examples of a registry that issues certificates start from one: its CA made, and one certificate (serial 1)
    if (/^infra (ca rotate|certs (sign|revoke|list))\b/.test(example)) {
      const env = { ...process.env, HOME: home, NO_COLOR: '1', INFRA_PGP_PASSPHRASE: '' };
      for (const args of [['ca', 'init'], ['certs', 'sign', 'alice', '--key', 'laptop', '--hours', '1', '--ca-key', path.join(home, 'admin-key.asc')]]) {
        const setup = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/run.js'), ...args, '--dir', dir], { env, encoding: 'utf8', timeout: 60_000 });
        if (setup.status !== 0) throw new Error(`setup infra ${args.join(' ')} exited ${setup.status}:\n${setup.stderr}`);
      }
    }
    const command = example.replace(/https:\/\/[^\s"']+/g, CLOSED);
    // --qr draws only on a terminal: those examples run under script(1), which gives them one
    const argv = /--qr\b/.test(command) ? ['script', ['-qec', command, '/dev/null']] as const : ['sh', ['-c', command]] as const;
    const r = spawnSync(argv[0], [...argv[1]], {
      cwd: dir,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, HOME: home, INFRA_GITHUB_API_URL: CLOSED, INFRA_GITLAB_URL: CLOSED, NO_COLOR: '1', GITHUB_TOKEN: '', ...tokenEnv(example) },
      encoding: 'utf8',
      timeout: 30_000,
      input: rotatesForReal(example) ? 'github_pat_11EXAMPLEnewTOKENpastedFORtheHELPexample0123\n' : '',
    });
    if (r.error) throw new Error(`${example}: ${r.error.message}`);
    const allowed = expectedCodes(example);
    if (!allowed.includes(r.status ?? -1)) throw new Error(`${example} exited ${r.status ?? r.signal}:\n${r.stderr}`);
    // an example leaves no private key or device config in the registry, where `git add -A` would commit it
    expect((await scanForPrivateKeys(dir)).found.map((f) => f.file)).toEqual([]);
  });
});
