#!/usr/bin/env node
import { flush, handle, run } from '@oclif/core';

try {
  await run(process.argv.slice(2), import.meta.url);
  await flush();
} catch (error) {
  // An unknown command is a usage error (exit 2) like an unknown flag; plugin-not-found says 127.
  if (error?.oclif?.exit === 127) error.oclif.exit = 2;
  await handle(error);
}
