/**
 * Arguments in the wrong order are said back corrected (docs/reference.md "Arguments in the wrong order"):
 * swapped handle and key name, swapped FILE and HANDLE, over copies of the example registry. Nothing is
 * written, the exit code stays what it was, and the hint is the corrected command.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { addKeys, removeKey } from '../../src/services/keys.js';
import { command, shellWord } from '../../src/services/argument-order.js';
import { testContext } from '../helpers/context.js';
import { copyExample, treeDigest } from '../helpers/example.js';
import { ed25519Line } from '../helpers/keys.js';
import { rejection } from '../helpers/thrown.js';

it('keys remove KEY HANDLE names the order, not a missing member, and writes nothing', async () => {
  const root = await copyExample();
  const before = await treeDigest(root);
  const e = await rejection(removeKey(testContext({ root }), 'laptop', 'alice'));
  expect(e.exitCode).toBe(3);
  expect(e.message).toBe('"laptop" is not a member but "alice" is: the arguments are in the wrong order');
  expect(e.hint).toBe('infra keys remove alice laptop');
  expect(await treeDigest(root)).toBe(before);
});

it('keys remove FINGERPRINT HANDLE (an invalid handle) is said back too', async () => {
  const root = await copyExample();
  const e = await rejection(removeKey(testContext({ root }), 'SHA256:abc+/def', 'bob'));
  expect([e.exitCode, e.hint]).toEqual([3, 'infra keys remove bob SHA256:abc+/def']);
});

it('keys add FILE HANDLE is said back as keys add HANDLE FILE with the same flags, quoted for a shell', async () => {
  const root = await copyExample();
  const file = path.join(root, "gina's key.pub");
  await fs.writeFile(file, `${ed25519Line('x@y')}\n`);
  const before = await treeDigest(root);
  const e = await rejection(addKeys(testContext({ root, today: '2026-11-29' }), { handle: file, file: 'alice', name: 'desk', expires: '2027-01-01' }));
  expect(e.exitCode).toBe(3);
  expect(e.hint).toBe(`infra keys add alice '${root}/gina'\\''s key.pub' --name desk --expires 2027-01-01`);
  const plain = await rejection(addKeys(testContext({ root }), { handle: 'id.pub', file: 'carol' }));
  expect(plain.hint).toBe('infra keys add carol id.pub');
  expect(await treeDigest(root)).toBe(before);
});

it('a real missing member still gets the usual error when no other argument is a member', async () => {
  const root = await copyExample();
  const e = await rejection(removeKey(testContext({ root }), 'gina', 'laptop'));
  expect(e.message).toMatch(/^no member "gina"/);
  const bad = await rejection(addKeys(testContext({ root }), { handle: 'Gina', file: 'nosuch' }));
  expect(bad.message).toMatch(/handle "Gina" is not valid/);
});

it('an error that is not about the order is left alone: the handle is a member', async () => {
  const root = await copyExample();
  const e = await rejection(removeKey(testContext({ root }), 'alice', 'bob'));
  expect(e.message).toMatch(/alice has no key named or fingerprinted "bob"/);
});

it('hostile words are never said back: escapes and newlines fall back to the usual error', async () => {
  const root = await copyExample();
  const e = await rejection(removeKey(testContext({ root }), 'laptop\x1b[2J', 'alice'));
  expect(e.message).not.toMatch(/wrong order/);
  expect(e.message).not.toContain('\x1b');
  const n = await rejection(addKeys(testContext({ root }), { handle: 'a\nb', file: 'alice' }));
  expect(n.hint ?? '').not.toContain('\n');
  expect(n.message).not.toMatch(/wrong order/);
});

it.each([
  ['plain', 'plain'],
  ['a b', "'a b'"],
  ["it's", `'it'\\''s'`],
  ['$(rm -rf ~)', "'$(rm -rf ~)'"],
  ['', undefined],
  ['tab\there', undefined],
])('shellWord(%j) is %j', (word, quoted) => {
  expect(shellWord(word)).toBe(quoted);
});

it('command() gives up when a word cannot be said back', () => {
  expect(command(['keys', 'add', 'a\x07'])).toBeUndefined();
  expect(command(['keys', false, 'x', undefined])).toBe('infra keys x');
});
