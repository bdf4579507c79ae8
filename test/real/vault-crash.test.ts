/**
 * `infra vault rotate` as a real process (bin/run.js, built), SIGKILLed at every step of its recorded
 * sequence in turn: INFRA_TEST_PAUSE_AT stops it just before or just after its N-th atomic rename (the
 * pending password, the record, each file and its record, the new password, the final record), for N = 1, 2,
 * ... until a run finishes without reaching N. After each kill, `--resume` converges: vault/password.asc
 * holds one new password, every item opens with it (and none with the old one) to the same plaintext, no
 * pending file or record is left, and no secret is in any output or plain file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decryptWithKey } from '../../src/adapters/openpgp-tokens.js';
import { REPO_ROOT } from '../helpers/example.js';
import { expectNoSecret } from '../helpers/secrets.js';
import { makeAdmins, plainFiles, writeKey, type Admins } from '../helpers/tokens-fixture.js';
import { BINARY, FILES, OLD_PASSWORD, openedItems, VALUES, vaultRegistry } from '../helpers/vault-fixture.js';

/** Two files, each kind once (every process start costs seconds on a busy machine): an inline item beside a comment, and a whole binary file with a label. */
const ONLY = [FILES.tokens, FILES.binary];
const PLAINTEXTS = [VALUES.hook, BINARY.toString('latin1')].sort();

const TIMEOUT = 60_000;
let admins: Admins;
beforeAll(async () => {
  admins = await makeAdmins();
});

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pausedAt?: string;
}

/** bin/run.js as a child, SIGKILLed as soon as it reports reaching its pause point. */
function infra(args: string[], env: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/run.js'), ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pausedAt: string | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT);
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
      const m = /infra-test-paused-at \S+ (\S+)/.exec(stderr);
      if (m && !pausedAt) {
        pausedAt = m[1];
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, pausedAt });
    });
    child.stdin!.end('');
  });
}

async function converged(root: string, outputs: string[]): Promise<void> {
  const next = await decryptWithKey(await fs.readFile(path.join(root, 'vault/password.asc'), 'utf8'), admins.alice.privateKey);
  expect(next).not.toBe(OLD_PASSWORD);
  expect(Object.values(await openedItems(root, next)).sort()).toEqual(PLAINTEXTS);
  expect(Object.values(await openedItems(root, OLD_PASSWORD)).every((v) => v === '(does not open)')).toBe(true);
  const state = await fs.readFile(path.join(root, 'vault/vault.yml'), 'utf8');
  expect(state).not.toMatch(/pending/);
  expect(state).toMatch(/\nrotated_by: alice\n$/);
  await expect(fs.access(path.join(root, 'vault/password.pending.asc'))).rejects.toThrow();
  for (const s of [OLD_PASSWORD, next, ...Object.values(VALUES)]) expectNoSecret(s, { ...Object.fromEntries(outputs.map((o, i) => [`output ${i}`, o])), ...plainFiles(root) });
}

describe.each(['after-rename', 'before-rename'])('SIGKILL %s of each write of vault rotate, then --resume', (point) => {
  it('converges from every step', async () => {
    const steps: string[] = [];
    for (let n = 1; n < 100; n++) {
      const root = await vaultRegistry(admins, { only: ONLY });
      const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
      const env = { INFRA_DIR: root };
      const killed = await infra(['vault', 'rotate', '--key', key], { ...env, INFRA_TEST_PAUSE_AT: `${point}#${n}` });
      if (killed.pausedAt === undefined) {
        // the run finished without reaching step n: every step before it was tried
        expect([killed.code, killed.stderr]).toEqual([0, expect.any(String)]);
        break;
      }
      expect(killed.signal).toBe('SIGKILL');
      steps.push(path.relative(root, killed.pausedAt));
      const resumed = await infra(['vault', 'rotate', '--resume', '--key', key], env);
      expect([n, resumed.code, resumed.stderr]).toEqual([n, 0, expect.any(String)]);
      const outputs = [killed.stdout, killed.stderr, resumed.stdout, resumed.stderr];
      const stillOld = (await decryptWithKey(await fs.readFile(path.join(root, 'vault/password.asc'), 'utf8'), admins.alice.privateKey)) === OLD_PASSWORD;
      if (/nothing to resume/.test(resumed.stdout) && stillOld) {
        // only a kill before anything durable was written: the rotation never started, every item is as it was
        expect([point, n]).toEqual(['before-rename', 1]);
        expect(Object.values(await openedItems(root, OLD_PASSWORD)).sort()).toEqual(PLAINTEXTS);
        const again = await infra(['vault', 'rotate', '--key', key], env);
        expect([again.code, again.stderr]).toEqual([0, expect.any(String)]);
        outputs.push(again.stdout, again.stderr);
      }
      await converged(root, outputs);
    }
    // the sequence: the pending password and its record, each file and its record, the new password, the final record
    expect(steps.map((s) => s.replace(/^inventories\/.*/, 'FILE'))).toEqual([
      'vault/password.pending.asc',
      'vault/vault.yml',
      ...ONLY.flatMap(() => ['FILE', 'vault/vault.yml']),
      'vault/password.asc',
      'vault/vault.yml',
    ]);
  }, 20 * TIMEOUT);
});
