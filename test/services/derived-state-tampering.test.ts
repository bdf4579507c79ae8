/**
 * Derived state can never change an answer. One differential table: every kind of tampering (a registry
 * file edited behind the cache's back, member folders swapped, a truncated shard, forged entries planted or
 * committed in the old in-registry `.infra-cache/`, forged derived files in the user's cache folder: unsigned,
 * signed on another machine, signed for another registry path) × every command that reads derived state
 * (check, members list/show, keys list, tokens list, vpn list, audit, render, vpn join), run with derived state
 * on (INFRA_CACHE_MIN_MEMBERS=0) and off (-1). Both runs must print the same bytes and leave the same files as
 * a run on a copy that never had any derived state. A control row (a forgery signed with this user's key for
 * this registry, which only this user's own infra could write) proves the forgeries would change the answers
 * if any placement were trusted.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { derivedStateDir, readDerived, writeDerived } from '../../src/adapters/derived-state.js';
import { checkRegistry } from '../../src/services/registry.js';
import { listKeys } from '../../src/services/keys.js';
import { listMembers, showMember } from '../../src/services/members.js';
import { listTokens } from '../../src/services/tokens.js';
import { joinVpn, listVpn } from '../../src/services/vpn.js';
import { runAudit } from '../../src/services/audit.js';
import { render } from '../../src/services/render.js';
import { testContext } from '../helpers/context.js';
import { copyExample } from '../helpers/example.js';
import { ed25519Line } from '../helpers/registry-fixture.js';

const TODAY = '2026-06-15';
const MALLORY = ed25519Line('mallory', 'mallory@laptop');
const NEW_DEVICE_KEY = 'q6Yj1iE5xCBxJ6H2bp5pT0p7Jq1k3V5uJ2B7lJm0qXk=';
const PEER_SHARDS = 16;

let savedMin: string | undefined;
beforeAll(() => (savedMin = process.env.INFRA_CACHE_MIN_MEMBERS));
afterAll(() => {
  if (savedMin === undefined) delete process.env.INFRA_CACHE_MIN_MEMBERS;
  else process.env.INFRA_CACHE_MIN_MEMBERS = savedMin;
});
const derivedState = (on: boolean) => (process.env.INFRA_CACHE_MIN_MEMBERS = on ? '0' : '-1');

type Run = (root: string) => Promise<unknown>;
const ctx = (root: string) => testContext({ root, today: TODAY, json: true });

/** Every command that reads derived state, in the order a session would run them (the writing ones last). */
const COMMANDS: Array<[string, Run]> = [
  ['check', (root) => checkRegistry(ctx(root))],
  ['members list', (root) => listMembers(ctx(root))],
  ['members show frank', (root) => showMember(ctx(root), 'frank')],
  ['members show erin', (root) => showMember(ctx(root), 'erin')],
  ['keys list', (root) => listKeys(ctx(root))],
  ['tokens list', (root) => listTokens(ctx(root))],
  ['vpn list', (root) => listVpn(ctx(root))],
  ['audit', (root) => runAudit(ctx(root), { asOf: TODAY, format: 'json' })],
  ['render', (root) => render(ctx(root), {})],
  ['render again', (root) => render(ctx(root), {})],
  ['vpn join', (root) => joinVpn(ctx(root), { handle: 'dana', device: 'tablet', publicKey: NEW_DEVICE_KEY })],
];

/** What each command answered (or the error it stopped with), with the registry's path taken out. */
async function answers(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, run] of COMMANDS) {
    let text: string;
    try {
      text = JSON.stringify(await run(root));
    } catch (e) {
      const err = e as { exitCode?: number; message?: string };
      text = `error ${err.exitCode}: ${err.message}`;
    }
    out[name] = text.split(root).join('<root>');
  }
  return out;
}

/**
 * Every file of the registry: relative path -> sha256 of its bytes. Git's own folder aside, and the old
 * .infra-cache/ (its forged entries name each copy's own file stats), which `run` proves untouched instead.
 */
async function tree(root: string, under = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const e of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (!under && (r === '.git' || r === '.infra-cache')) continue;
      if (e.isDirectory()) await walk(r);
      else out[r] = createHash('sha256').update(await fs.readFile(path.join(root, r))).digest('hex');
    }
  };
  await walk(under);
  return out;
}

