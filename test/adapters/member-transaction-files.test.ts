/**
 * An edit of one member (store.mutateMember) that also writes files the registry load never reads: the
 * member's own token files under keys/<handle>/tokens/ and Ansible vault vars files (group_vars/<group>/
 * infra.tokens.yml). With a peer index these stay on the focused path; anything else, or a path reached
 * through a symbolic link, falls back to the whole-registry path, and the outcome on disk is the same.
 *
 * The one-member edits of one command (one RegistryStore) walk the tree for killed writers' temporary files
 * once, and again whenever they take over a killed writer's lock.
 *
 * Which path an edit took is seen from `fn`: it is called with a MemberTransaction on the focused path, and
 * called again with a whole-registry Transaction after a doubt.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { focusedExtraFile, MemberTransaction } from '../../src/adapters/member-transaction.js';
import { LOCK_FILE } from '../../src/adapters/registry-lock.js';
import { RegistryStore } from '../../src/adapters/registry-store.js';
import type { Transaction } from '../../src/adapters/transaction.js';
import { ExitCode } from '../../src/lib/errors.js';
import { baseConfig, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { rejection } from '../helpers/thrown.js';
import { indexFiles, keepDerivedStateForSmallRegistries, readDerivedBody } from '../helpers/derived-state.js';

const VAULT = 'inventories/production/group_vars/bots/infra.tokens.yml';

const fixture = () =>
  makeRegistry({
    config: baseConfig(),
    members: Object.fromEntries(['a', 'b', 'c'].map((h) => [h, memberData(h)])),
    files: { 'inventories/production/hosts.yml': 'all:\n  children:\n    bots:\n      hosts:\n        bot1:\n', [VAULT]: 'kept_var: 1\n' },
  });

keepDerivedStateForSmallRegistries(); // three members: keep derived state anyway

type Path = 'focused' | 'whole';
let edits = 0;

/** Edit `handle`'s name (so its member.yml changes) and let `more` stage files; which paths `fn` ran on. */
async function edit(root: string, handle: string, more: (tx: Transaction) => void = () => {}, opts: { keepName?: boolean } = {}): Promise<Path[]> {
  const paths: Path[] = [];
  const n = edits++;
  await new RegistryStore({ dir: root }).mutateMember(handle, 'test edit', (tx) => {
    paths.push(tx instanceof MemberTransaction ? 'focused' : 'whole');
    if (!opts.keepName) tx.editMember(handle).set(['name'], `Renamed ${n}`);
    more(tx);
  });
  return paths;
}

/** A registry whose peer index is written (by a first edit, which has none to use). */
async function indexed(): Promise<string> {
  const root = await fixture();
  expect(await edit(root, 'a')).toEqual(['whole']);
  expect(await edit(root, 'a')).toEqual(['focused']);
  return root;
}

const read = (root: string, rel: string) => fs.readFile(path.join(root, rel), 'utf8');
const exists = (root: string, rel: string) =>
  fs.access(path.join(root, rel)).then(
    () => true,
    () => false,
  );
describe('focusedExtraFile: what an edit of one member may write besides its member.yml', () => {
  it.each([
    ['keys/a/tokens/hook.asc', true],
    ['keys/a/tokens/hook.pending.asc', true],
    ['inventories/production/group_vars/bots/infra.tokens.yml', true],
    ['group_vars/bots/infra.tokens.yml', true],
    ['keys/b/tokens/hook.asc', false], // another member's
    ['keys/a/pgp.asc', false], // the load reads whether it exists
    ['keys/a/member.yml', false], // its own, but not an extra file
    ['keys/b/member.yml', false],
    ['infra.yml', false],
    ['keys/a/tokens/.hook.asc', false],
    ['keys/a/tokens/hook.txt', false],
    ['keys/a/tokens/sub/hook.asc', false],
    ['keys/a/tokens/../../b/member.yml', false],
    ['inventories/../keys/b/group_vars/x/infra.tokens.yml', false],
    ['keys/b/group_vars/x/infra.tokens.yml', false],
    ['.infra-cache/group_vars/x/infra.tokens.yml', false],
    ['inventories/production/group_vars/bots/other.yml', false],
    ['inventories/production/hosts.yml', false],
    ['/etc/group_vars/x/infra.tokens.yml', false],
    ['inventories//group_vars/x/infra.tokens.yml', false],
    ['inventories/./group_vars/x/infra.tokens.yml', false],
  ])('%s -> %s', (rel, allowed) => {
    expect(focusedExtraFile('a', rel)).toBe(allowed);
  });
});

