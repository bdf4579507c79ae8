/**
 * `infra tokens rotate` as a real process (bin/run.js, built) against the local GitHub stand-in, for what
 * the crash test beside it does not cover:
 * - Ctrl-C while GitHub never answers: the request in flight is cancelled at once, exit 130, and the
 *   `--resume` command is printed; `--resume` then converges;
 * - SIGKILL at a step, then the admin who could read the pending value is offboarded: `--resume`
 *   refuses and points at `--abort`; `--abort` destroys the pending value and lists the consumers already
 *   updated; a fresh rotation converges to a value the departed admin's key cannot read.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decryptWithKey } from '../../src/adapters/openpgp-tokens.js';
import { REPO_ROOT } from '../helpers/example.js';
import { startFakeGithub, type FakeGithub, type FakeGithubRequest } from '../helpers/fake-github.js';
import { fakeGithubData, makeAdmins, OLD_GITHUB_TOKEN, storedValue, tokenOf, tokenRegistry, vaultValue, writeKey, type Admins } from '../helpers/tokens-fixture.js';

const TIMEOUT = 60_000;
const CONSUMERS = [
  { github_secret: { repo: 'example-coop/organizing', name: 'HOOK_A' } },
  { ansible_vault_var: { environment: 'production', group: 'bots', var: 'roobot_hook' } },
  { github_secret: { repo: 'example-coop/site', name: 'HOOK_D' } },
];
const SECRET_KEYS = ['repo:example-coop/organizing:HOOK_A', 'repo:example-coop/site:HOOK_D'];

let admins: Admins;
beforeAll(async () => {
  admins = await makeAdmins();
});

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function infra(args: string[], env: Record<string, string>, onChild?: (child: ChildProcess) => void): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/run.js'), ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    onChild?.(child);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end('');
  });
}

async function setup(onRequest?: (r: FakeGithubRequest) => void): Promise<{ root: string; github: FakeGithub; env: Record<string, string>; key: string }> {
  const github = await startFakeGithub({ ...fakeGithubData(), onRequest });
  const root = await tokenRegistry(admins, { genericConsumers: CONSUMERS });
  const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
  const env = { INFRA_DIR: root, INFRA_GITHUB_API_URL: github.url, GITHUB_TOKEN: OLD_GITHUB_TOKEN, ANSIBLE_VAULT_PASSWORD_FILE: path.join(root, 'vault-pass'), INFRA_ADMIN: 'alice' };
  return { root, github, env, key };
}

async function expectConverged(root: string, github: FakeGithub): Promise<string> {
  const value = await storedValue(root, admins, 'keys/roobot/tokens/hook.asc');
  for (const k of SECRET_KEYS) expect(github.secret(k)).toBe(value);
  expect(await vaultValue(root, 'roobot_hook')).toBe(value);
  expect((await tokenOf(root, 'hook')).pending).toBeUndefined();
  await expect(fs.access(path.join(root, 'keys/roobot/tokens/hook.pending.asc'))).rejects.toThrow();
  return value;
}

describe('Ctrl-C during a request GitHub never answers', () => {
  it('cancels it at once: exit 130, the --resume command printed; --resume converges', async () => {
    let child: ChildProcess | undefined;
    let puts = 0;
    const { root, github, env, key } = await setup((r) => {
      // the second secret's PUT hangs (registered below); Ctrl-C once the server has seen it
      if (r.method === 'PUT' && ++puts === 2) child?.kill('SIGINT');
    });
    github.fail({ hang: true, method: 'PUT', nth: 2 });
    try {
      const stopped = await infra(['tokens', 'rotate', 'roobot/hook'], env, (c) => (child = c));
      expect([stopped.code, stopped.signal]).toEqual([130, null]);
      expect(stopped.stderr).toContain('infra tokens rotate roobot/hook --resume --key YOUR-KEY.asc');
      expect(stopped.stderr).not.toMatch(/did not answer/);
      expect((await tokenOf(root, 'hook')).pending.left).toEqual(['github_secret:example-coop/site:HOOK_D']);
      const resumed = await infra(['tokens', 'rotate', 'roobot/hook', '--resume', '--key', key], env);
      expect([resumed.code, resumed.stderr]).toEqual([0, expect.any(String)]);
      await expectConverged(root, github);
    } finally {
      await github.close();
    }
  });
});

/** Kill points: the first secret being written; the vault consumer recorded; the last secret being written. */
const KILL_POINTS: Array<[string, (r: FakeGithubRequest, seen: { put: number; key: number }) => boolean]> = [
  ['while consumer 1 is written', (r, s) => r.method === 'PUT' && s.put === 1],
  ['after consumers 1 and 2 are recorded', (r, s) => /public-key$/.test(r.path) && s.key === 2],
  ['while consumer 3 is written', (r, s) => r.method === 'PUT' && s.put === 2],
];

describe('SIGKILL at a step, then the admin who could read the pending value is offboarded', () => {
  it.each(KILL_POINTS)('%s: --resume refuses, --abort gives it up, a fresh rotation converges', async (_what, killHere) => {
    let child: ChildProcess | undefined;
    const seen = { put: 0, key: 0 };
    const { root, github, env, key } = await setup((r) => {
      if (r.method === 'PUT') seen.put++;
      if (/public-key$/.test(r.path)) seen.key++;
      if (child && killHere(r, seen)) child.kill('SIGKILL');
    });
    try {
      const killed = await infra(['tokens', 'rotate', 'roobot/hook'], env, (c) => (child = c));
      expect(killed.signal).toBe('SIGKILL');
      child = undefined;
      const left: string[] = (await tokenOf(root, 'hook')).pending.left;
      expect((await infra(['members', 'offboard', 'bob'], env)).code).toBe(0);

      const refused = await infra(['tokens', 'rotate', 'roobot/hook', '--resume', '--key', key], env);
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain('could be read by bob');
      expect(refused.stderr).toContain('infra tokens rotate roobot/hook --abort');

      const aborted = await infra(['tokens', 'rotate', 'roobot/hook', '--abort', '--json'], env);
      expect(aborted.code).toBe(0);
      const result = JSON.parse(aborted.stdout);
      expect(result.consumers_not_updated).toEqual(left);
      expect([...result.consumers_updated, ...result.consumers_not_updated].sort()).toEqual(CONSUMERS.map((c) => Object.entries(c)[0]).map(([k, v]) => [k, ...Object.values(v)].join(':')).sort());
      await expect(fs.access(path.join(root, 'keys/roobot/tokens/hook.pending.asc'))).rejects.toThrow();

      const fresh = await infra(['tokens', 'rotate', 'roobot/hook'], env);
      expect([fresh.code, fresh.stderr]).toEqual([0, expect.any(String)]);
      await expectConverged(root, github);
      const bobCannot = decryptWithKey(await fs.readFile(path.join(root, 'keys/roobot/tokens/hook.asc'), 'utf8'), admins.bob.privateKey, admins.bob.passphrase);
      await expect(bobCannot).rejects.toThrow(/not one/);
      expect((await tokenOf(root, 'hook')).readable_by).toEqual(['alice']);
    } finally {
      await github.close();
    }
  });
});