/** The commands' answers and the files they leave; the old .infra-cache/ (when any) neither read nor written. */
async function run(root: string): Promise<{ answers: Record<string, string>; files: Record<string, string> }> {
  const legacy = await fs.access(path.join(root, '.infra-cache')).then(() => true, () => false);
  const before = legacy ? await tree(root, '.infra-cache') : undefined;
  const result = { answers: await answers(root), files: await tree(root) };
  if (before) expect(await tree(root, '.infra-cache')).toEqual(before);
  return result;
}

/** A registry used once with derived state on: member cache, peer index and render stamp all written. */
async function warmed(): Promise<string> {
  const root = await copyExample();
  derivedState(true);
  await checkRegistry(ctx(root));
  await render(ctx(root), {});
  await render(ctx(root), {}); // found nothing to do: records the stamp
  await joinVpn(ctx(root), { handle: 'carol', device: 'spare', publicKey: 'W2n2XUKn7N0z4Dk3aDk7a3cZbqE0v7xGcq8k8WcQv1Y=' }).catch(() => undefined);
  await joinVpn(ctx(root), { handle: 'bob', device: 'phone2', publicKey: 'm7WcN3Qy8y1GqkP0vXj8c6rS5t2u9w0z1a2b3c4d5e8=' }).catch(() => undefined);
  await checkRegistry(ctx(root)); // the member cache describes the files as they are now
  return root;
}

interface Forged {
  name: string;
  body: string;
}

/**
 * Forgeries of the registry's current derived state, each of which would grant something if trusted: frank
 * in the infra group with mallory's key (render would give mallory sysadmin everywhere), erin's 2048-bit RSA
 * key claimed as 4096 bits (check and audit would pass it), frank's VPN addresses missing from the peer index
 * with the head's digest recomputed (vpn join would hand out his address).
 */
async function forgeries(root: string): Promise<Forged[]> {
  const members = JSON.parse((await readDerived(root, 'members.json'))!);
  const frank = members.members.frank.member;
  frank.groups = ['infra'];
  frank.ssh_keys.push({ name: 'mallory', key: MALLORY, added: '2026-06-01' });
  delete members.members.frank.keys;
  members.members.frank.facts.addresses = [[]]; // his laptop's addresses look free to vpn join's allocation
  members.members.erin.keys[0][1] = 4096;
  delete members.crossChecked;
  const out: Forged[] = [{ name: 'members.json', body: JSON.stringify(members) }];
  const head = JSON.parse((await readDerived(root, 'peers/head.json'))!);
  for (let i = 0; i < PEER_SHARDS; i++) {
    const name = `peers/${String(i).padStart(2, '0')}.json`;
    const shard = JSON.parse((await readDerived(root, name))!);
    if (shard.members.frank) {
      shard.members.frank.addresses = {};
      const body = JSON.stringify(shard);
      head.shards[i] = createHash('sha256').update(body).digest('hex');
      out.push({ name, body });
    }
  }
  out.push({ name: 'peers/head.json', body: JSON.stringify(head) });
  out.push({ name: 'render.json', body: (await readDerived(root, 'render.json')) ?? '{}' });
  return out;
}

async function writeRaw(dir: string, files: Forged[]): Promise<void> {
  for (const f of files) {
    await fs.mkdir(path.dirname(path.join(dir, f.name)), { recursive: true });
    await fs.writeFile(path.join(dir, f.name), f.body);
  }
}

/** Derived files as infra writes them, but for `signedFor` (another registry path) and/or under another user's cache folder. */
async function signedElsewhere(root: string, files: Forged[], opts: { otherMachine?: boolean; otherPath?: boolean }): Promise<void> {
  const signedFor = opts.otherPath ? await fs.mkdtemp(path.join(os.tmpdir(), 'infra-other-registry-')) : root;
  const saved = process.env.XDG_CACHE_HOME;
  if (opts.otherMachine) process.env.XDG_CACHE_HOME = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-other-machine-cache-'));
  try {
    for (const f of files) await writeDerived(signedFor, f.name, f.body);
    const from = (await derivedStateDir(signedFor))!;
    process.env.XDG_CACHE_HOME = saved;
    const to = (await derivedStateDir(root))!;
    if (from !== to) await fs.cp(from, to, { recursive: true, force: true });
  } finally {
    process.env.XDG_CACHE_HOME = saved;
  }
}

const git = (root: string, ...args: string[]) =>
  execFileSync('git', ['-C', root, '-c', 'user.name=t', '-c', 'user.email=t@example.org', '-c', 'commit.gpgsign=false', ...args], { stdio: 'pipe', timeout: 30_000 });

