#!/usr/bin/env node
// Build step, after the bundle and oclif's manifest: runs a few everyday commands in this process on the
// example registry (their output discarded), then saves the code V8 compiled for them as the bundle's code
// cache. Whatever is not covered still works; it is compiled when first used, as without a cache.
import { fileURLToPath } from 'node:url';
import { loadCli } from '../bin/load-cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = fileURLToPath(new URL('../bin/run.js', import.meta.url));
const { cli, writeCodeCache } = loadCli();
const write = { out: process.stdout.write, err: process.stderr.write };
process.stdout.write = process.stderr.write = () => true;
try {
  for (const argv of [['members', 'list'], ['keys', 'list'], ['vpn', 'list'], ['tokens', 'list'], ['check'], ['render', '--check'], ['audit', '--format', 'json'], ['--help'], ['members', 'list', '--help']])
    await cli.run([...argv, '--dir', root], entry).catch(() => undefined); // check and render --check may exit non-zero on the example
} finally {
  Object.assign(process.stdout, { write: write.out });
  Object.assign(process.stderr, { write: write.err });
}
process.exitCode = 0;
writeCodeCache();