describe('an edit of one member with token and vault files, through the peer index', () => {
  it('writes its token file, a vault vars file and its member.yml on the focused path, rewriting only its own shard', async () => {
    const root = await indexed();
    const before = await indexFiles(root);
    const paths = await edit(root, 'a', (tx) => {
      tx.writeFile('keys/a/tokens/hook.pending.asc', 'PENDING\n', 0o644);
      tx.writeFile(VAULT, 'kept_var: 1\nhook: new\n');
    });
    expect(paths).toEqual(['focused']);
    expect(await read(root, 'keys/a/tokens/hook.pending.asc')).toBe('PENDING\n');
    expect(await read(root, VAULT)).toBe('kept_var: 1\nhook: new\n');
    expect(await read(root, 'keys/a/member.yml')).toContain(`name: Renamed ${edits - 1}`);
    const after = await indexFiles(root);
    const rewritten = Object.keys(after).filter((f) => after[f] !== before[f]);
    expect(rewritten).toHaveLength(2); // head.json and a's shard: no rebuild
    expect(rewritten).toContain('head.json');
    // the index still describes the registry: the next edit is focused too
    expect(await edit(root, 'a')).toEqual(['focused']);
  });

  it('removes its pending token file and writes the value on the focused path', async () => {
    const root = await indexed();
    await edit(root, 'a', (tx) => tx.writeFile('keys/a/tokens/hook.pending.asc', 'NEW\n', 0o644));
    const paths = await edit(root, 'a', (tx) => {
      tx.writeFile('keys/a/tokens/hook.asc', 'NEW\n', 0o644);
      tx.removeFile('keys/a/tokens/hook.pending.asc');
    });
    expect(paths).toEqual(['focused']);
    expect(await read(root, 'keys/a/tokens/hook.asc')).toBe('NEW\n');
    expect(await exists(root, 'keys/a/tokens/hook.pending.asc')).toBe(false);
  });

  it('a vault file alone (member.yml unchanged) leaves the index as it was, and the next edit is still focused', async () => {
    const root = await indexed();
    const before = await indexFiles(root);
    expect(await edit(root, 'a', (tx) => tx.writeFile(VAULT, 'only: this\n'), { keepName: true })).toEqual(['focused']);
    expect(await read(root, VAULT)).toBe('only: this\n');
    expect(await indexFiles(root)).toEqual(before);
    expect(await edit(root, 'a')).toEqual(['focused']);
  });

  it('a vars file that is not YAML is refused as on the whole path (exit 3), and nothing is written', async () => {
    const root = await indexed();
    const member = await read(root, 'keys/a/member.yml');
    const err = await rejection(edit(root, 'a', (tx) => tx.writeFile(VAULT, 'hook: [unclosed\n')));
    expect(err.exitCode).toBe(ExitCode.invalid);
    expect(err.problems?.map((p) => p.file)).toEqual([VAULT]);
    expect(await read(root, VAULT)).toBe('kept_var: 1\n');
    expect(await read(root, 'keys/a/member.yml')).toBe(member);
  });

  it.each([
    ["another member's token file", 'keys/b/tokens/hook.asc'],
    ['its own pgp.asc', 'keys/a/pgp.asc'],
    ['an inventory file that is not a vault vars file', 'inventories/production/hosts.yml'],
    ['a vault vars file under keys/', 'keys/b/group_vars/x/infra.tokens.yml'],
  ])('%s: the edit falls back to the whole registry, and still writes it', async (_what, rel) => {
    const root = await indexed();
    const content = rel.endsWith('.yml') ? 'all:\n  hosts: {}\n' : 'DATA\n';
    expect(await edit(root, 'a', (tx) => tx.writeFile(rel, content))).toEqual(['focused', 'whole']);
    expect(await read(root, rel)).toBe(content);
  });

  it("removing another member's token file falls back to the whole registry", async () => {
    const root = await indexed();
    await fs.mkdir(path.join(root, 'keys/b/tokens'), { recursive: true });
    await fs.writeFile(path.join(root, 'keys/b/tokens/hook.asc'), 'OLD\n');
    expect(await edit(root, 'a', (tx) => tx.removeFile('keys/b/tokens/hook.asc'))).toEqual(['focused', 'whole']);
    expect(await exists(root, 'keys/b/tokens/hook.asc')).toBe(false);
  });

  it('a tokens folder that is a link (here to another member, where pgp.asc would land) is not trusted', async () => {
    const root = await indexed();
    await fs.symlink('../b', path.join(root, 'keys/a/tokens'));
    const paths = await edit(root, 'a', (tx) => tx.writeFile('keys/a/tokens/pgp.asc', 'NOT A KEY\n'));
    expect(paths).toEqual(['focused', 'whole']);
  });

  it('a vault vars file that is a link is not trusted', async () => {
    const root = await indexed();
    const target = path.join(root, 'elsewhere.yml');
    await fs.writeFile(target, 'x: 1\n');
    await fs.mkdir(path.join(root, 'inventories/production/group_vars/web'), { recursive: true });
    await fs.symlink(target, path.join(root, 'inventories/production/group_vars/web/infra.tokens.yml'));
    const paths = await edit(root, 'a', (tx) => tx.writeFile('inventories/production/group_vars/web/infra.tokens.yml', 'y: 2\n'));
    expect(paths).toEqual(['focused', 'whole']);
  });

  it('with no index yet, an edit with token and vault files takes the whole path and writes the index for the next one', async () => {
    const root = await fixture();
    const stage = (tx: Transaction) => {
      tx.writeFile('keys/c/tokens/hook.pending.asc', 'P\n', 0o644);
      tx.writeFile(VAULT, 'v: 1\n');
    };
    expect(await edit(root, 'c', stage)).toEqual(['whole']);
    expect(await readDerivedBody(root, 'peers/head.json')).toBeDefined();
    expect(await edit(root, 'c', stage)).toEqual(['focused']);
  });
});

