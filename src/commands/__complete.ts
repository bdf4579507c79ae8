import { Command } from '@oclif/core/command';
import { RegistryStore } from '../adapters/registry-store.js';
import type { CommandShape } from '../core/completion.js';
import { cliContext } from '../services/context.js';
import { completeLine } from '../services/complete.js';

/**
 * Hidden: what the shell completion scripts call (`infra __complete -- vpn join alice --de`), printing one
 * candidate per line. Not an InfraCommand: every word after `--` is the line being completed, never a flag
 * of this command, and nothing but candidates is ever printed (a completion that errors prints nothing).
 */
export default class Complete extends Command {
  static override hidden = true;
  static override strict = false;
  static override summary = 'Candidates for a partial command line, one per line (for the shell completion scripts).';
  static override examples = ['<%= config.bin %> __complete -- vpn join alice --'];

  async run(): Promise<void> {
    const words = this.argv[0] === '--' ? this.argv.slice(1) : this.argv;
    const commands: CommandShape[] = this.config.commands
      .filter((c) => !c.hidden)
      .map((c) => ({
        id: c.id.replace(/:/g, ' '),
        flags: Object.fromEntries(Object.entries(c.flags).filter(([, f]) => !f.hidden).map(([name, f]) => [name, { takesValue: f.type === 'option', multiple: f.type === 'option' && Boolean(f.multiple) }])),
        args: Object.keys(c.args),
      }));
    try {
      const ctx = cliContext({ store: new RegistryStore({}), json: false, noInput: true, onTerminal: false });
      const { candidates } = await completeLine(ctx, words.length ? words : [''], commands);
      if (candidates.length) process.stdout.write(`${candidates.join('\n')}\n`);
    } catch {
      // completion never prints an error into the user's command line
    }
  }
}
