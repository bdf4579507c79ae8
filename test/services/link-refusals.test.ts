/**
 * Symbolic links where infra writes secrets or reads keys are refused, naming the link, before anything changes:
 *  - `tokens rotate` with group_vars/<group>/ (where infra.tokens.yml lives) linked out of the registry, or
 *    to another group's folder inside it: exit 3, nothing pushed, nothing written on either side of the link;
 *  - `keys/<handle>/pgp.asc` that is a link: every load refuses it (check names it, `members edit --pgp` stops),
 *    with or without the member cache.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { editMember } from '../../src/services/members.js';
import { checkRegistry } from '../../src/services/registry.js';
import { rotateToken } from '../../src/services/tokens.js';
import { testContext } from '../helpers/context.js';
import { startFakeGithub, type FakeGithub } from '../helpers/fake-github.js';
import { rejection } from '../helpers/thrown.js';
import { fakeGithubData, makeAdmins, tokenRegistry, writeKey, type Admins } from '../helpers/tokens-fixture.js';

const TODAY = '2026-06-15';
const BOTS = 'inventories/production/group_vars/bots';
let admins: Admins;
let github: FakeGithub;
const tmpDirs: string[] = [];

beforeAll(async () => {
  admins = await makeAdmins();
});
beforeEach(async () => {
  github = await startFakeGithub(fakeGithubData());
});
afterEach(async () => {
  await github.close();
});
afterAll(async () => {
  for (const d of tmpDirs) await fs.rm(d, { recursive: true, force: true });
});

/** Every entry under `dir` with its bytes (files) or target (links), links never followed. */
async function tree(dir: string, rel = '.'): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await fs.readdir(path.join(dir, rel))).sort()) {
    const r = path.join(rel, name);
    const st = await fs.lstat(path.join(dir, r));
    if (st.isSymbolicLink()) out.push(`${r} -> ${await fs.readlink(path.join(dir, r))}`);
    else if (st.isDirectory()) out.push(...(await tree(dir, r)));
    else out.push(`${r} ${(await fs.readFile(path.join(dir, r))).toString('base64')}`);
  }
  return out;
}

const ctxFor = (root: string) =>
  testContext({ root, today: TODAY, env: { INFRA_GITHUB_API_URL: github.url, ANSIBLE_VAULT_PASSWORD_FILE: path.join(root, 'vault-pass'), INFRA_ADMIN: 'alice' } });

describe('tokens rotate never writes a vault file through a link', () => {
  it.each([
    ['out of the registry', async (root: string) => {
      const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-outside-vault-'));
      tmpDirs.push(outside);
      await fs.cp(path.join(root, BOTS), outside, { recursive: true });
      return outside;
    }],
    ['to another group inside the registry', async (root: string) => {
      const other = path.join(root, 'inventories/production/group_vars/web');
      await fs.cp(path.join(root, BOTS), other, { recursive: true });
      return other;
    }],
  ])('group_vars/bots linked %s: exit 3 naming the link; nothing pushed or written', async (_, makeTarget) => {
    const root = await tokenRegistry(admins);
    const target = await makeTarget(root);
    await fs.rm(path.join(root, BOTS), { recursive: true });
    await fs.symlink(target, path.join(root, BOTS));
    const before = await tree(root);
    const targetBefore = await fs.readFile(path.join(target, 'infra.tokens.yml'), 'utf8');
    const e = await rejection(rotateToken(ctxFor(root), { ref: 'roobot/hook' }));
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain(`${BOTS} is a symbolic link`);
    expect(e.problems).toEqual([expect.objectContaining({ file: BOTS, field: '(link)' })]);
    expect(await fs.readFile(path.join(target, 'infra.tokens.yml'), 'utf8')).toBe(targetBefore);
    expect(await tree(root)).toEqual(before);
    expect(github.secret('repo:example-coop/organizing:WEBHOOK_SECRET')).toBeUndefined();
  });

  it('infra.tokens.yml itself a link: refused the same way', async () => {
    const root = await tokenRegistry(admins);
    const file = `${BOTS}/infra.tokens.yml`;
    await fs.rename(path.join(root, file), path.join(root, 'elsewhere.yml'));
    await fs.symlink('../../../../elsewhere.yml', path.join(root, file));
    const e = await rejection(rotateToken(ctxFor(root), { ref: 'roobot/hook' }));
    expect(e.exitCode).toBe(3);
    expect(e.problems).toEqual([expect.objectContaining({ file, field: '(link)' })]);
    expect(await fs.readFile(path.join(root, 'elsewhere.yml'), 'utf8')).toBe('# kept by people\nroobot_home: /srv/roobot\n');
  });
});

describe('a pgp.asc that is a symbolic link is refused', () => {
  it.each([['without the member cache', '-1'], ['with the member cache warm', '0']])('%s: check names it, members edit --pgp stops; the link and its target stay', async (_, minMembers) => {
    const saved = process.env.INFRA_CACHE_MIN_MEMBERS;
    process.env.INFRA_CACHE_MIN_MEMBERS = minMembers;
    try {
      const root = await tokenRegistry(admins);
      await checkRegistry(testContext({ root })); // warms the cache when it is kept
      // carol's key file points at bob's key: tokens would be encrypted to bob for "carol"
      await fs.symlink('../bob/pgp.asc', path.join(root, 'keys/carol/pgp.asc'));
      const check = await checkRegistry(testContext({ root }));
      expect(check.problems).toEqual([expect.objectContaining({ file: 'keys/carol/pgp.asc', message: expect.stringContaining('symbolic link') })]);
      const newKey = await writeKey(root, 'carol-new.asc', admins.alice.publicKey);
      const e = await rejection(editMember(testContext({ root }), { handle: 'carol', pgp: newKey }));
      expect(e.exitCode).toBe(3);
      expect((await fs.lstat(path.join(root, 'keys/carol/pgp.asc'))).isSymbolicLink()).toBe(true);
      expect(await fs.readFile(path.join(root, 'keys/bob/pgp.asc'), 'utf8')).toBe(admins.bob.publicKey);
    } finally {
      if (saved === undefined) delete process.env.INFRA_CACHE_MIN_MEMBERS;
      else process.env.INFRA_CACHE_MIN_MEMBERS = saved;
    }
  });
});
