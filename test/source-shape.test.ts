/**
 * The shape a newcomer should find in src/ (README "Code layout"): commands → services → (core, adapters)
 * → lib and nothing else, imports going one way only, thin commands and files short enough to read.
 * ESLint's no-restricted-imports says the same for static imports; this also reads dynamic import().
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './helpers/example.js';

const SRC = path.join(REPO_ROOT, 'src');

/** Each layer and the layers it may import from (its own included). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  lib: ['lib'],
  core: ['core', 'lib'],
  adapters: ['adapters', 'core', 'lib'],
  services: ['services', 'adapters', 'core', 'lib'],
  commands: ['commands', 'services', 'adapters', 'core', 'lib'],
};

/** Modules a pure core never imports: files, processes and the network come in as arguments. */
const IMPURE = /^(node:)?(fs|fs\/promises|child_process|net|http|https|dgram|os)$/;

/** At most this many lines in a source file (one job per file). */
const MAX_FILE_LINES = 600;
/** A command parses flags, calls one service and prints its result; more is logic that belongs in a service. */
const MAX_COMMAND_LINES = 80;

async function sourceFiles(dir = SRC): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (entry.name.endsWith('.ts')) out.push(path.relative(SRC, full));
  }
  return out.sort();
}

/** Every module specifier of a file: `import … from`, `export … from`, `import '…'` and `import('…')`. */
function specifiers(text: string): string[] {
  const found = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])([^'"\n]+)\1/g)].map((m) => m[2]);
  return [...new Set(found)];
}

/** The layer a relative specifier of `file` lands in ('' at the top of src/, undefined outside it). */
function layerOf(file: string, specifier: string): string | undefined {
  const target = path.relative(SRC, path.resolve(path.dirname(path.join(SRC, file)), specifier));
  if (target.startsWith('..')) return undefined;
  return target.includes(path.sep) ? target.split(path.sep)[0] : '';
}

/** `file:line count` of the files longer than `max` lines. */
async function longerThan(files: string[], max: number): Promise<string[]> {
  const out: string[] = [];
  for (const file of files) {
    const lines = (await fs.readFile(path.join(SRC, file), 'utf8')).split('\n').length - 1;
    if (lines > max) out.push(`${file}: ${lines} lines`);
  }
  return out;
}

test('specifiers finds static, re-exported, side-effect and dynamic imports', () => {
  const text = ["import { a } from '../core/a.js';", "export { b } from './b.js';", "import './c.js';", "const { d } = await import('../adapters/d.js');", "import type {\n  E,\n} from \"../lib/e.js\";"].join('\n');
  expect(specifiers(text)).toEqual(['../core/a.js', './b.js', './c.js', '../adapters/d.js', '../lib/e.js']);
});

test('src/ holds the layers, cli.ts and nothing else', async () => {
  const top = (await fs.readdir(SRC)).sort();
  expect(top).toEqual([...Object.keys(MAY_IMPORT), 'cli.ts'].sort());
});

test('every import goes down the layers: lib imports only lib, core only core and lib, and so on', async () => {
  const wrong: string[] = [];
  for (const file of await sourceFiles()) {
    const layer = file.split(path.sep)[0];
    const allowed = file === 'cli.ts' ? ['commands'] : MAY_IMPORT[layer];
    const text = await fs.readFile(path.join(SRC, file), 'utf8');
    for (const specifier of specifiers(text)) {
      if (layer === 'core' && IMPURE.test(specifier)) wrong.push(`${file} imports ${specifier} (core is pure)`);
      if (!specifier.startsWith('.')) continue;
      const target = layerOf(file, specifier);
      if (target === undefined || !allowed.includes(target)) wrong.push(`${file} imports ${specifier}`);
    }
  }
  expect(wrong).toEqual([]);
});

test(`every source file is under ${MAX_FILE_LINES} lines`, async () => {
  const files = await sourceFiles();
  expect(files.length).toBeGreaterThan(100);
  expect(await longerThan(files, MAX_FILE_LINES - 1)).toEqual([]);
});

test(`every command is at most ${MAX_COMMAND_LINES} lines`, async () => {
  const commands = (await sourceFiles(path.join(SRC, 'commands'))).filter((file) => !file.split(path.sep).some((part) => part.startsWith('_')));
  expect(commands.length).toBeGreaterThan(20);
  expect(await longerThan(commands, MAX_COMMAND_LINES)).toEqual([]);
});
