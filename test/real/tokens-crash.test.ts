/**
 * `infra tokens rotate` as a real process (bin/run.js, built) against the local GitHub stand-in:
 * - SIGKILL at each point of the sequence in turn (the local GitHub kills the client when a request
 *   arrives: as a secret is written but before infra records it, and after the previous consumer was
 *   recorded), then `--resume` converges: every consumer holds the stored value, rotated_at is set once;
 * - SIGINT stops at a recorded point (exit 130), and `--resume` converges;
 * - `gpg --decrypt` reads the stored value with any admin's key; `ansible` and `ansible-vault` read the
 *   vault variable.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promises as fs, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { localDate } from '../../src/core/dates.js';
import { REPO_ROOT } from '../helpers/example.js';
import { startFakeGithub, type FakeGithub, type FakeGithubRequest } from '../helpers/fake-github.js';
import { requireTool } from '../helpers/real-tools.js';
import { expectNoSecret } from '../helpers/secrets.js';
import { derivedFile } from '../helpers/derived-state.js';
import {
  fakeGithubData,
  makeAdmins,
  OLD_GITHUB_TOKEN,
  plainFiles,
  storedValue,
  tokenOf,
  tokenRegistry,
  vaultValue,
  writeKey,
  type Admins,
} from '../helpers/tokens-fixture.js';

const TIMEOUT = 60_000;
/** A generic token with five consumers, GitHub and vault mixed. */
const CONSUMERS = [
  { github_secret: { repo: 'example-coop/organizing', name: 'HOOK_A' } },
  { ansible_vault_var: { environment: 'production', group: 'bots', var: 'roobot_hook' } },
  { github_env_secret: { repo: 'example-coop/site', environment: 'production', name: 'HOOK_B' } },
  { github_org_secret: { org: 'example-coop', name: 'HOOK_C' } },
  { github_secret: { repo: 'example-coop/site', name: 'HOOK_D' } },
];
const SECRET_KEYS = ['repo:example-coop/organizing:HOOK_A', 'env:example-coop/site:production:HOOK_B', 'org:example-coop:HOOK_C', 'repo:example-coop/site:HOOK_D'];

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

/** bin/run.js as a child; `onChild` lets the local GitHub signal it. */
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

async function setup(onRequest?: (r: FakeGithubRequest) => void, consumers: unknown[] = CONSUMERS): Promise<{ root: string; github: FakeGithub; env: Record<string, string>; key: string }> {
  const github = await startFakeGithub({ ...fakeGithubData(), onRequest });
  const root = await tokenRegistry(admins, { genericConsumers: consumers });
  const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
  const env = { INFRA_DIR: root, INFRA_GITHUB_API_URL: github.url, GITHUB_TOKEN: OLD_GITHUB_TOKEN, ANSIBLE_VAULT_PASSWORD_FILE: path.join(root, 'vault-pass'), INFRA_ADMIN: 'bob' };
  return { root, github, env, key };
}

/** After --resume: every consumer holds the stored value; the rotation is recorded once, today. */
async function expectConverged(root: string, github: FakeGithub): Promise<void> {
  const value = await storedValue(root, admins, 'keys/roobot/tokens/hook.asc');
  expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
  for (const k of SECRET_KEYS) expect(github.secret(k)).toBe(value);
  expect(await vaultValue(root, 'roobot_hook')).toBe(value);
  const token = await tokenOf(root, 'hook');
  expect(token.pending).toBeUndefined();
  expect(token.rotated_at).toBe(localDate(new Date()));
  expect(token.rotated_by).toBe('alice'); // the admin whose key finished it
  const text = await fs.readFile(path.join(root, 'keys/roobot/member.yml'), 'utf8');
  expect(text.match(/rotated_at:/g)).toHaveLength(3); // one per token: never written twice
  await expect(fs.access(path.join(root, 'keys/roobot/tokens/hook.pending.asc'))).rejects.toThrow();
  expectNoSecret(value, plainFiles(root));
}

