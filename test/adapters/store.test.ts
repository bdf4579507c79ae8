import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { findRoot } from '../../src/adapters/registry-root.js';
import { inspectRegistry, loadRegistry } from '../../src/adapters/registry-load.js';
import { LOCK_FILE, withLock } from '../../src/adapters/registry-lock.js';
import { mutateRegistry } from '../../src/adapters/transaction.js';
import { writeFileAtomic } from '../../src/adapters/atomic-write.js';
import { InfraError } from '../../src/lib/errors.js';
import { copyExample, tempDir, treeDigest } from '../helpers/example.js';
import { ed25519Line } from '../helpers/keys.js';

describe('findRoot', () => {
  it('prefers --dir, then INFRA_DIR, then the nearest infra.yml upward', async () => {
    const a = await copyExample();
    const b = await copyExample();
    const deep = path.join(a, 'keys', 'alice');
    expect(await findRoot({ dir: b, env: { INFRA_DIR: a }, cwd: deep })).toBe(b);
    expect(await findRoot({ env: { INFRA_DIR: b }, cwd: deep })).toBe(b);
    expect(await findRoot({ env: {}, cwd: deep })).toBe(a);
  });

  it('names what it searched and suggests infra init or --dir (exit 3)', async () => {
    const empty = await tempDir();
    const err = await findRoot({ env: {}, cwd: empty }).catch((e) => e);
    expect(err).toBeInstanceOf(InfraError);
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain(empty);
    expect(err.hint).toMatch(/infra init.*--dir/);
    const viaDir = await findRoot({ dir: empty, env: {} }).catch((e) => e);
    expect(viaDir.message).toContain('--dir');
  });
});

describe('loading and validation', () => {
  it('loads the example registry with every member', async () => {
    const { registry } = await loadRegistry(await copyExample());
    expect(registry.members.map((m) => m.handle)).toEqual(['alice', 'bob', 'carol', 'dana', 'erin', 'frank', 'roobot']);
    expect(registry.members.find((m) => m.handle === 'alice')!.has_pgp).toBe(true);
  });

  it('reports every problem at once, each with file, line and field', async () => {
    const dir = await copyExample();
    await fs.writeFile(path.join(dir, 'keys/bob/member.yml'), 'name: Bob\nkind: human\norg: webarchitects\nstatus: active\ncolour: blue\n');
    await fs.writeFile(path.join(dir, 'keys/dana/member.yml'), 'name: Dana\nkind: human\nkind: bot\n');
    await fs.writeFile(path.join(dir, 'keys/erin/member.yml'), '');
    await fs.mkdir(path.join(dir, 'keys/Alice'));
    await fs.writeFile(path.join(dir, 'keys/Alice/member.yml'), 'name: A\nkind: human\norg: x\nstatus: active\n');
    const { problems } = await inspectRegistry(dir);
    const find = (file: string, field: string) => problems.find((p) => p.file === file && p.field === field);
    expect(find('keys/bob/member.yml', 'colour')).toMatchObject({ line: 5, message: expect.stringContaining('unknown field') });
    expect(find('keys/dana/member.yml', '(yaml)')).toMatchObject({ line: 3, message: expect.stringContaining('Map keys must be unique') });
    expect(find('keys/erin/member.yml', '(document)')?.message).toContain('empty');
    expect(find('keys/Alice/member.yml', '(document)')?.message).toContain('not a valid handle');
  });

  it('refuses one key under two principals, naming both', async () => {
    const dir = await copyExample();
    const alice = await fs.readFile(path.join(dir, 'keys/alice/member.yml'), 'utf8');
    const aliceKey = /key: (ssh-ed25519 \S+)/.exec(alice)![1];
    const frank = path.join(dir, 'keys/frank/member.yml');
    await fs.writeFile(frank, (await fs.readFile(frank, 'utf8')).replace(/key: \S+ \S+/, `key: ${aliceKey} stolen`));
    const { problems } = await inspectRegistry(dir);
    expect(problems).toEqual([expect.objectContaining({ file: 'keys/frank/member.yml', field: 'ssh_keys[0].key', message: expect.stringContaining('alice/') })]);
  });
});

