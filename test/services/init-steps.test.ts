/**
 * `infra init` on a terminal (services/init-steps.ts), with a scripted prompter: the answers make the same
 * files as the commands would; blank answers skip; a hostile answer gets the command's own error and the
 * step is asked again; Ctrl-C (exit 130) leaves a valid scaffold, or nothing when it comes at the first prompt.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { addAdmin } from '../../src/services/admins.js';
import { addEnvironment } from '../../src/services/environments.js';
import { addGrant } from '../../src/services/grants.js';
import { addMember } from '../../src/services/members.js';
import { checkRegistry, initRegistry } from '../../src/services/registry.js';
import { ExitCode, InfraError } from '../../src/lib/errors.js';
import type { Prompter } from '../../src/lib/prompter.js';
import { testContext } from '../helpers/context.js';
import { REPO_ROOT, tempDir, treeDigest } from '../helpers/example.js';
import { rejection } from '../helpers/thrown.js';

const PGP = path.join(REPO_ROOT, 'keys/alice/pgp.asc');
type Answer = string | boolean | Error;

/** Answers in order; each prompt's message must match its pattern. A blank input answer takes the prompt's default. */
function scripted(script: Array<[RegExp, Answer]>): Prompter & { asked: string[] } {
  const asked: string[] = [];
  const next = (message: string): Answer => {
    asked.push(message);
    const step = script.shift();
    if (!step) throw new Error(`no answer scripted for "${message}"`);
    if (!step[0].test(message)) throw new Error(`expected a prompt like ${step[0]}, got "${message}"`);
    if (step[1] instanceof Error) throw step[1];
    return step[1];
  };
  return {
    asked,
    input: async ({ message, default: d }) => {
      const a = next(message) as string;
      return a === '' && d !== undefined ? d : a;
    },
    confirm: async ({ message }) => next(message) as boolean,
    password: async () => {
      throw new Error('no password prompt in init');
    },
    checkbox: async () => [],
    select: async () => {
      throw new Error('no select in init');
    },
  };
}

