#!/usr/bin/env node
// The floor under a first render: write, fsync and rename each generated file of an existing render (the
// same bytes, the same way writeFileAtomic does), and nothing else. Prints files, MB and milliseconds.
//   node bench/harness/write-floor.js bench/out/scratch/render-first-10000/inventories/production/host_vars
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const src = process.argv[2];
if (!src) throw new Error('usage: write-floor.js HOST_VARS_FOLDER');
const files = readdirSync(src).map((host) => [host, readFileSync(path.join(src, host, 'infra.generated.yml'))]);
const dest = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-write-floor-'));
try {
  const t = performance.now();
  for (const [host, bytes] of files) {
    await fs.mkdir(path.join(dest, host));
    const tmp = path.join(dest, host, '.infra.generated.yml.tmp');
    const handle = await fs.open(tmp, 'wx', 0o644);
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    await fs.rename(tmp, path.join(dest, host, 'infra.generated.yml'));
  }
  const ms = performance.now() - t;
  const mb = files.reduce((n, [, b]) => n + b.length, 0) / 1048576;
  process.stdout.write(`${JSON.stringify({ files: files.length, MB: +mb.toFixed(1), write_fsync_rename_ms: Math.round(ms) })}\n`);
} finally {
  await fs.rm(dest, { recursive: true, force: true });
}
