#!/usr/bin/env -S node --expose-gc
// The oclif entry. `--version` answers without loading anything; everything else runs from the bundle,
// loaded with its code cache (load-cli.js): start-up time is most of a short command's time.
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version') {
  // What oclif prints for --version, without loading oclif's config to print it.
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`infra/${version} ${process.platform}-${process.arch} node-${process.version}\n`);
} else {
  // `infra … | head -3`: the reader left; what was asked is done, so end quietly, as a pipe's writer should.
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (error) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  const { loadCli } = await import('./load-cli.js');
  const { run, flush, handle } = loadCli().cli;
  try {
    await run(argv, import.meta.url);
    await flush();
  } catch (error) {
    // An unknown command is a usage error (exit 2) like an unknown flag; plugin-not-found says 127.
    if (error?.oclif?.exit === 127) error.oclif.exit = 2;
    await handle(error);
  }
}