const ALL: Array<[RegExp, Answer]> = [
  [/^Organisation name/, 'Example Meet Co-op'],
  [/^First admin/, 'alice'],
  [/OpenPGP public key/, PGP],
  [/alice's groups/, ''], // the default: infra
  [/^Full name/, 'Alice Moreau'],
  [/^Organisation id/, 'hypha'],
  [/^Email/, 'alice@hypha.example'],
  [/^First environment/, 'lab'],
  [/^Inventory folder of lab/, ''], // the default: inventories/lab
  [/^Hosts of lab/, 'lab1=192.0.2.10 lab2'],
  [/^First grant/, ''], // the default: the admin's groups
  [/^On which hosts/, 'lab1'],
  [/^As which remote user/, 'sysadmin'],
  [/^Only from the VPN/, false],
];

it('the answers make exactly the files the commands make', async () => {
  const prompted = await tempDir('infra-u20a-init-');
  const prompter = scripted([...ALL]);
  const ctx = testContext({ root: prompted, prompter });
  const result = await initRegistry(ctx, { dir: prompted });
  expect(result.setup).toMatchObject({ admin: 'alice', environment: 'lab', grant: 1 });
  expect(result.setup!.next).toContain('infra keys add alice ~/.ssh/id_ed25519.pub');
  expect(ctx.output.stderr).toContain('Next:');

  const byCommands = await tempDir('infra-u20a-init-');
  const plain = testContext({ root: byCommands });
  await initRegistry(plain, { dir: byCommands, org: 'Example Meet Co-op' });
  await addMember(plain, { handle: 'alice', name: 'Alice Moreau', org: 'hypha', email: 'alice@hypha.example', groups: 'infra', pgp: PGP });
  await addAdmin(plain, 'alice');
  await addEnvironment(plain, { name: 'lab', path: 'inventories/lab', hosts: ['lab1=192.0.2.10', 'lab2'] });
  await addGrant(plain, { groups: 'infra', hosts: 'lab1', user: 'sysadmin', vpnOnly: false });
  expect(await treeDigest(prompted)).toBe(await treeDigest(byCommands));
  expect((await checkRegistry(testContext({ root: prompted }))).ok).toBe(true);
});

it('blank answers skip every step: the scaffold alone, as --no-input makes it, and what to run next', async () => {
  const prompted = await tempDir('infra-u20a-init-');
  const ctx = testContext({ root: prompted, prompter: scripted([[/^Organisation name/, 'Co-op'], [/^First admin/, ''], [/^First environment/, ''], [/^First grant/, '']]) });
  const result = await initRegistry(ctx, { dir: prompted });
  expect(result.setup).toEqual({ next: expect.arrayContaining(['infra admins add HANDLE', 'infra grants add --groups infra --hosts all --user sysadmin']) });
  const plain = await tempDir('infra-u20a-init-');
  await initRegistry(testContext({ root: plain }), { dir: plain, org: 'Co-op' });
  expect(await treeDigest(prompted)).toBe(await treeDigest(plain));
});

it('without a prompter (--no-input, --json, no terminal) nothing is asked', async () => {
  const root = await tempDir('infra-u20a-init-');
  const result = await initRegistry(testContext({ root }), { dir: root, org: 'Co-op' });
  expect(result.setup).toBeUndefined();
  const e = await rejection(initRegistry(testContext({ root: await tempDir('infra-u20a-init-') }), {}));
  expect(e.exitCode).toBe(ExitCode.usage);
});

it('hostile answers get the commands’ own errors, and the step is asked again', async () => {
  const root = await tempDir('infra-u20a-init-');
  const prompter = scripted([
    [/^Organisation name/, 'Co-op'],
    [/^First admin/, '../etc'], // not a handle
    [/^First admin/, 'alice'],
    [/OpenPGP public key/, path.join(root, 'no-such.asc')], // no such file
    [/alice's groups/, 'infra'],
    [/^First admin/, 'alice'],
    [/OpenPGP public key/, PGP],
    [/alice's groups/, 'infra,$(reboot)'], // not a group: the third refusal skips the step
    [/^First environment/, 'lab'],
    [/^Inventory folder of lab/, '../outside'],
    [/^Hosts of lab/, ''],
    [/^First environment/, 'lab'],
    [/^Inventory folder of lab/, ''],
    [/^Hosts of lab/, 'lab1;rm'],
    [/^First environment/, 'lab'],
    [/^Inventory folder of lab/, ''],
    [/^Hosts of lab/, 'lab1'],
    [/^First grant/, 'infra'],
    [/^On which hosts/, 'nosuchhost'],
    [/^As which remote user/, 'sysadmin'],
    [/^Only from the VPN/, false],
    [/^First grant/, 'infra'],
    [/^On which hosts/, 'all'],
    [/^As which remote user/, 'root; rm -rf /'],
    [/^Only from the VPN/, false],
    [/^First grant/, 'infra'],
    [/^On which hosts/, 'all'],
    [/^As which remote user/, 'sysadmin'],
    [/^Only from the VPN/, true], // no VPN network yet: refused, and the grant step is skipped after three refusals
  ]);
  const ctx = testContext({ root, prompter });
  const result = await initRegistry(ctx, { dir: root });
  const errors = ctx.output.stderr.split('\n').filter((l) => l.startsWith('infra: '));
  // the same messages the commands give for the same values
  const same = async (p: Promise<unknown>) => `infra: ${(await rejection(p)).message}`;
  const other = await tempDir('infra-u20a-init-');
  const plain = testContext({ root: other });
  await initRegistry(plain, { dir: other, org: 'x' });
  expect(errors).toEqual([
    await same(addMember(plain, { handle: '../etc', pgp: PGP })),
    expect.stringContaining('--pgp'),
    await same(addMember(plain, { handle: 'alice', name: 'A', org: 'hypha', email: 'a@b.example', groups: 'infra,$(reboot)', pgp: PGP })),
    await same(addEnvironment(plain, { name: 'lab', path: '../outside' })),
    await same(addEnvironment(plain, { name: 'lab', path: 'inventories/lab', hosts: ['lab1;rm'] })),
    expect.stringContaining('--hosts "nosuchhost" selects no host'),
    expect.stringContaining('--user: "root; rm -rf /" is not a Unix user name'),
    expect.stringContaining('--vpn-only needs a VPN network'),
  ]);
  expect(ctx.output.stderr).toContain('skipped; later: infra grants add');
  expect(ctx.output.stderr).toContain('skipped; later: infra members add');
  expect(result.setup).toMatchObject({ environment: 'lab' });
  expect(result.setup?.admin).toBeUndefined();
  expect(result.setup?.grant).toBeUndefined();
  expect((await checkRegistry(testContext({ root }))).ok).toBe(true);
  await expect(fs.stat(path.join(root, 'keys/alice'))).rejects.toThrow(); // no half-added member
});

it.each([
  ['at the organisation prompt: nothing is written', [[/^Organisation name/, new InfraError(130, 'cancelled')]], false],
  ['inside members add (the email): the scaffold, no member', [[/^Organisation name/, 'Co-op'], [/^First admin/, 'alice'], [/OpenPGP/, PGP], [/groups/, ''], [/^Full name/, 'A'], [/^Organisation id/, 'hypha'], [/^Email/, new InfraError(130, 'cancelled')]], true],
  ['at the grant: the admin and environment done, valid', [...ALL.slice(0, 11), [/^On which hosts/, new InfraError(130, 'cancelled')]], true],
] as Array<[string, Array<[RegExp, Answer]>, boolean]>)('Ctrl-C %s', async (_name, script, scaffold) => {
  const root = await tempDir('infra-u20a-init-');
  const e = await rejection(initRegistry(testContext({ root, prompter: scripted(script) }), { dir: root }));
  expect(e.exitCode).toBe(130);
  if (!scaffold) {
    expect(await fs.readdir(root)).toEqual([]);
    return;
  }
  const check = await checkRegistry(testContext({ root }));
  expect(check.problems).toEqual([]);
  expect(await fs.readdir(root)).not.toContain('.infra.lock');
});