/** Kill points: [what, which request kills]. Consumers 1, 3, 4, 5 are GitHub secrets; 2 is the vault variable. */
const KILL_POINTS: Array<[string, (r: FakeGithubRequest, seen: { put: number; key: number }) => boolean]> = [
  ['while consumer 1 is written (GitHub has it, infra has not recorded it)', (r, s) => r.method === 'PUT' && s.put === 1],
  ['after consumers 1 and 2 are recorded', (r, s) => /public-key$/.test(r.path) && s.key === 2],
  ['while consumer 3 is written', (r, s) => r.method === 'PUT' && s.put === 2],
  ['after consumer 3 is recorded', (r, s) => /public-key$/.test(r.path) && s.key === 3],
  ['while consumer 4 is written', (r, s) => r.method === 'PUT' && s.put === 3],
  ['after consumer 4 is recorded', (r, s) => /public-key$/.test(r.path) && s.key === 4],
  ['while consumer 5 is written', (r, s) => r.method === 'PUT' && s.put === 4],
];

/**
 * Both ways a step is recorded: over the whole registry (four members: no derived state), and as an edit of
 * the bot alone through the peer index (derived state kept at any size: the first step writes the index, every
 * later step and the resume use it).
 */
const RECORDING: Array<[string, Record<string, string>]> = [
  ['whole registry', {}],
  ['peer index', { INFRA_CACHE_MIN_MEMBERS: '0' }],
];

describe.each(RECORDING)('SIGKILL at each step of a rotation, then --resume (steps recorded through the %s)', (_how, recordingEnv) => {
  it.each(KILL_POINTS)('%s', async (_what, killHere) => {
    let child: ChildProcess | undefined;
    const seen = { put: 0, key: 0 };
    const { root, github, env: baseEnv, key } = await setup((r) => {
      if (r.method === 'PUT') seen.put++;
      if (/public-key$/.test(r.path)) seen.key++;
      if (child && killHere(r, seen)) child.kill('SIGKILL');
    });
    const env = { ...baseEnv, ...recordingEnv };
    const indexHead = await derivedFile(root, 'peers/head.json');
    try {
      const killed = await infra(['tokens', 'rotate', 'roobot/hook'], env, (c) => (child = c));
      expect(killed.signal).toBe('SIGKILL');
      child = undefined;
      const during = await tokenOf(root, 'hook');
      expect(during.rotated_at).toBe('2026-01-10');
      expect(during.pending.left.length).toBeGreaterThan(0);
      // the index exists exactly when derived state is kept: the steps after the first could use it
      expect(await fs.access(indexHead).then(() => true, () => false)).toBe(recordingEnv.INFRA_CACHE_MIN_MEMBERS !== undefined);
      const resumed = await infra(['tokens', 'rotate', 'roobot/hook', '--resume', '--key', key], env);
      expect([resumed.code, resumed.stderr]).toEqual([0, expect.any(String)]);
      await expectConverged(root, github);
    } finally {
      await github.close();
    }
  });
});

/**
 * Inside the vault consumer's step on the peer-index path (INFRA_TEST_PAUSE_AT stops the process after its
 * N-th atomic rename: 1 pending value, 2 member.yml, 3 member.yml after consumer 1, 4 the vault file, 5 member.yml
 * recording it): killed with the vault variable written but not recorded, and with it recorded but the peer
 * index not yet updated for the new member.yml.
 */
const VAULT_CONSUMER = 'ansible_vault_var:production:bots:roobot_hook';
const INSIDE_STEP: Array<[string, string, string, boolean]> = [
  ['the vault file written, member.yml not yet', 'after-rename#4', 'inventories/production/group_vars/bots/infra.tokens.yml', false],
  ['member.yml recording the vault consumer written, the peer index not yet', 'after-rename#5', 'keys/roobot/member.yml', true],
];

describe('SIGKILL inside a step recorded through the peer index, then --resume', () => {
  it.each(INSIDE_STEP)('%s', async (_what, pauseAt, file, recorded) => {
    const { root, github, env: baseEnv, key } = await setup();
    const env = { ...baseEnv, INFRA_CACHE_MIN_MEMBERS: '0' };
    try {
      let pausedAt = '';
      const killed = await infra(['tokens', 'rotate', 'roobot/hook'], { ...env, INFRA_TEST_PAUSE_AT: pauseAt }, (child) =>
        child.stderr!.on('data', (d: Buffer) => {
          const m = /infra-test-paused-at \S+ (\S+)/.exec(String(d));
          if (m) {
            pausedAt = m[1];
            child.kill('SIGKILL');
          }
        }),
      );
      expect(killed.signal).toBe('SIGKILL');
      expect(pausedAt).toBe(path.join(root, file));
      const left: string[] = (await tokenOf(root, 'hook')).pending.left;
      expect(left.length).toBeGreaterThan(0);
      expect(left.includes(VAULT_CONSUMER)).toBe(!recorded);
      const resumed = await infra(['tokens', 'rotate', 'roobot/hook', '--resume', '--key', key], env);
      expect([resumed.code, resumed.stderr]).toEqual([0, expect.any(String)]);
      await expectConverged(root, github);
    } finally {
      await github.close();
    }
  });
});

