/**
 * The member cache (members.json, derived state in the user's cache folder): a load with the cache gives the same registry as one
 * without it, and a member file that changed, broke or went away is never served from it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { inspectRegistry, loadRegistry } from '../../src/adapters/registry-load.js';
import { mutateRegistry } from '../../src/adapters/transaction.js';
import type { Member } from '../../src/core/types.js';
import { crossCheck, crossCheckClean, memberFacts } from '../../src/core/validate.js';
import { copyExample } from '../helpers/example.js';
import { dropDerivedState, keepDerivedStateForSmallRegistries, readDerivedBody } from '../helpers/derived-state.js';

keepDerivedStateForSmallRegistries(); // the example has 7 members: cache it anyway

const cacheData = async (dir: string) => JSON.parse((await readDerivedBody(dir, 'members.json'))!);
const cachedHandles = async (dir: string) => Object.keys((await cacheData(dir)).members).sort();

describe('member cache', () => {
  it('is written on the first load, outside the registry, and a cached load equals a parsed one', async () => {
    const dir = await copyExample();
    const parsed = await loadRegistry(dir);
    expect(await cachedHandles(dir)).toEqual(['alice', 'bob', 'carol', 'dana', 'erin', 'frank', 'roobot']);
    await expect(fs.access(path.join(dir, '.infra-cache'))).rejects.toThrow();
    const cached = await loadRegistry(dir);
    expect(cached.registry).toEqual(parsed.registry);
    // a file taken from the cache is still there to edit and to point at
    expect(cached.files.get('keys/alice/member.yml')!.text).toBe(await fs.readFile(path.join(dir, 'keys/alice/member.yml'), 'utf8'));
  });

  it('reads a member again when its file changes, even to the same size', async () => {
    const dir = await copyExample();
    await loadRegistry(dir);
    const file = path.join(dir, 'keys/bob/member.yml');
    const text = await fs.readFile(file, 'utf8');
    expect(text).toContain('name: Bob Okafor');
    await fs.writeFile(file, text.replace('name: Bob Okafor', 'name: Rob Okafor'));
    const { registry } = await loadRegistry(dir);
    expect(registry.members.find((m) => m.handle === 'bob')!.name).toBe('Rob Okafor');
  });

  it('never serves a member whose file became invalid or was removed, and caches no invalid file', async () => {
    const dir = await copyExample();
    await loadRegistry(dir);
    await fs.appendFile(path.join(dir, 'keys/carol/member.yml'), 'colour: blue\n');
    await fs.rm(path.join(dir, 'keys/dana/member.yml'));
    const { loaded, problems } = await inspectRegistry(dir);
    expect(loaded).toBeUndefined();
    expect(problems.map((p) => `${p.file}:${p.field}`)).toEqual(expect.arrayContaining(['keys/carol/member.yml:colour', 'keys/dana:(folder)']));
    expect(await cachedHandles(dir)).not.toContain('carol');
    // and the problem is still reported on the next load
    expect((await inspectRegistry(dir)).problems.some((p) => p.file === 'keys/carol/member.yml' && p.line !== undefined)).toBe(true);
  });

  it('sees a new OpenPGP key without the member file changing', async () => {
    const dir = await copyExample();
    await loadRegistry(dir);
    expect((await loadRegistry(dir)).registry.members.find((m) => m.handle === 'carol')!.has_pgp).toBe(false);
    await fs.copyFile(path.join(dir, 'keys/alice/pgp.asc'), path.join(dir, 'keys/carol/pgp.asc'));
    expect((await loadRegistry(dir)).registry.members.find((m) => m.handle === 'carol')!.has_pgp).toBe(true);
  });

  it('an edit of a cached member refuses a file that changed after the load', async () => {
    const dir = await copyExample();
    await loadRegistry(dir);
    const file = path.join(dir, 'keys/erin/member.yml');
    const err = await mutateRegistry(dir, 'test', async (tx) => {
      await fs.appendFile(file, '# a hand edit meanwhile\n');
      tx.editMember('erin').set(['name'], 'Erin Changed');
    }).catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/keys\/erin\/member\.yml changed on disk/);
    expect(await fs.readFile(file, 'utf8')).not.toContain('Erin Changed');
  });

  // Hand edits of bob that put him in a conflict with another member (alice's IPv6 address spelt another
  // way, erin's IPv4 address, alice's SSH key, dana's WireGuard key), or in none.
  const bobEdits: Array<[string, (text: string) => string, string[]]> = [
    ['an address held by alice, spelt otherwise (refused for its form)', (t) => t.replace('"fd77:77::3/128"', '"fd77:77:0:0::2/128"'), ['keys/bob/member.yml:vpn_peers[0].addresses[1]']],
    ['an address held by alice', (t) => t.replace('"fd77:77::3/128"', '"fd77:77::2/128"'), ['keys/bob/member.yml:vpn_peers[0].addresses[1]']],
    ["erin's IPv4 address", (t) => t.replace('10.77.0.3/32', '10.77.0.6/32'), ['keys/erin/member.yml:vpn_peers[0].addresses[0]']],
    ["alice's SSH key", (t) => t.replace(/key: ssh-ed25519 \S+ bob@laptop/, 'key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFo2IXczivU5tXGT38HuDKMZWmj3o/lif7hnRsrTSa2R bob@laptop'), ['keys/bob/member.yml:ssh_keys[0].key']],
    ["dana's WireGuard key", (t) => t.replace('xlZNWbjzu6GRrzjaRVgO7L+SDW/DyRvIgFx9NjQ1Mzo=', 'Ju6WBIt3zjT2U9oCTTdVTfzk//lwu28tN4ZfOace4nA='), ['keys/dana/member.yml:vpn_peers[0].public_key']],
    ['a free address', (t) => t.replace('10.77.0.3/32', '10.77.0.99/32'), []],
  ];

  it.each(bobEdits)('a hand edit giving bob %s is judged as without the cache, once the registry was checked clean', async (_what, edit, expected) => {
    const dir = await copyExample();
    await loadRegistry(dir);
    await loadRegistry(dir); // the second load finds the registry checked clean and skips the check
    expect((await cacheData(dir)).crossChecked).toBeDefined();
    const file = path.join(dir, 'keys/bob/member.yml');
    await fs.writeFile(file, edit(await fs.readFile(file, 'utf8')));
    const cached = await inspectRegistry(dir);
    expect(cached.problems.map((p) => `${p.file}:${p.field}`).sort()).toEqual(expected);
    await dropDerivedState(dir);
    expect((await inspectRegistry(dir)).problems).toEqual(cached.problems);
  });

  it.each(bobEdits)('an edit through a transaction giving bob %s is refused, naming the same problems, exactly when it conflicts', async (_what, edit, expected) => {
    const dir = await copyExample();
    await loadRegistry(dir);
    const before = await fs.readFile(path.join(dir, 'keys/bob/member.yml'), 'utf8');
    const refused = await mutateRegistry(dir, 'test', (tx) => tx.writeFile('keys/bob/member.yml', edit(tx.loaded.files.get('keys/bob/member.yml')!.text))).then(
      () => [],
      (e: { problems?: Array<{ file: string; field: string }> }) => (e.problems ?? []).map((p) => `${p.file}:${p.field}`).sort(),
    );
    expect(refused).toEqual(expected);
    if (expected.length) expect(await fs.readFile(path.join(dir, 'keys/bob/member.yml'), 'utf8')).toBe(before);
  });

  it('crossCheckClean agrees with crossCheck when one member takes any one of every other member\'s keys and addresses', async () => {
    const dir = await copyExample();
    const { registry, located } = await loadRegistry(dir);
    const { config, members } = registry;
    const variants: Array<[string, Member]> = [];
    for (const victim of members)
      for (const other of members.filter((m) => m !== victim)) {
        other.ssh_keys.forEach((k) => variants.push([victim.handle, { ...victim, ssh_keys: [...victim.ssh_keys, { ...k, name: 'taken' }] }]));
        other.vpn_peers.forEach((p) => {
          if (victim.vpn_peers.length === 0) return;
          variants.push([victim.handle, { ...victim, vpn_peers: [{ ...victim.vpn_peers[0], public_key: p.public_key }] }]);
          p.addresses.forEach((a) => variants.push([victim.handle, { ...victim, vpn_peers: [{ ...victim.vpn_peers[0], addresses: victim.vpn_peers[0].addresses.map((own) => (own.includes(':') === a.includes(':') ? a : own)) }] }]));
        });
      }
    expect(variants.length).toBeGreaterThan(50);
    let conflicts = 0;
    for (const [handle, changed] of variants) {
      const result = members.map((m) => (m.handle === handle ? changed : m));
      const clean = crossCheck(config, result, located).length === 0;
      if (!clean) conflicts++;
      expect([handle, crossCheckClean(config, result, new Set([handle]), memberFacts)]).toEqual([handle, clean]);
    }
    expect(conflicts).toBe(variants.length); // every variant takes something already held
    expect(crossCheckClean(config, members, new Set(['bob']), memberFacts)).toBe(true);
  });
});