describe('editing', () => {
  it('keeps comments and order when appending a key', async () => {
    const dir = await copyExample();
    const file = path.join(dir, 'keys/carol/member.yml');
    const before = await fs.readFile(file, 'utf8');
    const line = ed25519Line('carol@phone');
    await mutateRegistry(dir, 'test', (tx) => tx.editMember('carol').append(['ssh_keys'], { name: 'phone', key: line, added: '2026-11-22' }));
    const after = await fs.readFile(file, 'utf8');
    expect(after.startsWith(before.slice(0, before.indexOf('vpn_peers:')))).toBe(true); // header comments and earlier fields untouched
    expect(after).toContain(`  - name: phone\n    key: ${line}\n    added: 2026-11-22\n`);
    expect(after.indexOf('name: phone')).toBeLessThan(after.indexOf('vpn_peers:'));
  });

  it('writes nothing when the result would not validate', async () => {
    const dir = await copyExample();
    const digest = await treeDigest(dir);
    const err = await mutateRegistry(dir, 'test', (tx) => tx.editMember('carol').append(['ssh_keys'], { name: 'bad name', key: 'ssh-ed25519 AAAA', added: 'soon' })).catch((e) => e);
    expect(err.exitCode).toBe(3);
    expect(err.problems.map((p: { field: string }) => p.field).sort()).toEqual(['ssh_keys[1].added', 'ssh_keys[1].key', 'ssh_keys[1].name']);
    expect(await treeDigest(dir)).toBe(digest);
  });

  it('refuses to write over a file changed on disk since it was read', async () => {
    const dir = await copyExample();
    const file = path.join(dir, 'keys/carol/member.yml');
    const err = await mutateRegistry(dir, 'test', async (tx) => {
      tx.editMember('carol').append(['ssh_keys'], { name: 'phone', key: ed25519Line(), added: '2026-11-22' });
      await fs.appendFile(file, '# someone else edited this\n');
    }).catch((e) => e);
    expect(err.message).toContain('changed on disk');
    expect(await fs.readFile(file, 'utf8')).toMatch(/# someone else edited this\n$/);
  });

  it('writes atomically and keeps the mode of an existing file', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'secret.conf');
    await fs.writeFile(file, 'old', { mode: 0o600 });
    await writeFileAtomic(file, 'new');
    expect(await fs.readFile(file, 'utf8')).toBe('new');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect((await fs.readdir(dir)).sort()).toEqual(['secret.conf']);
  });
});