/**
 * Two vault variables in one vars file are one step: one write of the file, then one record of both
 * (INFRA_TEST_PAUSE_AT: 1 pending value, 2 member.yml, 3 member.yml after the GitHub consumer, 4 the vars
 * file holding both variables, 5 member.yml recording both). Killed between the two, both are still to do
 * and --resume writes them again; killed after, neither is.
 */
const BATCHED = [
  { github_secret: { repo: 'example-coop/organizing', name: 'HOOK_A' } },
  { ansible_vault_var: { environment: 'production', group: 'bots', var: 'roobot_hook' } },
  { ansible_vault_var: { environment: 'production', group: 'bots', var: 'roobot_hook_2' } },
];
const BATCHED_VARS = ['ansible_vault_var:production:bots:roobot_hook', 'ansible_vault_var:production:bots:roobot_hook_2'];
const BATCHED_STEP: Array<[string, string, string, string[]]> = [
  ['the vars file holding both variables written, member.yml not yet', 'after-rename#4', 'inventories/production/group_vars/bots/infra.tokens.yml', BATCHED_VARS],
  ['member.yml recording both variables written', 'after-rename#5', 'keys/roobot/member.yml', []],
];

describe.each(RECORDING)('SIGKILL inside a step of two vault variables in one file, then --resume (recorded through the %s)', (_how, recordingEnv) => {
  it.each(BATCHED_STEP)('%s', async (_what, pauseAt, file, stillLeft) => {
    const { root, github, env: baseEnv, key } = await setup(undefined, BATCHED);
    const env = { ...baseEnv, ...recordingEnv };
    try {
      let pausedAt = '';
      const killed = await infra(['tokens', 'rotate', 'roobot/hook'], { ...env, INFRA_TEST_PAUSE_AT: pauseAt }, (child) =>
        child.stderr!.on('data', (d: Buffer) => {
          const m = /infra-test-paused-at \S+ (\S+)/.exec(String(d));
          if (m) {
            pausedAt = m[1];
            child.kill('SIGKILL');
          }
        }),
      );
      expect(killed.signal).toBe('SIGKILL');
      expect(pausedAt).toBe(path.join(root, file));
      const pending = await storedValue(root, admins, 'keys/roobot/tokens/hook.pending.asc');
      // the file was written whole: both variables hold the pending value, whether recorded or not
      expect([await vaultValue(root, 'roobot_hook'), await vaultValue(root, 'roobot_hook_2')]).toEqual([pending, pending]);
      expect((await tokenOf(root, 'hook')).pending.left).toEqual(stillLeft);
      const resumed = await infra(['tokens', 'rotate', 'roobot/hook', '--resume', '--key', key], env);
      expect([resumed.code, resumed.stderr]).toEqual([0, expect.any(String)]);
      const value = await storedValue(root, admins, 'keys/roobot/tokens/hook.asc');
      expect(value).toBe(pending);
      expect(github.secret('repo:example-coop/organizing:HOOK_A')).toBe(value);
      expect([await vaultValue(root, 'roobot_hook'), await vaultValue(root, 'roobot_hook_2')]).toEqual([value, value]);
      expect((await tokenOf(root, 'hook')).pending).toBeUndefined();
      expect(await fs.readFile(path.join(root, 'inventories/production/group_vars/bots/infra.tokens.yml'), 'utf8')).toContain('roobot_home: /srv/roobot');
    } finally {
      await github.close();
    }
  });
});

describe('SIGINT mid-rotation', () => {
  it('stops at a recorded point (exit 130), prints the --resume command, and --resume converges', async () => {
    let child: ChildProcess | undefined;
    let puts = 0;
    const { root, github, env, key } = await setup((r) => {
      if (r.method === 'PUT' && ++puts === 2) child?.kill('SIGINT');
    });
    try {
      const stopped = await infra(['tokens', 'rotate', 'roobot/hook'], env, (c) => (child = c));
      expect(stopped.code).toBe(130);
      // the request in flight is cancelled at once, so the consumer being written may or may not be recorded
      expect(stopped.stderr).toMatch(/cancelled[\s\S]*not done: (github_env_secret:example-coop\/site:production:HOOK_B, )?github_org_secret:example-coop:HOOK_C, github_secret:example-coop\/site:HOOK_D/);
      expect(stopped.stderr).toContain('infra tokens rotate roobot/hook --resume --key YOUR-KEY.asc');
      expect((await tokenOf(root, 'hook')).pending.left.slice(-2)).toEqual(['github_org_secret:example-coop:HOOK_C', 'github_secret:example-coop/site:HOOK_D']);
      const resumed = await infra(['tokens', 'rotate', 'roobot/hook', '--resume', '--key', key], env);
      expect(resumed.code).toBe(0);
      await expectConverged(root, github);
    } finally {
      await github.close();
    }
  });
});

