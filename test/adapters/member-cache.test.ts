/**
 * The member cache (.infra-cache/members.json): a load with the cache gives the same registry as one
 * without it, and a member file that changed, broke or went away is never served from it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CACHE_DIR, inspectRegistry, loadRegistry, mutateRegistry } from '../../src/adapters/store.js';
import { copyExample } from '../helpers/example.js';

const CACHE_FILE = path.join(CACHE_DIR, 'members.json');
let savedMin: string | undefined;

beforeEach(() => {
  savedMin = process.env.INFRA_CACHE_MIN_MEMBERS;
  process.env.INFRA_CACHE_MIN_MEMBERS = '0'; // the example has 7 members: cache it anyway
});
afterEach(() => {
  if (savedMin === undefined) delete process.env.INFRA_CACHE_MIN_MEMBERS;
  else process.env.INFRA_CACHE_MIN_MEMBERS = savedMin;
});

const cachedHandles = async (dir: string) => Object.keys(JSON.parse(await fs.readFile(path.join(dir, CACHE_FILE), 'utf8')).members).sort();

describe('member cache', () => {
  it('is written on the first load, keeps itself out of git, and a cached load equals a parsed one', async () => {
    const dir = await copyExample();
    const parsed = await loadRegistry(dir);
    expect(await cachedHandles(dir)).toEqual(['alice', 'bob', 'carol', 'dana', 'erin', 'frank', 'roobot']);
    expect(await fs.readFile(path.join(dir, CACHE_DIR, '.gitignore'), 'utf8')).toMatch(/^\*$/m);
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
});
