/**
 * renderSession with several writes under way at once (infra render uses WRITES_AT_ONCE): never more than
 * that many, none started after a failure, and the error waits for the ones under way so that it lists
 * every change that was made. The writer here finishes each write only when the test says so.
 */
import path from 'node:path';
import { renderSession, type RenderWriter } from '../../src/adapters/render-files.js';
import { InfraError } from '../../src/lib/errors.js';

const ROOT = path.resolve('/registry');
const rels = ['a', 'b', 'c', 'd', 'e', 'f'].map((h) => `inventories/production/host_vars/${h}/infra.generated.yml`);
const [A, B, C, D] = rels;

/** A writer whose writes stay under way until settled by hand. */
function heldWriter() {
  const started: string[] = [];
  const held = new Map<string, { resolve: () => void; reject: (e: unknown) => void }>();
  let underWay = 0;
  let most = 0;
  const writer: RenderWriter = {
    write: (file) =>
      new Promise<void>((resolve, reject) => {
        const rel = path.relative(ROOT, file).split(path.sep).join('/');
        started.push(rel);
        most = Math.max(most, ++underWay);
        held.set(rel, {
          resolve: () => (underWay--, resolve()),
          reject: (e) => (underWay--, reject(e)),
        });
      }),
    remove: async () => undefined,
  };
  return { writer, started, held, most: () => most };
}

/** Let every promise that can settle, settle (no timers involved). */
const settled = () => new Promise((resolve) => setImmediate(resolve));

it('keeps at most `parallel` writes under way, starting the next as one finishes', async () => {
  const { writer, started, held, most } = heldWriter();
  const session = renderSession(ROOT, rels.length, writer, 3);
  const all = (async () => {
    for (const rel of rels) await session.write(rel, 'x\n');
    await session.finish();
  })();
  await settled();
  expect(started).toEqual(rels.slice(0, 3));
  held.get(B)!.resolve();
  await settled();
  expect(started).toEqual(rels.slice(0, 4));
  for (const rel of rels.slice(0, 4)) if (rel !== B) held.get(rel)!.resolve();
  await settled();
  expect(started).toEqual(rels);
  for (const rel of rels.slice(4)) held.get(rel)!.resolve();
  await all;
  expect(most()).toBe(3);
});

it('after a failure starts nothing more, and names every change made, including those finished after it', async () => {
  const { writer, started, held } = heldWriter();
  const session = renderSession(ROOT, rels.length, writer, 3);
  const all = (async () => {
    for (const rel of rels) await session.write(rel, 'x\n');
    await session.finish();
  })().then(
    () => undefined,
    (e: unknown) => e,
  );
  await settled();
  held.get(B)!.resolve(); // b done; d starts
  await settled();
  held.get(A)!.reject(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
  await settled();
  held.get(D)!.resolve(); // finished after the failure: still listed
  held.get(C)!.resolve();
  const error = await all;
  expect(started).toEqual([A, B, C, D]);
  expect(error).toBeInstanceOf(InfraError);
  const infra = error as InfraError;
  expect(infra.exitCode).toBe(3);
  expect(infra.message).toMatch(new RegExp(`^could not write ${A} \\(ENOSPC: no space left on device\\); 3 of 6 changes were made before it`));
  expect(infra.problems.map((p) => p.file)).toEqual([A, B, D, C]);
});

it('one at a time (parallel 1): write() returns only once its file is written', async () => {
  const { writer, started, held } = heldWriter();
  const session = renderSession(ROOT, 2, writer);
  let returned = false;
  const first = session.write(A, 'x\n').then(() => (returned = true));
  await settled();
  expect([started, returned]).toEqual([[A], false]);
  held.get(A)!.resolve();
  await first;
  expect(returned).toBe(true);
});