/** [what, the tampering, whether the answers must differ (the control row)] */
const TAMPERING: Array<[string, (root: string) => Promise<void>, boolean]> = [
  [
    'a same-size edit of a member file with its times put back',
    async (root) => {
      const file = path.join(root, 'keys/frank/member.yml');
      const st = await fs.stat(file);
      const text = await fs.readFile(file, 'utf8');
      const edited = text.replace('groups: [meet-tech]', 'groups: [infra    ]');
      expect(edited.length).toBe(text.length);
      await fs.writeFile(file, edited);
      await fs.utimes(file, st.atime, st.mtime);
    },
    false,
  ],
  [
    'two member folders swapped',
    async (root) => {
      await fs.rename(path.join(root, 'keys/erin'), path.join(root, 'keys/erin.tmp'));
      await fs.rename(path.join(root, 'keys/frank'), path.join(root, 'keys/erin'));
      await fs.rename(path.join(root, 'keys/erin.tmp'), path.join(root, 'keys/frank'));
    },
    false,
  ],
  [
    'a truncated peer index shard',
    async (root) => {
      for (const f of await forgeries(root)) {
        if (!/^peers\/\d+\.json$/.test(f.name)) continue;
        const file = path.join((await derivedStateDir(root))!, f.name);
        const text = await fs.readFile(file, 'utf8');
        await fs.writeFile(file, text.slice(0, Math.floor(text.length / 2)));
      }
    },
    false,
  ],
  ['forged entries planted in the old .infra-cache/', async (root) => writeRaw(path.join(root, '.infra-cache'), await forgeries(root)), false],
  [
    'forged entries committed with `git add -f` in the old .infra-cache/',
    async (root) => {
      await writeRaw(path.join(root, '.infra-cache'), await forgeries(root));
      git(root, 'init', '-q');
      git(root, 'add', '-A');
      git(root, 'add', '-f', '.infra-cache');
      git(root, 'commit', '-qm', 'registry with a cache');
    },
    false,
  ],
  ['forged derived files in the cache folder, unsigned', async (root) => writeRaw((await derivedStateDir(root))!, await forgeries(root)), false],
  ['forged derived files signed on another machine (another key)', async (root) => signedElsewhere(root, await forgeries(root), { otherMachine: true }), false],
  ['derived files copied from another registry path', async (root) => signedElsewhere(root, await forgeries(root), { otherPath: true }), false],
  ['control: the forgeries signed with this user\'s key for this registry', async (root) => signedElsewhere(root, await forgeries(root), {}), true],
];

describe('derived state against tampering: the same bytes with it, without it, and with none ever kept', () => {
  // Each row is about 50 service calls over three registries: on a machine shared with other work that took more
  // than jest's default minute of wall time (a timeout, not a failure of what the row proves), so rows get three.
  it.each(TAMPERING)('%s', async (_what, tamper, control) => {
    const [on, off, none] = [await warmed(), await warmed(), await warmed()];
    for (const root of [on, off, none]) await tamper(root);
    await fs.rm((await derivedStateDir(none))!, { recursive: true, force: true }); // never any derived state

    derivedState(false);
    const truth = await run(none);
    const withoutIt = await run(off);
    derivedState(true);
    const withIt = await run(on);

    // -1 means never read: even a forgery signed with this user's key changes nothing
    expect(withoutIt).toEqual(truth);
    if (control) {
      // the forgeries, if trusted, change what check passes and what render grants (vpn join re-checks its
      // choice against the rendered server peer lists, which hold frank's address, so it stays right)
      for (const name of ['check', 'render']) expect(withIt.answers[name]).not.toBe(truth.answers[name]);
      expect(withIt.files).not.toEqual(truth.files);
    } else expect(withIt).toEqual(truth);
  }, 180_000);

  it('check and audit say an old in-registry .infra-cache/ is never read and can be deleted (committed: git rm)', async () => {
    const root = await warmed();
    await writeRaw(path.join(root, '.infra-cache'), await forgeries(root));
    expect((await checkRegistry(ctx(root))).notes).toEqual([expect.stringMatching(/^\.infra-cache\/ is left from an older infra and is never read .*`rm -rf \.infra-cache`$/)]);
    git(root, 'init', '-q');
    git(root, 'add', '-f', '.infra-cache');
    expect((await runAudit(ctx(root), { asOf: TODAY, format: 'json' })).notes).toEqual([expect.stringMatching(/is committed to git: infra never reads it .*`git rm -r --cached \.infra-cache && rm -rf \.infra-cache`/)]);
  });
});
