#!/usr/bin/env node
// Only the parts of @oclif/core that start a command are imported here (its index also loads every
// command helper and checks the Node version with semver): start-up time is most of `--help` and `--version`.
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version') {
  // What oclif prints for --version, without loading oclif's config to print it.
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`infra/${version} ${process.platform}-${process.arch} node-${process.version}\n`);
} else {
  const { run } = await import('@oclif/core/run');
  try {
    await run(argv, import.meta.url);
    const { flush } = await import('@oclif/core/flush');
    await flush();
  } catch (error) {
    // An unknown command is a usage error (exit 2) like an unknown flag; plugin-not-found says 127.
    if (error?.oclif?.exit === 127) error.oclif.exit = 2;
    const { handle } = await import('@oclif/core/handle');
    await handle(error);
  }
}
