/**
 * Keys anyone can forge from the public key alone (an RSA key with e=1, an Ed25519 key whose point is the
 * identity, and the other refused shapes) through every way in: `keys add` refuses them, `keys check` fails
 * them (exit 4 through the command), `check` reports them as registry problems, `audit` as weak-key with the
 * reason. A real key beside them passes everywhere.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ExitCode } from '../../src/lib/errors.js';
import { runAudit } from '../../src/services/audit.js';
import { addKeys, checkKeys } from '../../src/services/keys.js';
import { checkRegistry } from '../../src/services/registry.js';
import { testContext } from '../helpers/context.js';
import { ed25519LineOf, encodePoint, P25519, realModulus, rsaLineOf, skEd25519LineOf } from '../helpers/forgeable-keys.js';
import { baseConfig, ed25519Line, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { rejection } from '../helpers/thrown.js';

const TODAY = '2026-11-29';
const identity = encodePoint(1n, 0);
const n4096 = realModulus(4096);

const FORGED: Array<[name: string, line: string, reason: RegExp]> = [
  ['rsa-e1', rsaLineOf(1n, n4096, 'rsa-e1'), /exponent is 1/],
  ['rsa-even-e', rsaLineOf(65536n, n4096, 'rsa-even'), /is even/],
  ['rsa-small-factor', rsaLineOf(65537n, n4096 * 3n, 'rsa-3'), /small prime factor 3/],
  ['ed-identity', ed25519LineOf(identity, 'ed-identity'), /identity point/],
  ['ed-order8', ed25519LineOf(encodePoint(2707385501144840649318225287225658788936804267575313519463743609750303402022n, 1), 'ed-order8'), /order 8/],
  ['ed-noncanonical', ed25519LineOf(encodePoint(P25519 + 1n, 0), 'ed-noncanonical'), /not canonically encoded/],
  ['sk-identity', skEd25519LineOf(identity, 'sk-identity'), /identity point/],
];

async function registry(): Promise<string> {
  return makeRegistry({
    config: baseConfig({
      policy: {
        ssh: { allowed_types: ['ed25519', 'ed25519-sk', 'ecdsa', 'ecdsa-sk', 'rsa'], min_rsa_bits: 2048, max_age_days: 730 },
        audit: { min_members_per_host: 1, horizon_days: 30 },
      },
    }),
    members: {
      alice: memberData('alice', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: ed25519Line('alice-ok'), added: '2026-01-01' }, ...FORGED.map(([name, key]) => ({ name, key, added: '2026-01-01' }))] }),
      bob: memberData('bob', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: ed25519Line('bob-ok'), added: '2026-01-01' }] }),
    },
  });
}

describe('forgeable keys, refused everywhere with the reason', () => {
  it('check: each is a registry problem naming the key and why; the real key is not', async () => {
    const root = await registry();
    const { problems } = await checkRegistry(testContext({ root, today: TODAY }));
    for (const [name, , reason] of FORGED) expect(problems.filter((p) => p.file === 'keys/alice/member.yml' && reason.test(p.message) && p.message.includes(`remove alice ${name}\``))).toHaveLength(1);
    expect(problems.filter((p) => /anyone can|canonically|prime factor|even/.test(p.message))).toHaveLength(FORGED.length);
  });

  it('audit: each is a weak-key finding with the reason; the real keys are not', async () => {
    const root = await registry();
    const report = await runAudit(testContext({ root, today: TODAY }), { asOf: TODAY, format: 'json' });
    const weak = report.findings.filter((f) => f.code === 'weak-key');
    expect(weak.map((f) => f.subject).sort()).toEqual(FORGED.map(([name]) => `alice/${name}`).sort());
    for (const [name, , reason] of FORGED) expect(weak.find((f) => f.subject === `alice/${name}`)?.detail).toMatch(reason);
  });

  it.each(FORGED)('keys add refuses %s with the reason, and writes nothing', async (_name, line, reason) => {
    const root = await registry();
    const before = await fs.readFile(path.join(root, 'keys/bob/member.yml'), 'utf8');
    const e = await rejection(addKeys(testContext({ root, today: TODAY, stdin: `${line}\n` }), { handle: 'bob', file: '-' }));
    expect(e.exitCode).toBe(ExitCode.invalid);
    expect(`${e.message} ${e.hint ?? ''}`).toMatch(reason);
    expect(await fs.readFile(path.join(root, 'keys/bob/member.yml'), 'utf8')).toBe(before);
  });

  it('keys check: each is a key that fails policy (not ok, the reason), so the command exits 4', async () => {
    const root = await registry();
    const file = path.join(root, 'authorized_keys');
    await fs.writeFile(file, `${ed25519Line('carol')}\n${FORGED.map(([, line]) => line).join('\n')}\n`);
    const result = await checkKeys(testContext({ root, today: TODAY }), [file]);
    expect(result.errors).toEqual([]);
    expect(result.keys.map((k) => k.ok)).toEqual([true, ...FORGED.map(() => false)]);
    FORGED.forEach(([, , reason], i) => expect(result.keys[i + 1].problems).toEqual([expect.stringMatching(reason)]));
    expect(result.failed).toBe(FORGED.length);
  });
});
