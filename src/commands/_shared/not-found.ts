/**
 * An unknown command: one line in infra's style naming the closest commands, on any stream (a script's
 * log needs the suggestion as much as a terminal does), and exit 2 like any usage error.
 * `infra help nosuch` and `infra nosuch --help` say the same (help-of-unknown.ts).
 */
import type { Config, Hook } from '@oclif/core/interfaces';
import { closestNames, levenshtein } from '../../lib/names.js';
import { shellCommand } from '../../lib/shell-quote.js';

/** The command ids and topics a user may type, with spaces (`vpn network add`). */
export function knownCommands(config: Config): string[] {
  return [...config.commands.filter((c) => !c.hidden).map((c) => c.id), ...config.topics.map((t) => t.name)].map((id) => id.replace(/:/g, ' '));
}

/** The message, hint and exit for a command that does not exist; JSON on stdout under --json. */
export function unknownCommand(context: Hook.Context, config: Config, typedId: string, json: boolean): void {
  const typed = typedId.replace(/:/g, ' ');
  const near = closestNames(typed, knownCommands(config), 3).filter((id) => levenshtein(id, typed) <= Math.max(3, Math.floor(typed.length / 3)));
  const shown = typed.replace(/[^\x20-\x7e]/g, '?').slice(0, 60);
  const message = `"${shown}" is not an infra command${near.length ? ` (did you mean ${near.map((n) => `"${n}"`).join(' or ')}?)` : ''}`;
  const hint = near.length ? shellCommand(['infra', ...near[0]!.split(' '), '--help']) : 'infra --help lists every command';
  // --json promises one JSON document on stdout, errors included
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: 2, message, hint } }, null, 2)}\n`);
  else process.stderr.write(`infra: ${message}\nhint: ${hint}\n`);
  context.exit(2);
}

const hook: Hook<'command_not_found'> = async function (opts) {
  unknownCommand(this, opts.config, opts.id, Boolean(opts.argv?.includes('--json')));
};

export default hook;
