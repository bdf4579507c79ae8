/**
 * An unknown command: one line in infra's style naming the closest commands, on any stream (a script's
 * log needs the suggestion as much as a terminal does), and exit 2 like any usage error.
 */
import type { Hook } from '@oclif/core/interfaces';
import { closestNames, levenshtein } from '../../lib/names.js';
import { shellCommand } from '../../lib/shell-quote.js';

const hook: Hook<'command_not_found'> = async function (opts) {
  const typed = opts.id.replace(/:/g, ' ');
  const ids = [...opts.config.commands.filter((c) => !c.hidden).map((c) => c.id), ...opts.config.topics.map((t) => t.name)].map((id) => id.replace(/:/g, ' '));
  const near = closestNames(typed, ids, 3).filter((id) => levenshtein(id, typed) <= Math.max(3, Math.floor(typed.length / 3)));
  const shown = typed.replace(/[^\x20-\x7e]/g, '?').slice(0, 60);
  const message = `"${shown}" is not an infra command${near.length ? ` (did you mean ${near.map((n) => `"${n}"`).join(' or ')}?)` : ''}`;
  const hint = near.length ? shellCommand(['infra', ...near[0]!.split(' '), '--help']) : 'infra --help lists every command';
  // --json promises one JSON document on stdout, errors included
  if (opts.argv?.includes('--json')) process.stdout.write(`${JSON.stringify({ error: { code: 2, message, hint } }, null, 2)}\n`);
  else process.stderr.write(`infra: ${message}\nhint: ${hint}\n`);
  this.exit(2);
};

export default hook;
