import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { ExitCode, InfraError } from '../../lib/errors.js';
import { splitTokenRef } from '../../services/argument-order.js';
import { showToken, type TokenRow } from '../../services/tokens.js';
import { shellQuote } from '../../lib/shell-quote.js';

export default class TokensShow extends InfraCommand<TokenRow & { value?: string }> {
  static override summary = "Show a token's metadata; with --reveal --key, decrypt its value to stdout.";
  static override description =
    'Without --reveal nothing secret is read. With --reveal, keys/HANDLE/tokens/NAME.asc is decrypted with your private key (--key; its passphrase from INFRA_PGP_PASSPHRASE or a hidden prompt) and the value alone is printed on stdout.';
  static override examples = ['<%= config.bin %> tokens show roobot/github', '<%= config.bin %> tokens show roobot/webhook-secret --reveal --key ~/admin-key.asc'];
  static override args = { token: Args.string({ required: true, description: 'HANDLE/NAME' }) };
  static override flags = {
    reveal: Flags.boolean({ description: 'decrypt and print the value (needs --key)' }),
    key: Flags.string({ description: 'your private OpenPGP key (gpg --export-secret-keys --armor EMAIL > FILE)' }),
  };

  static override strict = false; // to say `BOT NAME` back as BOT/NAME (docs/reference.md "Arguments in the wrong order")

  async run(): Promise<TokenRow & { value?: string }> {
    const { args, argv, flags } = await this.parseWith(TokensShow);
    if (argv.length > 1) {
      const joined = await splitTokenRef(this.context(), argv as string[]);
      // an extra word that is not a token name is not echoed: it may be a value pasted by mistake
      throw new InfraError(ExitCode.usage, joined ? `name the token as one word, HANDLE/NAME: ${joined}` : 'name one token, as HANDLE/NAME', {
        hint: joined ? `infra tokens show ${shellQuote(joined)}${flags.reveal ? ' --reveal --key YOUR-KEY.asc' : ''}` : 'see `infra tokens list`',
      });
    }
    const result = await showToken(this.context(), { ref: args.token, reveal: flags.reveal, key: flags.key });
    if (this.jsonEnabled()) return result;
    if (result.value !== undefined) this.out(result.value);
    else {
      const lines = [
        `${result.token} (${result.kind})`,
        `rotated: ${result.rotated_at ? `${result.rotated_at}${result.rotated_by ? ` by ${result.rotated_by}` : ''}` : 'never'}; next due: ${result.next_due ?? 'now'} (${result.status})`,
        ...(result.expires_at ? [`expires: ${result.expires_at}`] : []),
        ...(result.homeserver ? [`homeserver: ${result.homeserver}`] : []),
        ...(result.readable_by ? [`readable by: ${result.readable_by.join(', ')}`] : []),
        `value: ${result.stored ? `keys/${result.owner}/tokens/${result.name}.asc` : 'none stored yet'}`,
        ...(result.pending ? [`rotation unfinished: started ${result.pending.started_at} by ${result.pending.started_by}; left: ${result.pending.left.join(', ') || 'the final step'}`] : []),
        'consumers:',
        ...result.consumers.map((c) => `  ${c}`),
      ];
      this.out(lines.join('\n'));
    }
    return result;
  }
}