const withGpg = requireTool('gpg', 'gnupg') ? describe : describe.skip;
withGpg('GnuPG reads what a rotation stored', () => {
  it.each(['alice', 'bob'] as const)('gpg --decrypt with %s\'s secret key gives the value', async (who) => {
    const { root, github, env } = await setup();
    const home = mkdtempSync(path.join(os.tmpdir(), 'infra-gpg-'));
    try {
      expect((await infra(['tokens', 'rotate', 'roobot/hook'], env)).code).toBe(0);
      const value = await storedValue(root, admins, 'keys/roobot/tokens/hook.asc');
      const gpg = (args: string[], input = '') => spawnSync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', ...args], { input, encoding: 'utf8', timeout: TIMEOUT });
      const secretKey = await writeKey(root, `${who}-import.asc`, admins[who].privateKey);
      const passphraseArgs = admins[who].passphrase ? ['--passphrase-fd', '0'] : [];
      expect(gpg([...passphraseArgs, '--import', secretKey], admins[who].passphrase ?? '').status).toBe(0);
      const out = gpg([...passphraseArgs, '--decrypt', path.join(root, 'keys/roobot/tokens/hook.asc')], admins[who].passphrase ?? '');
      expect([out.status, out.stdout]).toEqual([0, value]);
    } finally {
      spawnSync('gpgconf', ['--homedir', home, '--kill', 'all'], { timeout: TIMEOUT });
      rmSync(home, { recursive: true, force: true });
      await github.close();
    }
  });
});

const withAnsible = requireTool('ansible', 'ansible') && requireTool('ansible-vault', 'ansible') ? describe : describe.skip;
withAnsible('Ansible reads the vault variable a rotation wrote', () => {
  it('ansible -m debug and ansible-vault decrypt give the stored value; other variables stay', async () => {
    const { root, github, env } = await setup();
    try {
      expect((await infra(['tokens', 'rotate', 'roobot/hook'], env)).code).toBe(0);
      const value = await storedValue(root, admins, 'keys/roobot/tokens/hook.asc');
      const inventory = path.join(root, 'inventories/production');
      await fs.writeFile(path.join(inventory, 'hosts.yml'), 'all:\n  children:\n    bots:\n      hosts:\n        localhost:\n          ansible_connection: local\n');
      const ansibleEnv = { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_NOCOLOR: '1', ANSIBLE_HOME: path.join(root, '.ansible'), ANSIBLE_LOCAL_TEMP: path.join(root, '.ansible/tmp'), ANSIBLE_VAULT_PASSWORD_FILE: path.join(root, 'vault-pass') };
      const debug = (variable: string) => {
        const r = spawnSync('ansible', ['localhost', '-i', path.join(inventory, 'hosts.yml'), '-m', 'ansible.builtin.debug', '-a', `var=${variable}`], { env: ansibleEnv, encoding: 'utf8', timeout: 120_000 });
        expect(r.status).toBe(0);
        return JSON.parse(r.stdout.slice(r.stdout.indexOf('=>') + 2))[variable];
      };
      expect(debug('roobot_hook')).toBe(value);
      expect(debug('roobot_home')).toBe('/srv/roobot');
      // the envelope alone, as `ansible-vault decrypt` reads a file
      const { readVaultVar } = await import('../helpers/vault-vars.js');
      const envelope = readVaultVar(await fs.readFile(path.join(inventory, 'group_vars/bots/infra.tokens.yml'), 'utf8'), 'roobot_hook')!;
      const envelopeFile = path.join(root, 'hook.vault');
      await fs.writeFile(envelopeFile, envelope);
      const decrypted = spawnSync('ansible-vault', ['decrypt', '--output', '-', envelopeFile], { env: ansibleEnv, encoding: 'utf8', timeout: 120_000 });
      expect([decrypted.status, decrypted.stdout]).toEqual([0, value]);
    } finally {
      await github.close();
    }
  });
});
