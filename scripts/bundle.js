#!/usr/bin/env node
// Build step: bundles dist/cli.js (tsc's output of src/cli.ts) with @oclif/core and yaml into one CommonJS
// file, dist/bundle/infra.cjs, that bin/load-cli.js loads with a V8 code cache. The heavy libraries stay
// outside and are imported lazily where used. The bundle sits at the same depth as dist/services/*.js, so
// paths the code takes relative to its own module (the package's schema/ and ansible/) still hold.
import { mkdirSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const OUT = 'dist/bundle/infra.cjs';
// Code compiled by vm.Script cannot use import() on Node 20 (that needs --experimental-vm-modules): every
// import() in the bundle (the lazy ESM-only packages; oclif loading a plugin's files) asks the loader
// instead, through __importPackage, a parameter of the wrapper bin/load-cli.js runs the bundle in. All of
// them name a package or an absolute URL, so resolving from bin/ is resolving from dist/bundle/. Loaded
// by a plain require (oclif finding the commands in tests), the bundle uses import() itself.
const BANNER = [
  "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;",
  "const __lazyImport = typeof __importPackage === 'function' ? __importPackage : (name) => import(name);",
].join('\n');
const IMPORT_CALL = /(?<![\w$."'`])import\((?!\))/g;

const result = await build({
  entryPoints: ['dist/cli.js'],
  outfile: OUT,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // loaded when a command needs them (and typescript only by oclif's development mode)
  external: ['openpgp', '@octokit/rest', '@inquirer/prompts', 'qrcode', 'libsodium-wrappers', 'typescript'],
  define: { 'import.meta.url': '__bundleUrl' },
  sourcemap: 'linked',
  write: false,
  logLevel: 'warning',
});

mkdirSync('dist/bundle', { recursive: true });
for (const file of result.outputFiles) {
  let text = file.text;
  if (file.path.endsWith('.cjs')) {
    const calls = text.match(IMPORT_CALL)?.length ?? 0;
    if (calls < 5) throw new Error(`${OUT}: expected the lazy imports of openpgp, octokit and the rest, found ${calls} import() calls`);
    // the banner takes the place of esbuild's first line (its source-map line numbers stay right)
    const firstLine = text.indexOf('\n');
    if (text.slice(0, firstLine).trim() !== '"use strict";') throw new Error(`${OUT}: unexpected first line ${text.slice(0, firstLine)}`);
    text = `"use strict";${BANNER.replace(/\n/g, ' ')}${text.slice(firstLine).replace(IMPORT_CALL, '__lazyImport(')}`;
  }
  writeFileSync(file.path, text);
}
