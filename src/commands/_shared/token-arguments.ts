/**
 * The words `tokens rotate` accepts: one HANDLE/NAME (or none with --due), never a value. A token named as
 * two words is said back joined; an extra word may be a secret, so it is refused without being shown.
 */
import { shellQuote } from '../../lib/shell-quote.js';
import { ExitCode, InfraError } from '../../lib/errors.js';
import { splitTokenRef } from '../../services/argument-order.js';
import type { Context } from '../../services/context.js';

export async function checkRotateArguments(ctx: () => Context, token: string | undefined, argv: unknown[], flags: { due?: boolean; 'dry-run'?: boolean; resume?: boolean; key?: string }): Promise<void> {
  if (flags.due && argv.length === 1 && /^[a-z][a-z0-9-]*\/[A-Za-z0-9._-]+$/.test(argv[0] as string))
    throw new InfraError(ExitCode.usage, '--due rotates every token that is due: drop the token name, or drop --due', { hint: `infra tokens rotate ${shellQuote(argv[0] as string)}` });
  const joined = !flags.due ? await splitTokenRef(ctx(), argv as string[]) : undefined;
  if (joined)
    throw new InfraError(ExitCode.usage, `name the token as one word, HANDLE/NAME: ${joined}`, {
      hint: `infra tokens rotate ${shellQuote(joined)}${flags['dry-run'] ? ' --dry-run' : ''}${flags.resume ? ' --resume' : ''}${flags.key ? ' --key YOUR-KEY.asc' : ''}`,
    });
  if (argv.length > (flags.due ? 0 : 1))
    throw new InfraError(ExitCode.usage, 'a token value is never taken from the command line (process lists and shell history keep it); the extra argument was ignored and not stored', {
      hint: `give it on stdin: your-password-manager show ... | infra tokens rotate ${flags.due ? '--due' : 'HANDLE/NAME'}`,
    });
  if (!flags.due && !token) throw new InfraError(ExitCode.usage, 'name the token to rotate (HANDLE/NAME), or pass --due', { hint: 'infra tokens rotate roobot/github' });
}
