/** vault/vault.yml validated strictly (it arrives by pull request), and the rotation's state steps. */
import { finishVaultRotation, safeRelativePath, startVaultRotation, validateVaultState, vaultFileDone, vaultStateText } from '../../src/core/vault-state.js';
import { parse } from 'yaml';
import { vaultPasswordChecklist } from '../../src/core/vault-checklist.js';

const OK = { created_at: '2026-01-10', created_by: 'bob' };

describe('validateVaultState', () => {
  it.each([
    ['the least', OK],
    ['a rotation', { ...OK, rotated_at: '2026-02-01', rotated_by: 'alice' }],
    ['a pending rotation', { ...OK, pending: { started_at: '2026-02-01', started_by: 'alice', left: ['inventories/p/group_vars/all/x.yml'] } }],
  ])('accepts %s', (_what, raw) => {
    const { state, problems } = validateVaultState(raw, 'vault/vault.yml');
    expect(problems).toEqual([]);
    expect(state).toEqual(raw);
  });

  it.each([
    ['a list', [], '(file)'],
    ['an unknown field', { ...OK, password: 'x' }, 'password'],
    ['a missing created_at', { created_by: 'bob' }, 'created_at'],
    ['a bad date', { ...OK, rotated_at: '2026-13-01', rotated_by: 'a' }, 'rotated_at'],
    ['rotated_by without rotated_at', { ...OK, rotated_by: 'alice' }, 'rotated_at'],
    ['a bad handle', { ...OK, created_by: 'Bob Smith' }, 'created_by'],
    ['a pending without left', { ...OK, pending: { started_at: '2026-02-01', started_by: 'alice' } }, 'pending.left'],
    ['a path out of the registry', { ...OK, pending: { started_at: '2026-02-01', started_by: 'alice', left: ['../x'] } }, 'pending.left.0'],
    ['an absolute path', { ...OK, pending: { started_at: '2026-02-01', started_by: 'alice', left: ['/etc/passwd'] } }, 'pending.left.0'],
    ['a path twice', { ...OK, pending: { started_at: '2026-02-01', started_by: 'alice', left: ['a/b', 'a/b'] } }, 'pending.left.1'],
    ['an unknown pending field', { ...OK, pending: { started_at: '2026-02-01', started_by: 'alice', left: [], password: 'x' } }, 'pending.password'],
  ])('refuses %s, naming the field', (_what, raw, field) => {
    const { state, problems } = validateVaultState(raw, 'vault/vault.yml');
    expect(state).toBeUndefined();
    expect(problems.map((p) => p.field)).toContain(field);
  });

  it.each([
    ['a/b.yml', true],
    ['a/./b', false],
    ['a//b', false],
    ['a\\b', false],
    ['a/\nb', false],
    ['', false],
  ])('safeRelativePath(%j) is %s', (p, ok) => expect(safeRelativePath(p)).toBe(ok));
});

describe('the rotation state, step by step, as written and read back', () => {
  it('start, file done, finish', () => {
    const started = startVaultRotation(OK, '2026-02-01', 'alice', ['a.yml', 'b.yml']);
    const oneDone = vaultFileDone(started, 'a.yml');
    expect(oneDone.pending!.left).toEqual(['b.yml']);
    const finished = finishVaultRotation(vaultFileDone(oneDone, 'b.yml'), '2026-02-01', 'alice');
    expect(finished).toEqual({ ...OK, rotated_at: '2026-02-01', rotated_by: 'alice' });
    for (const s of [started, oneDone, finished]) expect(validateVaultState(parse(vaultStateText(s)), 'v').state).toEqual(s);
  });

  it('a hostile path is written quoted and read back as it was', () => {
    const s = startVaultRotation(OK, '2026-02-01', 'alice', ['inv/group_vars/all/#x: y.yml']);
    expect(validateVaultState(parse(vaultStateText(s)), 'v').state).toEqual(s);
  });
});

describe('vaultPasswordChecklist', () => {
  it.each([
    [true, /infra vault rotate --key FILE/, /could decrypt vault\/password\.asc/],
    [false, /infra vault init - < YOUR-VAULT-PASSWORD-FILE.*infra vault rotate --key FILE/, /kept outside the registry/],
  ])('stored=%s names the exact command', (stored, command, why) => {
    const lines = vaultPasswordChecklist('bob', stored);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(command);
    expect(lines[0]).toMatch(why);
    expect(lines[0]).toMatch(/^Vault password: bob /);
  });
});
