/** Who the vault password and a CA key are encrypted to, commit by commit: a real git repo, real OpenPGP messages. */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { secretReaderChanges } from '../../src/adapters/secret-history.js';
import { makeAdmin, type TestAdmin } from '../helpers/pgp-keys.js';

function git(dir: string, args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.org', '-c', 'commit.gpgsign=false', '-C', dir, ...args], { encoding: 'utf8', timeout: 30_000 });
}

async function encryptTo(admins: TestAdmin[]): Promise<string> {
  const encryptionKeys = await Promise.all(admins.map((a) => openpgp.readKey({ armoredKey: a.publicKey })));
  return (await openpgp.encrypt({ message: await openpgp.createMessage({ text: 'secret' }), encryptionKeys })) as string;
}

async function write(root: string, rel: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await fs.writeFile(path.join(root, rel), text);
}

function commit(root: string, message: string): void {
  git(root, ['add', '-A']);
  git(root, ['commit', '-q', '-m', message]);
}

describe('secretReaderChanges', () => {
  let root: string;
  let alice: TestAdmin;
  let bob: TestAdmin;
  let carol: TestAdmin;

  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([makeAdmin('alice'), makeAdmin('bob'), makeAdmin('carol')]);
  });

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-rd-secret-history-'));
    git(root, ['init', '-q', '-b', 'main']);
    await write(root, 'infra.yml', 'admins: [alice, bob]\n');
    await write(root, 'keys/alice/pgp.asc', alice.publicKey);
    await write(root, 'keys/bob/pgp.asc', bob.publicKey);
    await write(root, 'vault/password.asc', await encryptTo([alice, bob]));
    await write(root, 'ca/ssh_ca.asc', await encryptTo([alice]));
    await write(root, 'ca/host_ca.asc', await encryptTo([alice, bob]));
    commit(root, 'start');
  });

  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('names who no longer reads the vault password and who now reads a CA key; an untouched file says nothing', async () => {
    const start = git(root, ['rev-parse', 'HEAD']).trim();
    await write(root, 'vault/password.asc', await encryptTo([alice]));
    commit(root, 'vault to alice only');
    await write(root, 'ca/ssh_ca.asc', await encryptTo([alice, bob]));
    commit(root, 'ssh ca to alice and bob');
    const changes = await secretReaderChanges(root, start);
    expect(changes.map((c) => [c.kind, c.subject, c.detail])).toEqual([
      ['readers-changed', 'vault/password.asc', 'no longer recorded as readable by bob'],
      ['readers-changed', 'ca/ssh_ca.asc', 'readable by bob too'],
    ]);
  });

  it('a re-encryption to the same readers is no change', async () => {
    const start = git(root, ['rev-parse', 'HEAD']).trim();
    await write(root, 'ca/host_ca.asc', await encryptTo([bob, alice]));
    commit(root, 'same readers, new ciphertext');
    expect(await secretReaderChanges(root, start)).toEqual([]);
  });

  it('a key nobody in the registry holds is named by its key id', async () => {
    const start = git(root, ['rev-parse', 'HEAD']).trim();
    await write(root, 'vault/password.asc', await encryptTo([alice, bob, carol]));
    commit(root, 'vault also to an unknown key');
    const [change] = await secretReaderChanges(root, start);
    const carolId = (await openpgp.readKey({ armoredKey: carol.publicKey })).subkeys[0].getKeyID().toHex().toUpperCase();
    expect(change.detail).toBe(`readable by key ${carolId} too`);
  });

  it('a file that is not an OpenPGP message claims no change of readers', async () => {
    const start = git(root, ['rev-parse', 'HEAD']).trim();
    await write(root, 'vault/password.asc', 'not a message\n');
    commit(root, 'broken vault file');
    expect(await secretReaderChanges(root, start)).toEqual([]);
  });
});