describe("a command's one-member edits and killed writers' temporary files", () => {
  const deadPid = () => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8', timeout: 10_000 }).stdout);
  const plantTemp = async (root: string, label: string) => {
    const rel = `keys/b/.member.yml.${deadPid()}.${label}.tmp`;
    await fs.writeFile(path.join(root, rel), 'half a file');
    return rel;
  };
  const editWith = (store: RegistryStore, handle: string) => store.mutateMember(handle, 'test edit', (tx) => tx.editMember(handle).set(['name'], `Edited ${edits++}`));

  it("the first edit removes them; a later edit of the same command does not walk again; the next command's first edit does", async () => {
    const root = await indexed();
    const first = await plantTemp(root, '0000000a');
    const store = new RegistryStore({ dir: root });
    await editWith(store, 'a');
    expect(await exists(root, first)).toBe(false);
    const second = await plantTemp(root, '0000000b');
    await editWith(store, 'a');
    expect(await exists(root, second)).toBe(true);
    await editWith(new RegistryStore({ dir: root }), 'a');
    expect(await exists(root, second)).toBe(false);
  });

  it("a later edit that takes over a killed writer's lock walks again and removes what that writer left", async () => {
    const root = await indexed();
    const store = new RegistryStore({ dir: root });
    await editWith(store, 'a');
    const pid = deadPid();
    const left = `keys/b/.member.yml.${pid}.0000000c.tmp`;
    await fs.writeFile(path.join(root, left), 'half a file');
    await fs.writeFile(path.join(root, LOCK_FILE), JSON.stringify({ pid, host: hostname(), command: 'members edit', started: new Date().toISOString() }) + '\n');
    await editWith(store, 'a');
    expect(await exists(root, left)).toBe(false);
    expect(await exists(root, LOCK_FILE)).toBe(false);
  });
});
