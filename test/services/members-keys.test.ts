/**
 * The members and keys services called directly (no build), over copies of the example registry.
 * Every editing use case changes exactly the lines it must: the registry is reviewed as pull requests.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { Prompter } from '../../src/lib/prompter.js';
import { addKeys, checkKeys, listKeys, removeKey, type KeySources } from '../../src/services/keys.js';
import { addMember, editMember, offboardMember, showMember } from '../../src/services/members.js';
import { testContext } from '../helpers/context.js';
import { hunk } from '../helpers/diff.js';
import { copyExample, treeDigest } from '../helpers/example.js';
import { ed25519Line, rsaLine } from '../helpers/keys.js';
import { rejection } from '../helpers/thrown.js';

const read = (root: string, rel: string) => fs.readFile(path.join(root, rel), 'utf8');

describe('exact diffs of editing use cases', () => {
  it('keys add appends the key lines and nothing else', async () => {
    const root = await copyExample();
    const before = await read(root, 'keys/alice/member.yml');
    const line = ed25519Line('alice@desk');
    const ctx = testContext({ root, today: '2026-11-29', stdin: `${line}\n` });
    const result = await addKeys(ctx, { handle: 'alice', file: '-', name: 'desk' });
    expect(result.added.map((a) => a.name)).toEqual(['desk']);
    expect(hunk(before, await read(root, 'keys/alice/member.yml'))).toEqual({
      removed: [],
      added: ['  - name: desk', `    key: ${line}`, '    added: 2026-11-29'],
    });
  });

  it('keys remove takes out exactly that key and its comment', async () => {
    const root = await copyExample();
    const before = await read(root, 'keys/alice/member.yml');
    await removeKey(testContext({ root }), 'alice', 'workstation');
    const d = hunk(before, await read(root, 'keys/alice/member.yml'));
    expect(d.added).toEqual([]);
    expect(d.removed[0]).toMatch(/^\s+# Short-lived key/);
    expect(d.removed.slice(1).map((l) => l.trim().split(':')[0])).toEqual(['- name', 'key', 'added', 'expires']);
  });

  it('members offboard changes status, adds departed, and drops only the admin entry', async () => {
    const root = await copyExample();
    const member = await read(root, 'keys/bob/member.yml');
    const config = await read(root, 'infra.yml');
    const r = await offboardMember(testContext({ root }), 'bob', '2026-11-20');
    expect(r.written.sort()).toEqual(['infra.yml', 'keys/bob/member.yml']);
    expect(hunk(member, await read(root, 'keys/bob/member.yml'))).toEqual({ removed: ['status: active'], added: ['status: departed', 'departed: 2026-11-20'] });
    expect(hunk(config, await read(root, 'infra.yml'))).toEqual({ removed: ['admins: [alice, bob]'], added: ['admins: [alice]'] });
  });

  it('members edit changes one line per field and keeps the aligned comments', async () => {
    const root = await copyExample();
    const before = await read(root, 'keys/alice/member.yml');
    const r = await editMember(testContext({ root }), { handle: 'alice', email: 'alice@new.example', addGroup: ['monitoring'] });
    expect(r.changed).toEqual(['email', 'groups']);
    const d = hunk(before, await read(root, 'keys/alice/member.yml'));
    expect(d.removed).toEqual(['email: alice@hypha.example', 'github: alice-gh                # lets `infra keys add alice --github alice-gh` import keys', 'status: active', 'groups: [infra, meet-tech]      # infra.yml `access` says what each group may reach']);
    expect(d.added).toEqual(['email: alice@new.example', 'github: alice-gh                # lets `infra keys add alice --github alice-gh` import keys', 'status: active', 'groups: [infra, meet-tech, monitoring]      # infra.yml `access` says what each group may reach']);
  });
});

describe('members edit', () => {
  it('gives an existing member an OpenPGP key (checked: public, can encrypt)', async () => {
    const root = await copyExample();
    const ctx = testContext({ root });
    const r = await editMember(ctx, { handle: 'carol', pgp: path.join(root, 'keys/alice/pgp.asc') });
    expect(r.changed).toEqual(['pgp']);
    expect(r.written).toEqual(['keys/carol/pgp.asc']);
    expect((await showMember(ctx, 'carol')).member.has_pgp).toBe(true);
  });

  it('refuses a missing file, nothing to change, and a group the member is not in, writing nothing', async () => {
    const root = await copyExample();
    const digest = await treeDigest(root);
    const ctx = testContext({ root });
    expect((await rejection(editMember(ctx, { handle: 'carol', pgp: 'nope.asc' }))).exitCode).toBe(3);
    expect((await rejection(editMember(ctx, { handle: 'carol' }))).exitCode).toBe(2);
    const e = await rejection(editMember(ctx, { handle: 'frank', removeGroup: ['monitoring'] }));
    expect(e.message).toContain('not in group monitoring');
    expect((await rejection(editMember(ctx, { handle: 'frank', email: 'not an email' }))).message).toContain('--email');
    expect(await treeDigest(root)).toBe(digest);
  });

  it('an unknown handle names the closest one', async () => {
    const root = await copyExample();
    const e = await rejection(editMember(testContext({ root }), { handle: 'alcie', name: 'X' }));
    expect(e.message).toContain('did you mean "alice"');
    expect(e.hint).toBe('infra members show alice');
  });
});

describe('members add', () => {
  it('without a terminal names every missing flag at once', async () => {
    const root = await copyExample();
    const e = await rejection(addMember(testContext({ root }), { handle: 'gina' }));
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe('missing --name, --org, --email');
  });

  it('on a terminal asks for what is missing', async () => {
    const root = await copyExample();
    const answers: Record<string, string> = { 'Full name': 'Gina Rossi', 'Organisation id (e.g. hypha)': 'agaric', Email: 'gina@agaric.example' };
    const prompter = { input: async ({ message }: { message: string }) => answers[message] } as unknown as Prompter;
    await addMember(testContext({ root, prompter }), { handle: 'gina' });
    expect(parse(await read(root, 'keys/gina/member.yml'))).toMatchObject({ name: 'Gina Rossi', org: 'agaric', email: 'gina@agaric.example', status: 'active' });
  });
});

describe('keys add from a forge', () => {
  const weak = rsaLine(2048);
  const good = ed25519Line();
  const sources = (keys: string[]): KeySources => ({
    github: async (user) => keys.map((key, i) => ({ id: i + 1, key, source: `github:${user}/${i + 1}` })),
    gitlab: async () => [],
  });

  it('imports the keys that pass and lists the refused ones with why', async () => {
    const root = await copyExample();
    const ctx = testContext({ root });
    const r = await addKeys(ctx, { handle: 'frank', github: 'frank-gh', all: true }, sources([weak, good]));
    expect(r.added).toHaveLength(1);
    expect(r.refused).toEqual([expect.objectContaining({ type: 'ssh-rsa', problems: [expect.stringContaining('2048 bits')] })]);
    expect(ctx.output.stderr).toContain('not importing ssh-rsa');
    expect((await listKeys(ctx, 'frank')).keys.map((k) => k.source)).toContain('github:frank-gh/2');
  });

  it('without --all and without a terminal is a usage error, and adds nothing', async () => {
    const root = await copyExample();
    const digest = await treeDigest(root);
    const e = await rejection(addKeys(testContext({ root }), { handle: 'frank', github: 'frank-gh' }, sources([good])));
    expect(e.exitCode).toBe(2);
    expect(e.hint).toBe('infra keys add frank --github frank-gh --all');
    expect(await treeDigest(root)).toBe(digest);
  });

  it('on a terminal offers only the acceptable keys to pick from', async () => {
    const root = await copyExample();
    let offered: unknown[] = [];
    const prompter = {
      checkbox: async ({ choices }: { choices: Array<{ value: string }> }) => {
        offered = choices;
        return choices.map((c) => c.value);
      },
    } as unknown as Prompter;
    const r = await addKeys(testContext({ root, prompter }), { handle: 'frank', github: 'frank-gh' }, sources([weak, good]));
    expect(offered).toHaveLength(1);
    expect(r.added).toHaveLength(1);
  });
});

describe('keys add from input', () => {
  it('a private key pasted as public is refused without echoing it', async () => {
    const root = await copyExample();
    const { FAKE_PRIVATE_KEY } = await import('../helpers/keys.js');
    const ctx = testContext({ root, stdin: FAKE_PRIVATE_KEY });
    const e = await rejection(addKeys(ctx, { handle: 'alice', file: '-' }));
    expect(e.message).toContain('PRIVATE key');
    expect(`${e.message}${e.hint}${ctx.output.stderr}`).not.toContain(FAKE_PRIVATE_KEY.split('\n')[1]);
  });
});

describe('keys check reads only infra.yml for its policy', () => {
  it('a broken member file does not stop it; the registry policy (min_rsa_bits 3072) still applies', async () => {
    const root = await copyExample();
    await fs.writeFile(path.join(root, 'keys/bob/member.yml'), 'name: [unclosed\n');
    const file = path.join(root, 'host-keys');
    await fs.writeFile(file, `${ed25519Line('ok@host')}\n${rsaLine(2048, 'small@host')}\n`);
    const result = await checkKeys(testContext({ root }), [file]);
    expect(result.keys.map((k) => [k.type, k.ok])).toEqual([
      ['ssh-ed25519', true],
      ['ssh-rsa', false],
    ]);
    expect(result.keys[1].problems.join(' ')).toMatch(/3072/);
  });

  it('an infra.yml with a syntax error is exit 3 naming its line, as for any command', async () => {
    const root = await copyExample();
    await fs.writeFile(path.join(root, 'infra.yml'), 'org: Example\nadmins: [alice\npolicy: {}\n');
    const file = path.join(root, 'host-keys');
    await fs.writeFile(file, `${ed25519Line('ok@host')}\n`);
    const err = await rejection(checkKeys(testContext({ root }), [file]));
    expect(err.exitCode).toBe(3);
    expect(err.problems?.[0]).toMatchObject({ file: 'infra.yml', line: 2 });
  });

  it('a linked infra.yml is refused without being read', async () => {
    const root = await copyExample();
    const elsewhere = path.join(root, 'elsewhere.yml');
    await fs.rename(path.join(root, 'infra.yml'), elsewhere);
    await fs.symlink(elsewhere, path.join(root, 'infra.yml'));
    const file = path.join(root, 'host-keys');
    await fs.writeFile(file, `${ed25519Line('ok@host')}\n`);
    const err = await rejection(checkKeys(testContext({ root }), [file]));
    expect(err.exitCode).toBe(3);
    expect(err.problems?.[0]).toMatchObject({ file: 'infra.yml', field: '(file)' });
  });
});

describe('members offboard run again', () => {
  it('keeps the full checklist for a former admin whose tokens are not rotated yet, and changes nothing more', async () => {
    const root = await copyExample();
    const first = await offboardMember(testContext({ root }), 'bob', '2026-11-20');
    const digest = await treeDigest(root);
    const again = await offboardMember(testContext({ root }), 'bob', '2026-11-25');
    expect(await treeDigest(root)).toBe(digest);
    expect(again).toMatchObject({ already_departed: true, departed: '2026-11-20', removed_from_admins: false });
    expect(again.tokens_to_rotate).toEqual(first.tokens_to_rotate);
    expect(again.checklist).toEqual(first.checklist);
  });

  it('a departed member who never could read a token gets the short checklist', async () => {
    const root = await copyExample();
    const r = await offboardMember(testContext({ root }), 'carol');
    expect(r.already_departed).toBe(true);
    expect(r.tokens_to_rotate).toEqual([]);
    expect(r.checklist.join('\n')).not.toMatch(/reencrypt|Rotate /);
  });
});
