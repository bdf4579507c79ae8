// Jest's buffered console swallows what oclif writes through console.log; runCommand captures a plain one.
import { Console } from 'node:console';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
globalThis.console = new Console({ stdout: process.stdout, stderr: process.stderr });

// Derived state lives in the user's cache folder: each test file gets its own, so no test reads another's
// and none writes into the real ~/.cache (child processes inherit it).
process.env.XDG_CACHE_HOME = mkdtempSync(path.join(os.tmpdir(), 'infra-test-xdg-cache-'));
