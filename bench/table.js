#!/usr/bin/env node
// `node bench/table.js [FILE]`: the whole-process cases of a bench run (bench/out/results.json by default)
// as the Markdown table README → Performance shows, so the README is pasted from a run, not retyped.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? new URL('./out/results.json', import.meta.url);
const run = JSON.parse(readFileSync(file, 'utf8'));
const ms = (v) => (v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(v >= 10 ? 1 : 2));
const code = (name) => `\`${name.replace(/ \(.*\)$/, '')}\`${/\((.*)\)$/.test(name) ? ` ${name.match(/\((.*)\)$/)[1]}` : ''}`;

const rows = run.cases.filter((c) => c.ms !== undefined);
// Rows measured with the machine's load average (the live audit's) get a column for it: the 1-minute
// figure as each run ended, lowest–highest.
const withLoad = rows.some((c) => c.load_1m?.length);
const load = (c) => (c.load_1m?.length ? `${Math.min(...c.load_1m).toFixed(1)}–${Math.max(...c.load_1m).toFixed(1)}` : '');
const lines = [
  `${run.mode} run, ${run.date.slice(0, 10)}: Node ${run.node.slice(1)}, ${run.cpus} × ${run.cpu?.trim()}, median of ${rows[0]?.runs_ms?.length ?? '?'} runs after a warm-up, ${Math.round(run.seconds)} s in all.`,
  '',
  `| case | size | median | min–max | peak RSS | reference (same run) | ratio | target |${withLoad ? ' load avg (1 min) |' : ''}`,
  `|---|---|---|---|---|---|---|---|${withLoad ? '---|' : ''}`,
  ...rows.map((c) =>
    [
      code(c.case),
      c.size,
      `${ms(c.ms)} ms`,
      `${ms(c.min)}–${ms(c.max)}`,
      c.rss_mb === undefined ? '' : `${Math.round(c.rss_mb)} MB`,
      c.ref ? `${/^(render|vpn|tokens)|hosts$/.test(c.ref) ? c.ref : `\`${c.ref}\``} ${ms(c.ref_ms)} ms` : '',
      c.ratio === undefined ? '' : `${c.ratio.toFixed(2)}×`,
      c.target ? `${c.target} ${c.met ? '✔' : '✘'}` : '',
      ...(withLoad ? [load(c)] : []),
    ].join(' | ').replace(/^/, '| ').replace(/$/, ' |'),
  ),
];
process.stdout.write(`${lines.join('\n')}\n`);
