/**
 * Where derived state lives and who can vouch for it: the user's cache folder (0700, files 0600), one folder
 * per registry path, an HMAC key nobody else may read or replace; INFRA_CACHE_MIN_MEMBERS=-1 reads and writes
 * nothing. What it answers is only ever what this user's infra wrote for this registry.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cacheBase, derivedStateDir, readDerived, writeDerived } from '../../src/adapters/derived-state.js';

let saved: Record<string, string | undefined>;
let home: string;
let root: string;
beforeEach(async () => {
  saved = { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, INFRA_CACHE_MIN_MEMBERS: process.env.INFRA_CACHE_MIN_MEMBERS };
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-derived-home-'));
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-derived-registry-'));
  process.env.XDG_CACHE_HOME = home;
  delete process.env.INFRA_CACHE_MIN_MEMBERS;
});
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

const mode = async (p: string) => (await fs.stat(p)).mode & 0o777;

describe('derived state', () => {
  it('lives under $XDG_CACHE_HOME/infra, private to the user, and reads back what was written', async () => {
    await writeDerived(root, 'members.json', '{"a":1}');
    await writeDerived(root, 'peers/00.json', '{}');
    const dir = (await derivedStateDir(root))!;
    expect(path.dirname(dir)).toBe(path.join(home, 'infra'));
    expect([await mode(path.join(home, 'infra')), await mode(dir), await mode(path.join(dir, 'peers'))]).toEqual([0o700, 0o700, 0o700]);
    expect([await mode(path.join(dir, 'members.json')), await mode(path.join(home, 'infra', 'hmac.key'))]).toEqual([0o600, 0o600]);
    expect(await readDerived(root, 'members.json')).toBe('{"a":1}');
    expect(await readDerived(root, 'peers/00.json')).toBe('{}');
    // nothing in the registry
    expect(await fs.readdir(root)).toEqual([]);
  });

  it('a relative XDG_CACHE_HOME is ignored (XDG): ~/.cache/infra', () => {
    process.env.XDG_CACHE_HOME = 'relative/cache';
    expect(cacheBase()).toBe(path.join(os.homedir(), '.cache', 'infra'));
  });

  it('one changed byte, a file renamed to another name, or a registry reached by another path: not read', async () => {
    await writeDerived(root, 'members.json', '{"a":1}');
    const dir = (await derivedStateDir(root))!;
    const file = path.join(dir, 'members.json');
    const text = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, text.replace('"a":1', '"a":2'));
    expect(await readDerived(root, 'members.json')).toBeUndefined();
    await fs.writeFile(path.join(dir, 'render.json'), text);
    expect(await readDerived(root, 'render.json')).toBeUndefined();
    // the same folder through a link is the same registry (the real path is what counts)
    await fs.writeFile(file, text);
    const link = path.join(os.tmpdir(), `infra-derived-link-${path.basename(root)}`);
    await fs.symlink(root, link);
    expect(await readDerived(link, 'members.json')).toBe('{"a":1}');
    await fs.rm(link);
  });

  it('a key file others may read, or a link, is not trusted; a lax cache folder is made private again', async () => {
    await writeDerived(root, 'members.json', '{"a":1}');
    const keyFile = path.join(home, 'infra', 'hmac.key');
    await fs.chmod(keyFile, 0o644);
    expect(await readDerived(root, 'members.json')).toBeUndefined();
    await fs.chmod(keyFile, 0o600);
    await fs.rename(keyFile, `${keyFile}.real`);
    await fs.symlink(`${keyFile}.real`, keyFile);
    expect(await readDerived(root, 'members.json')).toBeUndefined();
    await fs.rm(keyFile);
    await fs.rename(`${keyFile}.real`, keyFile);
    await fs.chmod(path.join(home, 'infra'), 0o777);
    expect(await readDerived(root, 'members.json')).toBe('{"a":1}');
    expect(await mode(path.join(home, 'infra'))).toBe(0o700);
  });

  it('a key made again (a copied or restored cache folder) makes every file unreadable', async () => {
    await writeDerived(root, 'members.json', '{"a":1}');
    await fs.rm(path.join(home, 'infra', 'hmac.key'));
    await writeDerived(root, 'other.json', '{}'); // makes a new key
    expect(await readDerived(root, 'members.json')).toBeUndefined();
  });

  it('INFRA_CACHE_MIN_MEMBERS=-1 (or not a number) neither reads nor writes', async () => {
    await writeDerived(root, 'members.json', '{"a":1}');
    for (const value of ['-1', 'never']) {
      process.env.INFRA_CACHE_MIN_MEMBERS = value;
      expect(await readDerived(root, 'members.json')).toBeUndefined();
      await writeDerived(root, 'render.json', '{}');
    }
    delete process.env.INFRA_CACHE_MIN_MEMBERS;
    expect(await readDerived(root, 'render.json')).toBeUndefined();
  });

  it('refuses names that would leave its folder', async () => {
    for (const name of ['../x.json', '/etc/passwd', 'a/../../b', '.hidden', 'hmac.key/../x']) {
      await writeDerived(root, name, '{}');
      expect(await readDerived(root, name)).toBeUndefined();
    }
    await expect(fs.access(path.join(home, 'infra'))).rejects.toThrow(); // not even the folder was made
  });
});
