/** Edits on a registry whose files are each valid but disagree: allowed when they add no problem. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { mutateRegistry } from '../../src/adapters/transaction.js';
import { copyExample, treeDigest } from '../helpers/example.js';
import { ed25519Line } from '../helpers/keys.js';
import { rejection } from '../helpers/thrown.js';

/** frank also lists alice's laptop key: every file is valid, the registry is not (one key, one principal). */
async function duplicated(): Promise<{ dir: string; laptop: string }> {
  const dir = await copyExample();
  const laptop = /key: (ssh-ed25519 \S+)/.exec(await fs.readFile(path.join(dir, 'keys/alice/member.yml'), 'utf8'))![1];
  const file = path.join(dir, 'keys/frank/member.yml');
  const text = await fs.readFile(file, 'utf8');
  await fs.writeFile(file, text.replace(/ssh_keys:\n/, `ssh_keys:\n  - name: copy\n    key: ${laptop}\n    added: 2026-06-01\n`));
  return { dir, laptop };
}

it('an unrelated edit goes through and keeps the existing problem', async () => {
  const { dir } = await duplicated();
  const { written } = await mutateRegistry(dir, 'test', (tx) => tx.editMember('bob').append(['ssh_keys'], { name: 'spare', key: ed25519Line(), added: '2026-11-29' }));
  expect(written).toEqual(['keys/bob/member.yml']);
});

it('an edit that adds a problem is refused, and nothing is written', async () => {
  const { dir, laptop } = await duplicated();
  const digest = await treeDigest(dir);
  const e = await rejection(mutateRegistry(dir, 'test', (tx) => tx.editMember('bob').append(['ssh_keys'], { name: 'third', key: laptop, added: '2026-11-29' })));
  expect(e.exitCode).toBe(3);
  expect(e.message).toContain('keys/bob/member.yml');
  expect(await treeDigest(dir)).toBe(digest);
});

it('a registry with a file that does not validate on its own is still refused', async () => {
  const dir = await copyExample();
  await fs.writeFile(path.join(dir, 'keys/frank/member.yml'), 'name: [unclosed\n');
  const e = await rejection(mutateRegistry(dir, 'test', (tx) => tx.editMember('bob').set(['email'], 'b@x.example')));
  expect(e.message).toContain('keys/frank/member.yml');
});
