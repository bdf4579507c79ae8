/** schema/vault.schema.json (for editors) agrees with the validator infra runs on vault/vault.yml. */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { validateVaultState } from '../src/core/vault-state.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const validate = new Ajv2020({ strict: true, strictRequired: false, allErrors: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schema/vault.schema.json'), 'utf8')));
const OK = { created_at: '2026-01-10', created_by: 'bob' };
const pending = (left: unknown) => ({ ...OK, pending: { started_at: '2026-02-01', started_by: 'alice', left } });

it.each([
  ['the least', OK, true],
  ['a rotation', { ...OK, rotated_at: '2026-02-01', rotated_by: 'alice' }, true],
  ['a pending rotation', pending(['inventories/p/x.yml']), true],
  ['an unknown field', { ...OK, password: 'x' }, false],
  ['rotated_by alone', { ...OK, rotated_by: 'alice' }, false],
  ['a bad handle', { ...OK, created_by: 'Bob' }, false],
  ['a path with ..', pending(['a/../b']), false],
  ['an absolute path', pending(['/etc/passwd']), false],
  ['a path twice', pending(['a', 'a']), false],
  ['a path with //', pending(['a//b']), false],
])('%s: schema and validator agree (%s)', (_what, doc, ok) => {
  expect(validate(doc)).toBe(ok);
  expect(validateVaultState(doc, 'vault/vault.yml').problems.length === 0).toBe(ok);
});

it("the example registry's vault/vault.yml passes both", async () => {
  const { parse } = await import('yaml');
  const doc = parse(readFileSync(join(ROOT, 'vault/vault.yml'), 'utf8'));
  expect(validate(doc)).toBe(true);
  expect(validateVaultState(doc, 'vault/vault.yml').problems).toEqual([]);
});
