/**
 * Property (campaign): the registry loader never crashes. Random mutations of the example
 * registry's YAML files (infra.yml, every member.yml) give either a loaded registry or problems that name
 * a file, a field and (when they have one) a line inside that file; the only exception ever thrown is InfraError.
 */
import fc from 'fast-check';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { inspectRegistry, loadRegistry } from '../../src/adapters/registry-load.js';
import { InfraError } from '../../src/lib/errors.js';
import { copyExample } from '../helpers/example.js';

// 100 runs in the suite: each run loads the whole registry twice (about 45 ms of CPU), and 400 made this file a
// third of test:unit's budget. The property came out clean at 4000 runs when written; soak it with PROPERTY_RUNS=4000.
const RUNS = Number(process.env.PROPERTY_RUNS ?? 100);

// Characters that mean something to YAML, line breaks editors do not show, and plain text.
const PIECES = [':', ': ', '-', '- ', ' ', '  ', '\n', '\r\n', '\r', '\t', '[', ']', '{', '}', ',', '&a', '*a', '!', '!!str', '!!binary', '|', '>', '#', '"', "'", '%YAML 1.2', '---', '...', '?', '@', '`', '<<', '\\', '~', 'null', 'true', '0x1F', '1e999', '-.inf', '2026-13-45', '2026-02-29', '__proto__', 'constructor', 'toString', 'a', 'Z', '0', '9', '\u2028', '\u0085', '\ufeff', '\u0000', '\u202e', 'é', '😀'];
const VALUES = ['~', 'null', '[]', '{}', '""', "''", '0', '-1', '1.5', '1e999', '.nan', 'true', 'no', '0o17', '2026-01-01', '2026-02-30', '&x [1, *x]', '*undefined_alias', '!!binary AAAA', '!!set {a, b}', '!!omap [a: 1]', '!!timestamp 2001-12-14', '!custom x', '|\n  block\n', '>-\n  folded\n', '[a, [b, [c]]]', '{a: {b: c}}', 'a'.repeat(2000), '__proto__', '{__proto__: x}', '"\\u0000"', '"\\x85"', '"\\u202e"'];

type Mutation = (text: string) => string;

const position = (text: string, at: number) => Math.min(text.length, Math.floor(at * (text.length + 1)));
const lineOp = (text: string, at: number, fn: (lines: string[], i: number) => void): string => {
  const lines = text.split('\n');
  fn(lines, Math.min(lines.length - 1, Math.floor(at * lines.length)));
  return lines.join('\n');
};

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 40 })).map(([at, n]) => (t: string) => t.slice(0, position(t, at)) + t.slice(position(t, at) + n)),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 6 })).map(([at, parts]) => (t: string) => t.slice(0, position(t, at)) + parts.join('') + t.slice(position(t, at))),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.string({ maxLength: 8 })).map(([at, s]) => (t: string) => t.slice(0, position(t, at)) + s + t.slice(position(t, at))),
  fc.double({ min: 0, max: 1, noNaN: true }).map((at) => (t: string) => lineOp(t, at, (l, i) => l.splice(i, 0, l[i]))),
  fc.double({ min: 0, max: 1, noNaN: true }).map((at) => (t: string) => lineOp(t, at, (l, i) => l.splice(i, 1))),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: -4, max: 4 })).map(([at, d]) => (t: string) => lineOp(t, at, (l, i) => (l[i] = d > 0 ? ' '.repeat(d) + l[i] : l[i].slice(-d)))),
  // Replace the value of a `key: value` line (the shape most hand edits take).
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...VALUES)).map(([at, v]) => (t: string) =>
    lineOp(t, at, (l, i) => {
      const m = /^(\s*(?:- )?[\w.-]+:)\s.*$/.exec(l[i]);
      if (m) l[i] = `${m[1]} ${v}`;
    }),
  ),
);

describe('registry loader under random mutations', () => {
  it(`never crashes; problems name file, field and an in-file line (${RUNS} runs)`, async () => {
    const dir = await copyExample();
    const files = ['infra.yml', ...(await fs.readdir(path.join(dir, 'keys'))).map((h) => `keys/${h}/member.yml`)];
    const originals = new Map(await Promise.all(files.map(async (f) => [f, await fs.readFile(path.join(dir, f), 'utf8')] as const)));
    let loaded = 0;
    let withProblems = 0;
    let refused = 0;

    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...files), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (file, mutations) => {
        const text = mutations.reduce((t, m) => m(t), originals.get(file)!);
        await fs.writeFile(path.join(dir, file), text);
        try {
          let result;
          try {
            result = await inspectRegistry(dir);
          } catch (e) {
            if (!(e instanceof InfraError)) throw e;
            refused++;
            expect(e.message).toContain(file);
            return;
          }
          const lineCount = (rel: string) => originals.has(rel) ? (rel === file ? text : originals.get(rel)!).split(/\r\n|\r|\n/).length : Infinity;
          for (const p of result.problems) {
            expect(typeof p.file === 'string' && p.file.length > 0 && typeof p.field === 'string' && p.field.length > 0 && typeof p.message === 'string').toBe(true);
            if (p.line !== undefined) expect(Number.isInteger(p.line) && p.line >= 1 && p.line <= lineCount(p.file)).toBe(true);
          }
          if (result.loaded) {
            loaded++;
            await loadRegistry(dir); // loads the same registry without throwing
          } else {
            withProblems++;
            expect(result.problems.length).toBeGreaterThan(0);
            const err = await loadRegistry(dir).then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(err).toBeInstanceOf(InfraError);
          }
        } finally {
          await fs.writeFile(path.join(dir, file), originals.get(file)!);
        }
      }),
      { numRuns: RUNS },
    );
    // The mutations must reach both outcomes, or the property says little.
    expect(loaded + withProblems + refused).toBe(RUNS);
    expect(withProblems).toBeGreaterThan(RUNS / 4);
    expect(loaded).toBeGreaterThan(0);
    process.stdout.write(`registry loader property: ${RUNS} runs, ${loaded} loaded, ${withProblems} with problems, ${refused} refused\n`);
  }, 300_000);
});