describe('lock', () => {
  it('reports a lock held by a live process, with the fix', async () => {
    const dir = await copyExample();
    const holder = spawn('sleep', ['30']);
    try {
      await fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: holder.pid, host: (await import('node:os')).hostname(), command: 'keys add', started: '2026-11-22T10:00:00Z' }));
      const digest = await treeDigest(dir);
      const err = await withLock(dir, 'test', async () => 'ran', 100).catch((e) => e);
      expect(err).toBeInstanceOf(InfraError);
      expect(err.message).toContain(`locked by process ${holder.pid}`);
      expect(err.message).toContain('infra keys add');
      expect(err.hint).toContain(`rm ${path.join(dir, LOCK_FILE)}`);
      expect(await treeDigest(dir)).toBe(digest);
    } finally {
      holder.kill();
    }
  });

  it('takes over a lock left by a process that is gone', async () => {
    const dir = await copyExample();
    const gone = spawn('true');
    await new Promise((r) => gone.on('exit', r));
    await fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: gone.pid, host: (await import('node:os')).hostname(), command: 'x', started: 'then' }));
    expect(await withLock(dir, 'test', async () => 'ran', 100)).toBe('ran');
    await expect(fs.access(path.join(dir, LOCK_FILE))).rejects.toThrow();
  });

  it('two processes finding the same dead lock never both hold it', async () => {
    const dir = await copyExample();
    const gone = spawn('true');
    await new Promise((r) => gone.on('exit', r));
    await fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify({ pid: gone.pid, host: (await import('node:os')).hostname(), command: 'x', started: 'then' }));
    const refusals = watchLockRefusals(path.join(dir, LOCK_FILE));
    try {
      let inside = 0;
      let overlapped = false;
      let finished = 0;
      const critical = async () => {
        inside++;
        if (inside > 1) overlapped = true;
        // Stay inside until each writer still waiting has been turned away at least once more.
        await refusals.atLeast(refusals.count() + (3 - finished - 1));
        inside--;
        finished++;
      };
      await Promise.all([withLock(dir, 'a', critical, 5000), withLock(dir, 'b', critical, 5000), withLock(dir, 'c', critical, 5000)]);
      expect(overlapped).toBe(false);
      expect((await fs.readdir(dir)).filter((f) => f.startsWith(LOCK_FILE))).toEqual([]);
    } finally {
      refusals.stop();
    }
  });

  it('serialises writers: the second waits and sees the first one\'s edit', async () => {
    const dir = await copyExample();
    const refusals = watchLockRefusals(path.join(dir, LOCK_FILE));
    try {
      const order: string[] = [];
      const firstHolds = signal();
      const firstMayFinish = signal();
      const first = mutateRegistry(dir, 'a', async (tx) => {
        order.push('a-start');
        firstHolds.fire();
        await firstMayFinish.fired;
        tx.editMember('frank').append(['ssh_keys'], { name: 'one', key: ed25519Line(), added: '2026-11-22' });
        order.push('a-end');
      });
      await firstHolds.fired;
      const second = mutateRegistry(dir, 'b', (tx) => {
        order.push('b-start');
        expect(tx.registry.members.find((m) => m.handle === 'frank')!.ssh_keys.map((k) => k.name)).toContain('one');
        tx.editMember('frank').append(['ssh_keys'], { name: 'two', key: ed25519Line(), added: '2026-11-22' });
      });
      // The second writer found the lock taken (and is waiting), or got in while the first held it: a failure.
      await Promise.race([
        refusals.atLeast(1),
        second.then(() => {
          throw new Error(`the second writer ran while the first held the lock: ${order.join(', ')}`);
        }),
      ]);
      firstMayFinish.fire();
      await Promise.all([first, second]);
      expect(order).toEqual(['a-start', 'a-end', 'b-start']);
      const { registry } = await loadRegistry(dir);
      expect(registry.members.find((m) => m.handle === 'frank')!.ssh_keys.map((k) => k.name)).toEqual(expect.arrayContaining(['one', 'two']));
    } finally {
      refusals.stop();
    }
  });
});

/** A one-shot event to order steps across concurrent writers, instead of sleeping. */
function signal(): { fire: () => void; fired: Promise<void> } {
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => (fire = resolve));
  return { fire, fired };
}

/**
 * Counts the times a writer tried to put the lock file in place and found it taken (the hard link of its
 * filled-in temporary file failing with EEXIST), by wrapping fs.promises.link, which the store's lock uses.
 * `atLeast(n)` resolves once the count reaches n. (A lock with its own "waiting" callback would make this wrapper unnecessary.)
 */
function watchLockRefusals(lockPath: string): { count: () => number; atLeast: (n: number) => Promise<void>; stop: () => void } {
  const original = fs.link;
  let refused = 0;
  const waiting: Array<{ n: number; resolve: () => void }> = [];
  const wake = () => {
    for (const w of waiting.filter((w) => refused >= w.n)) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  };
  (fs as { link: typeof fs.link }).link = (async (...args: Parameters<typeof fs.link>) => {
    try {
      return await original(...args);
    } catch (e) {
      if (String(args[1]) === lockPath && (e as NodeJS.ErrnoException).code === 'EEXIST') {
        refused++;
        wake();
      }
      throw e;
    }
  }) as typeof fs.link;
  return {
    count: () => refused,
    atLeast: (n) => (refused >= n ? Promise.resolve() : new Promise((resolve) => waiting.push({ n, resolve }))),
    stop: () => {
      (fs as { link: typeof fs.link }).link = original;
    },
  };
}
