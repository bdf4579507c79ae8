#!/usr/bin/env node
// `npm run bench`: runs every bench/*.bench.js module's exported `run()` (after the build), prints one
// table and writes bench/out/results.json. A module's run() resolves to rows: flat objects whose first
// key names the case; other keys are the measured figures.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

const modules = (await fs.readdir(here)).filter((f) => f.endsWith('.bench.js')).sort();
const results = {};
for (const file of modules) {
  const name = file.replace(/\.bench\.js$/, '');
  process.stderr.write(`bench ${name}...\n`);
  const mod = await import(pathToFileURL(path.join(here, file)).href);
  if (typeof mod.run !== 'function') throw new Error(`${file} exports no run()`);
  results[name] = await mod.run();
}

const fmt = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : v === undefined ? '' : String(v));
for (const [name, rows] of Object.entries(results)) {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cells = [columns, ...rows.map((r) => columns.map((c) => fmt(r[c])))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  process.stdout.write(`\n${name}\n${line(columns)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${cells.slice(1).map(line).join('\n')}\n`);
}

const outDir = path.join(here, 'out');
await fs.mkdir(outDir, { recursive: true });
await fs.writeFile(path.join(outDir, 'results.json'), `${JSON.stringify({ node: process.version, platform: `${process.platform}-${process.arch}`, results }, null, 2)}\n`);
process.stderr.write(`\nwrote ${path.relative(process.cwd(), path.join(outDir, 'results.json'))}\n`);
