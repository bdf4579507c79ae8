#!/usr/bin/env node
// `npm run bench [-- --full] [-- --json FILE] [-- --only TEXT]`: builds, then times whole `infra` processes
// on synthetic registries (bench/harness/) beside reference programs, alternating the two, and prints one
// table with the targets of the README's Performance section. Quick sizes by default (100 and 1,000 members); --full adds 10,000
// members × 2,000 hosts, more runs, and the in-process library benches (bench/*.bench.js: modules whose
// run() resolves to rows). Results go to bench/out/results.json (gitignored) or --json FILE.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { plan } from './harness/cases.js';
import { rssSource } from './harness/measure.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const full = argv.includes('--full');
const jsonAt = argv.indexOf('--json');
const outFile = jsonAt >= 0 ? path.resolve(argv[jsonAt + 1]) : path.join(here, 'out', 'results.json');
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? argv[onlyAt + 1] : undefined;

const fmt = (v) => (v === undefined ? '' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2)) : String(v));

function printTable(title, rows, columns) {
  const cells = [columns.map((c) => c.head), ...rows.map((r) => columns.map((c) => fmt(c.get(r))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  process.stdout.write(`\n${title}\n${line(cells[0])}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${cells.slice(1).map(line).join('\n')}\n`);
}

const started = Date.now();
const rows = [];
for (const [i, run] of plan({ full }).entries()) {
  if (only && run.names && !run.names.some((n) => only.startsWith(n) || n.startsWith(only))) continue;
  // One failing case group (a command refusing the bench's registry) is a row saying so, not a lost run.
  // Named after the group's cases, so `--only` shows the failure of the group it ran instead of hiding it.
  const got = await run().catch((e) => [{ case: run.names?.join(', ') ?? `group ${i + 1}`, size: '-', note: `failed: ${String(e.message ?? e).split('\n').slice(0, 3).join(' ')}` }]);
  for (const r of got) {
    if (only && !`${r.case} ${r.size}`.includes(only)) continue;
    rows.push(r);
    process.stderr.write(`  ${r.case} (${r.size}): ${r.note ?? `${fmt(r.ms)} ms${r.ratio ? `, ${fmt(r.ratio)}× ${r.ref}` : ''}`}\n`);
  }
  process.stderr.write(`bench: ${i + 1} groups done, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

printTable(`infra, whole processes (${full ? 'full' : 'quick'}; median of ${full ? 5 : 3} runs after a warm-up; peak RSS by ${rssSource})`, rows, [
  { head: 'case', get: (r) => r.case },
  { head: 'size', get: (r) => r.size },
  { head: 'median ms', get: (r) => r.ms },
  { head: 'min–max ms', get: (r) => (r.min === undefined ? undefined : `${fmt(r.min)}–${fmt(r.max)}`) },
  { head: 'peak RSS MB', get: (r) => r.rss_mb },
  { head: 'reference', get: (r) => r.ref ?? r.note },
  { head: 'ref ms', get: (r) => r.ref_ms },
  { head: 'ratio', get: (r) => (r.ratio === undefined ? undefined : `${r.ratio.toFixed(2)}×`) },
  { head: 'target', get: (r) => r.target },
  { head: 'met', get: (r) => (r.met === undefined ? undefined : r.met ? 'yes' : 'NO') },
]);

// Render scales linearly: 10× the members and 4× the hosts may cost at most 12× the time.
const firsts = rows.filter((r) => r.case === 'render (first)');
for (let i = 1; i < firsts.length; i++)
  process.stdout.write(`render scaling ${firsts[i - 1].size} -> ${firsts[i].size}: ${(firsts[i].ms / firsts[i - 1].ms).toFixed(1)}× the time\n`);

const modules = {};
if (full)
  for (const file of (await fs.readdir(here)).filter((f) => f.endsWith('.bench.js')).sort()) {
    const name = file.replace(/\.bench\.js$/, '');
    if (only && !only.startsWith(name) && !name.startsWith(only)) continue; // --only: the library benches it names too
    process.stderr.write(`bench ${name} (in-process)...\n`);
    const mod = await import(pathToFileURL(path.join(here, file)).href);
    modules[name] = await mod.run();
    const columns = [...new Set(modules[name].flatMap((r) => Object.keys(r)))].map((c) => ({ head: c, get: (r) => r[c] }));
    printTable(name, modules[name], columns);
  }

await fs.mkdir(path.dirname(outFile), { recursive: true });
const meta = { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, mode: full ? 'full' : 'quick', rss: rssSource, date: new Date().toISOString(), seconds: (Date.now() - started) / 1000 };
await fs.writeFile(outFile, `${JSON.stringify({ ...meta, cases: rows, modules }, null, 2)}\n`);
process.stderr.write(`\nwrote ${path.relative(process.cwd(), outFile)} (${meta.seconds.toFixed(0)} s)\n`);
