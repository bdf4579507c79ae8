/**
 * Help for a command that does not exist (`infra help nosuch`, `infra nosuch --help`) is the same usage
 * error as running it: did-you-mean, exit 2, a JSON error under --json. oclif's help would print its own
 * "Command nosuch not found" (and refuse --json as an unknown flag), so this runs first, as the init hook.
 */
import type { Hook } from '@oclif/core/interfaces';
import { unknownCommand } from './not-found.js';

const HELP_FLAGS = new Set(['--help', '-h']);

/** The subject of a help request, as typed words; undefined when this is not one, or asks for the overview. */
export function helpSubject(id: string | undefined, argv: readonly string[]): string[] | undefined {
  const beforeDashes = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (id === 'help') {
    const words = [];
    for (const arg of beforeDashes) {
      if (arg.startsWith('-')) break;
      words.push(arg);
    }
    return words.length ? words : undefined;
  }
  if (!id || id.startsWith('-') || !beforeDashes.some((a) => HELP_FLAGS.has(a))) return undefined;
  return id.split(':');
}

/** Known when the words name a command or topic, or begin with a command's name (`help keys add alice`: the rest are its arguments). */
export function isKnown(words: readonly string[], commands: ReadonlySet<string>, topics: ReadonlySet<string>): boolean {
  if (commands.has(words.join(' ')) || topics.has(words.join(' '))) return true;
  return words.some((_, n) => n > 0 && commands.has(words.slice(0, n).join(' ')));
}

const hook: Hook<'init'> = async function (opts) {
  const words = helpSubject(opts.id, opts.argv);
  if (!words) return;
  const spaced = (id: string) => id.replace(/:/g, ' ');
  if (isKnown(words, new Set(opts.config.commands.map((c) => spaced(c.id))), new Set(opts.config.topics.map((t) => spaced(t.name))))) return;
  unknownCommand(this, opts.config, words.join(' '), opts.argv.includes('--json'));
};

export default hook;
