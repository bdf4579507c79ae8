/**
 * check and audit report a private key anywhere in the registry tree (private-key-in-registry), over a copy of
 * the example registry: what `vpn join --out` and `wg genkey > router.key` leave there, in any folder, but not
 * inside .git or node_modules, not through a symbolic link, not by opening a FIFO, and within the size limit.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { scanForPrivateKeys } from '../../src/adapters/registry-tree.js';
import { generatePrivateKey } from '../../src/core/wireguard.js';
import { runAudit } from '../../src/services/audit.js';
import { checkRegistry } from '../../src/services/registry.js';
import { seededRandom, testContext } from '../helpers/context.js';
import { copyExample, tempDir } from '../helpers/example.js';

const P = ['PRI', 'VATE'].join('');
const sshArmor = `-----BEGIN OPENSSH ${P} KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH ${P} KEY-----\n`;
const wgKey = generatePrivateKey(seededRandom('tree-scan'));
const TODAY = '2026-06-15';

async function write(root: string, rel: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await fs.writeFile(path.join(root, rel), text);
}

it('the example registry as it ships holds no private key', async () => {
  const root = await copyExample();
  expect((await scanForPrivateKeys(root)).found).toEqual([]);
});

it('audit reports each file high, with its fix; check reports it as a problem (exit 3)', async () => {
  const root = await copyExample();
  await write(root, 'alice-tablet.conf', `[Interface]\nPrivateKey = ${wgKey}\nAddress = 10.77.0.9/32\n`);
  await write(root, 'router.key', `${wgKey}\n`);
  await write(root, 'backups/old laptop/id_ed25519', sshArmor);
  const audit = await runAudit(testContext({ root, today: TODAY }), { asOf: TODAY });
  const found = audit.findings.filter((f) => f.code === 'private-key-in-registry');
  expect(found.map((f) => [f.subject, f.severity])).toEqual([
    ['alice-tablet.conf', 'high'],
    ['backups/old laptop/id_ed25519', 'high'],
    ['router.key', 'high'],
  ]);
  expect(found[0].fix).toMatch(/^git rm -q --cached --ignore-unmatch -- alice-tablet\.conf; .*infra vpn rekey/);
  const before = (await runAudit(testContext({ root: await copyExample(), today: TODAY }), { asOf: TODAY })).summary.high;
  expect(audit.summary.high).toBe(before + 3);

  const check = await checkRegistry(testContext({ root }));
  expect(check.ok).toBe(false);
  expect(check.problems.filter((p) => p.field === '(private key)').map((p) => `${p.file}:${p.line}`).sort()).toEqual(['alice-tablet.conf:2', 'backups/old laptop/id_ed25519:1', 'router.key:1']);
});

it('skips .git and node_modules, never follows a link, never opens a FIFO', async () => {
  const root = await copyExample();
  const outside = await tempDir('infra-u20a-outside-');
  await write(outside, 'id_ed25519', sshArmor);
  await write(root, '.git/objects/leftover', sshArmor);
  await write(root, 'node_modules/some-package/test/key.pem', sshArmor);
  await fs.symlink(path.join(outside, 'id_ed25519'), path.join(root, 'linked-key'));
  await fs.symlink(outside, path.join(root, 'linked-folder'));
  execFileSync('mkfifo', [path.join(root, 'a-fifo.key')], { timeout: 5000 });
  const scan = await scanForPrivateKeys(root);
  expect(scan).toEqual({ found: [] });
});

it('reads a file up to the limit, and stops after the file limit saying so', async () => {
  const root = await tempDir('infra-u20a-limits-');
  await write(root, 'big.txt', `${'x'.repeat(2000)}\n${sshArmor}`);
  expect((await scanForPrivateKeys(root, { maxBytes: 1000 })).found).toEqual([]);
  expect((await scanForPrivateKeys(root, { maxBytes: 4000 })).found.map((f) => [f.file, f.line])).toEqual([['big.txt', 2]]);
  for (const n of [1, 2, 3]) await write(root, `f${n}.txt`, 'nothing\n');
  const capped = await scanForPrivateKeys(root, { maxFiles: 2 });
  expect(capped.truncated).toMatch(/first 2 files only/);
});
