/**
 * `tokens rotate` with a peer index (peers/ in the registry's derived state): each recorded step is an edit of the bot alone,
 * so it rewrites the bot's shard of the index and no other, and the rotation ends where the whole-registry
 * path ends: every vault consumer holds the stored value, the record is finished once. A rotation stopped
 * part-way on this path resumes to the same end.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { rotateToken } from '../../src/services/tokens.js';
import { testContext } from '../helpers/context.js';
import { rejection } from '../helpers/thrown.js';
import { makeAdmins, storedValue, tokenOf, tokenRegistry, vaultValue, writeKey, type Admins } from '../helpers/tokens-fixture.js';
import { indexFiles, keepDerivedStateForSmallRegistries, peersDir, readDerivedBody } from '../helpers/derived-state.js';

const TODAY = '2026-06-15';
const VARS = ['hook_a', 'hook_b', 'hook_c'];
/** The vars file (group) of each: hook_b and hook_c share one, so they are one step (one write, one record). */
const GROUP: Record<string, string> = { hook_a: 'bots', hook_b: 'web', hook_c: 'web' };
/** A generic token whose consumers are three vault variables in two vars files. */
const CONSUMERS = VARS.map((v) => ({ ansible_vault_var: { environment: 'production', group: GROUP[v], var: v } }));
const cli = (v: string) => `ansible_vault_var:production:${GROUP[v]}:${v}`;

let admins: Admins;
beforeAll(async () => {
  admins = await makeAdmins();
});

keepDerivedStateForSmallRegistries(); // four members: keep derived state anyway

let runs = 0;
/** A context whose randomness differs from the last one's: each rotation makes a new value. */
const ctxFor = (root: string) => testContext({ root, today: TODAY, seed: `run-${runs++}`, env: { ANSIBLE_VAULT_PASSWORD_FILE: path.join(root, 'vault-pass'), INFRA_ADMIN: 'alice' } });

/** The shard file that holds roobot's entry. */
async function botShard(root: string): Promise<string> {
  for (const f of await fs.readdir(await peersDir(root)))
    if (/^\d+\.json$/.test(f) && Object.hasOwn(JSON.parse((await readDerivedBody(root, `peers/${f}`))!).members, 'roobot')) return f;
  throw new Error('no shard holds roobot');
}

async function expectRotated(root: string): Promise<string> {
  const value = await storedValue(root, admins, 'keys/roobot/tokens/hook.asc');
  expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
  for (const v of VARS) expect(await vaultValue(root, v, GROUP[v])).toBe(value);
  const token = await tokenOf(root, 'hook');
  expect(token.pending).toBeUndefined();
  expect(token.rotated_at).toBe(TODAY);
  await expect(fs.access(path.join(root, 'keys/roobot/tokens/hook.pending.asc'))).rejects.toThrow();
  expect(await fs.readFile(path.join(root, 'inventories/production/group_vars/bots/infra.tokens.yml'), 'utf8')).toContain('roobot_home: /srv/roobot');
  return value;
}

describe('tokens rotate through the peer index', () => {
  it('records start, each consumer and the finish as edits of the bot alone: only its shard of the index is rewritten', async () => {
    const root = await tokenRegistry(admins, { genericConsumers: CONSUMERS });
    const first = await rotateToken(ctxFor(root), { ref: 'roobot/hook' });
    expect(first.updated).toEqual(VARS.map(cli));
    const firstValue = await expectRotated(root);

    // The index exists now (the first edit wrote it): a second rotation reads and rewrites only roobot's part.
    const before = await indexFiles(root);
    const shard = await botShard(root);
    await rotateToken(ctxFor(root), { ref: 'roobot/hook' });
    const after = await indexFiles(root);
    expect(Object.keys(after).filter((f) => after[f] !== before[f]).sort()).toEqual([shard, 'head.json'].sort());
    const secondValue = await expectRotated(root);
    expect(secondValue).not.toBe(firstValue);
  });

  it('the vault consumers of one file are one step: one write of the file, one record (start, two steps, finish)', async () => {
    const root = await tokenRegistry(admins, { genericConsumers: CONSUMERS });
    const ctx = ctxFor(root);
    const mutate = ctx.store.mutateMember.bind(ctx.store);
    const files: string[][] = [];
    ctx.store.mutateMember = async (handle, command, fn) => {
      const done = await mutate(handle, command, fn);
      files.push(done.written);
      return done;
    };
    await rotateToken(ctx, { ref: 'roobot/hook' });
    const web = 'inventories/production/group_vars/web/infra.tokens.yml';
    const bots = 'inventories/production/group_vars/bots/infra.tokens.yml';
    expect(files.map((w) => w.filter((f) => f.endsWith('infra.tokens.yml')))).toEqual([[], [bots], [web], []]);
    expect(files.length).toBe(4);
    await expectRotated(root);
  });

  it('a rotation stopped after its first consumer resumes to the same end', async () => {
    const root = await tokenRegistry(admins, { genericConsumers: CONSUMERS });
    await rotateToken(ctxFor(root), { ref: 'roobot/hook' }); // writes the index
    let asked = 0;
    const e = await rejection(rotateToken(ctxFor(root), { ref: 'roobot/hook', cancelled: () => ++asked > 1 }));
    expect(e.exitCode).toBe(130);
    expect((await tokenOf(root, 'hook')).pending.left).toEqual(VARS.slice(1).map(cli));
    const pending = await storedValue(root, admins, 'keys/roobot/tokens/hook.pending.asc');
    expect(await vaultValue(root, 'hook_a')).toBe(pending);
    expect(await vaultValue(root, 'hook_b', 'web').catch(() => undefined)).not.toBe(pending);
    const key = await writeKey(root, 'alice.asc', admins.alice.privateKey);
    const resumed = await rotateToken(ctxFor(root), { ref: 'roobot/hook', resume: true, key });
    expect(resumed.already_done).toEqual([cli('hook_a')]);
    expect(await expectRotated(root)).toBe(pending);
  });
});
