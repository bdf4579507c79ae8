/** `keys add --expires` with a date that is not after today is refused: sshd would never accept the key. */
import { addKeys } from '../../src/services/keys.js';
import { testContext } from '../helpers/context.js';
import { copyExample, treeDigest } from '../helpers/example.js';
import { ed25519Line } from '../helpers/keys.js';
import { rejection } from '../helpers/thrown.js';

describe('keys add --expires in the past (docs/reference.md "infra keys add")', () => {
  it.each(['2026-11-28', '2026-11-29'])('--expires %s (today 2026-11-29) is refused with exit 3 and nothing is written', async (expires) => {
    const root = await copyExample();
    const before = await treeDigest(root);
    const ctx = testContext({ root, today: '2026-11-29', stdin: `${ed25519Line('alice@desk')}\n` });
    const e = await rejection(addKeys(ctx, { handle: 'alice', file: '-', name: 'desk', expires }));
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain(`--expires ${expires} is not after today (2026-11-29)`);
    expect(e.hint).toBe('give a later date, or leave --expires out: infra keys add alice - --name desk');
    expect(await treeDigest(root)).toBe(before);
  });

  it('tomorrow is accepted', async () => {
    const root = await copyExample();
    const ctx = testContext({ root, today: '2026-11-29', stdin: `${ed25519Line('alice@desk')}\n` });
    const r = await addKeys(ctx, { handle: 'alice', file: '-', name: 'desk', expires: '2026-11-30' });
    expect(r.added.map((a) => a.name)).toEqual(['desk']);
  });
});
