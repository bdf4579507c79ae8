// Loaded with `node --import` when /usr/bin/time is missing: the process writes its own peak RSS (KB) on exit.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, `${process.resourceUsage().maxRSS}\n`));
