/**
 * Registry files are UTF-8. `members edit frank --add-group monitoring` used to rewrite an unrelated Latin-1
 * comment line to U+FFFD; now a file that is not UTF-8 is refused naming its line, by every load and every
 * edit, with or without derived state, and never rewritten. `check` lists it among the other problems.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { inspectRegistry, loadRegistry } from '../../src/adapters/registry-load.js';
import { ExitCode, InfraError } from '../../src/lib/errors.js';
import { decodeUtf8, firstInvalidUtf8 } from '../../src/lib/utf8.js';
import { editMember } from '../../src/services/members.js';
import { checkRegistry } from '../../src/services/registry.js';
import { testContext } from '../helpers/context.js';
import { copyExample } from '../helpers/example.js';

const FRANK = 'keys/frank/member.yml';
/** `# Frank's café` in Latin-1: é is the single byte 0xE9. */
const LATIN1_COMMENT = Buffer.from('# Frank\'s caf\xe9 hours\n', 'latin1');

async function withLatin1Comment(root: string): Promise<{ bytes: Buffer; line: number }> {
  const file = path.join(root, FRANK);
  const text = await fs.readFile(file);
  const firstLine = text.indexOf(0x0a) + 1;
  const bytes = Buffer.concat([text.subarray(0, firstLine), LATIN1_COMMENT, text.subarray(firstLine)]);
  await fs.writeFile(file, bytes);
  return { bytes, line: 2 };
}

describe('files that are not UTF-8', () => {
  it.each([
    ['without derived state', '-1'],
    ['with the member cache written before the file changed', '0'],
  ])('members edit refuses naming the line and leaves every byte (%s)', async (_how, min) => {
    const saved = process.env.INFRA_CACHE_MIN_MEMBERS;
    process.env.INFRA_CACHE_MIN_MEMBERS = min;
    try {
      const root = await copyExample();
      await loadRegistry(root);
      const { bytes, line } = await withLatin1Comment(root);
      const e = await editMember(testContext({ root }), { handle: 'frank', addGroup: ['monitoring'] }).then(() => undefined, (err: unknown) => err as InfraError);
      expect(e).toBeInstanceOf(InfraError);
      expect(e!.exitCode).toBe(ExitCode.invalid);
      expect(e!.problems).toContainEqual({ file: FRANK, line, field: '(file)', message: 'is not valid UTF-8 (byte 0xe9 on this line): convert the file to UTF-8' });
      expect(await fs.readFile(path.join(root, FRANK))).toEqual(bytes);
    } finally {
      if (saved === undefined) delete process.env.INFRA_CACHE_MIN_MEMBERS;
      else process.env.INFRA_CACHE_MIN_MEMBERS = saved;
    }
  });

  it('check lists it with its line among the other problems; infra.yml too', async () => {
    const root = await copyExample();
    await withLatin1Comment(root);
    const config = path.join(root, 'infra.yml');
    await fs.writeFile(config, Buffer.concat([await fs.readFile(config), Buffer.from('# \xff\n', 'latin1')]));
    const { problems } = await checkRegistry(testContext({ root }));
    const configLines = (await fs.readFile(config)).toString('latin1').split('\n').length - 1;
    expect(problems.filter((p) => p.message.startsWith('is not valid UTF-8')).map((p) => `${p.file}:${p.line}`).sort()).toEqual([`infra.yml:${configLines}`, `${FRANK}:2`]);
    // infra.yml UTF-8 again: frank's file is still named, and the other members are judged as before
    await fs.writeFile(config, (await fs.readFile(config)).subarray(0, -4));
    const again = await inspectRegistry(root);
    expect(again.problems.filter((p) => p.message.startsWith('is not valid UTF-8')).map((p) => `${p.file}:${p.line}`)).toEqual([`${FRANK}:2`]);
    expect(again.problems.some((p) => p.file === 'keys/erin/member.yml')).toBe(false); // erin's weak key is check's (policy), not load's
    expect((await checkRegistry(testContext({ root }))).problems.some((p) => p.file === 'keys/erin/member.yml' && /RSA/.test(p.message))).toBe(true);
  });

  it('valid UTF-8 (a BOM, accents, emoji) is edited and keeps its bytes', async () => {
    const root = await copyExample();
    const file = path.join(root, FRANK);
    const before = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('# Frank’s café ☕ 😀\n', 'utf8'), await fs.readFile(file)]);
    await fs.writeFile(file, before);
    await editMember(testContext({ root }), { handle: 'frank', addGroup: ['monitoring'] });
    const after = await fs.readFile(file);
    expect(after.subarray(0, 40)).toEqual(before.subarray(0, 40));
    expect(after.toString('utf8')).toContain('groups: [meet-tech, monitoring]');
  });

  it.each([
    ['ASCII', [0x61, 0x0a], -1],
    ['a 4-byte emoji', [0xf0, 0x9f, 0x98, 0x80], -1],
    ['Latin-1 é', [0x61, 0xe9, 0x62], 1],
    ['an overlong NUL', [0xc0, 0x80], 0],
    ['a surrogate', [0xed, 0xa0, 0x80], 0],
    ['past U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['cut short at the end', [0x61, 0xe2, 0x82], 1],
    ['a stray continuation byte', [0x80], 0],
  ])('firstInvalidUtf8: %s', (_what, bytes, at) => {
    expect(firstInvalidUtf8(Uint8Array.from(bytes))).toBe(at);
    if (at >= 0) expect(() => decodeUtf8(Uint8Array.from(bytes), 'x.yml')).toThrow(/^x\.yml:1: is not valid UTF-8/);
    else expect(decodeUtf8(Uint8Array.from(bytes), 'x.yml')).toBe(Buffer.from(bytes).toString('utf8'));
  });
});
