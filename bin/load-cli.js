// Loads the CLI bundle (dist/bundle/infra.cjs, built by scripts/bundle.js) with a V8 code cache.
//
// Why: a short command spent most of its time before doing anything: resolving, reading and compiling
// ~250 modules (oclif, yaml, ours). One bundle removes the resolving; the code cache removes most of the
// compiling. The cache is only an optimisation: it is used only when it was made from these exact bytes
// (SHA-256 of the bundle in its first line), and V8 itself refuses one made by another Node version or
// with other V8 flags. In every other case the bundle is compiled from source, as `require` would.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

export const BUNDLE = fileURLToPath(new URL('../dist/bundle/infra.cjs', import.meta.url));
export const CODE_CACHE = `${BUNDLE}.cache`;

const digestOf = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** The cache's data when its first line names the bundle's digest; else undefined. */
function cacheFor(digest) {
  let cache;
  try {
    cache = readFileSync(CODE_CACHE);
  } catch {
    return { state: 'missing' };
  }
  const newline = cache.indexOf(10);
  if (newline < 0 || cache.subarray(0, newline).toString('latin1') !== `sha256:${digest}`) return { state: 'stale' };
  return { state: 'used', data: cache.subarray(newline + 1) };
}

/**
 * Evaluates the bundle as the CommonJS module it is, registered in require's cache so that oclif, which
 * requires the same file to find the commands, gets these exports rather than a second copy.
 * `codeCache`: used, missing, stale (made from other bytes) or rejected (by V8).
 */
export function loadCli() {
  const bytes = readFileSync(BUNDLE);
  const digest = digestOf(bytes);
  const cache = cacheFor(digest);
  // CommonJS's wrapper, plus __importPackage: code compiled by vm.Script cannot use import() on Node 20, so
  // the bundle's lazy imports of ESM-only packages (openpgp, octokit, inquirer, ...) come here. Resolved
  // from bin/ as from dist/bundle/: both look up the package's own node_modules.
  const source = `(function (exports, require, module, __filename, __dirname, __importPackage) {${bytes.toString('utf8')}\n})`;
  const script = new vm.Script(source, { filename: BUNDLE, cachedData: cache.data });
  const mod = new Module(BUNDLE);
  mod.filename = BUNDLE;
  mod.paths = Module._nodeModulePaths(path.dirname(BUNDLE));
  Module._cache[BUNDLE] = mod;
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(BUNDLE), mod, BUNDLE, path.dirname(BUNDLE), (name) => import(name));
  mod.loaded = true;
  return {
    cli: mod.exports,
    codeCache: cache.data && script.cachedDataRejected ? 'rejected' : cache.state,
    /** Writes the code V8 has compiled so far (so run the work worth caching first), stamped with the digest. */
    writeCodeCache: () => writeFileSync(CODE_CACHE, Buffer.concat([Buffer.from(`sha256:${digest}\n`, 'latin1'), script.createCachedData()])),
  };
}
