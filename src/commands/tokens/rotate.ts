import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { interruptible } from '../_shared/interrupt.js';
import { checkRotateArguments } from '../_shared/token-arguments.js';
import { abortLines, dueLines, rotatedLines } from '../_shared/token-rotation-text.js';
import { ExitCode } from '../../lib/errors.js';
import { rotateDue, rotateToken, type RotateDueResult, type RotateTokenResult } from '../../services/tokens.js';
import { abortRotation, type AbortRotationResult } from '../../services/token-rotation.js';

type Result = RotateTokenResult | RotateDueResult | AbortRotationResult;

export default class TokensRotate extends InfraCommand<Result> {
  static override summary = 'Rotate a bot token: a new value, written to every consumer, stored encrypted to the admins.';
  static override description = `github: the new token is read from stdin or a hidden prompt and checked with GitHub (its login must be the bot's). matrix: the bot's password (stdin or prompt, never stored) logs in for a new access token; the old one (decrypted with --key) is logged out at the end. generic: 32 random bytes.
Secrets are written with GITHUB_TOKEN when it is set, else with the new GitHub token; ansible_vault_var consumers use ANSIBLE_VAULT_PASSWORD_FILE or --vault-password-file.
Each step is recorded as it happens: a failure part-way exits 5 naming what is done, and \`--resume --key FILE\` finishes it without asking for the value again; \`--abort\` gives it up (the pending value is destroyed). Ctrl+C cancels the request in flight at once and exits 130 with the --resume command. A value is never taken from the command line.`;
  static override examples = [
    '<%= config.bin %> tokens rotate roobot/webhook-secret --dry-run',
    { description: 'Rotate a pasted token: on a terminal this prompts for the new value (hidden); elsewhere it reads it from stdin', command: '<%= config.bin %> tokens rotate roobot/github' },
    { description: 'Rotate every token that is due: on a terminal, prompts for each pasted value (elsewhere read from stdin)', command: '<%= config.bin %> tokens rotate --due' },
  ];
  static override strict = false;
  static override args = { token: Args.string({ description: 'HANDLE/NAME' }) };
  static override flags = {
    'dry-run': Flags.boolean({ description: 'list what would change, change nothing' }),
    resume: Flags.boolean({ description: 'finish a rotation that stopped part-way (needs --key)', exclusive: ['abort'] }),
    abort: Flags.boolean({ description: 'give up a rotation that stopped part-way: the pending value is destroyed', exclusive: ['resume', 'due', 'dry-run', 'key'] }),
    key: Flags.string({ description: 'your private OpenPGP key: decrypts the pending value (--resume) or the old Matrix token' }),
    due: Flags.boolean({ description: 'rotate every generic token that is due; list the others that need a person', exclusive: ['resume', 'key'] }),
    'vault-password-file': Flags.string({ description: 'the Ansible vault password file (default: $ANSIBLE_VAULT_PASSWORD_FILE)' }),
  };

  async run(): Promise<Result> {
    const { args, argv, flags } = await this.parseWith(TokensRotate);
    await checkRotateArguments(() => this.context(), args.token, argv, flags);
    if (flags.abort) return this.printAbort(await abortRotation(this.context(), args.token!));
    // Ctrl+C cancels the request in flight at once; the rotation stops at its last recorded step (exit 130,
    // with the --resume command).
    const controller = new AbortController();
    return interruptible(
      () => controller.abort(),
      async (cancelled) => {
        const common = { dryRun: flags['dry-run'], vaultPasswordFile: flags['vault-password-file'], cancelled, signal: controller.signal };
        if (flags.due) return this.printDue(await rotateDue(this.context(), common));
        return this.print(await rotateToken(this.context(), { ...common, ref: args.token!, resume: flags.resume, key: flags.key }));
      },
    );
  }

  private printAbort(r: AbortRotationResult): AbortRotationResult {
    if (!this.jsonEnabled()) this.out(abortLines(r).join('\n'));
    return r;
  }

  private print(r: RotateTokenResult): RotateTokenResult {
    if (!this.jsonEnabled()) this.out(rotatedLines(r).join('\n'));
    return r;
  }

  private printDue(r: RotateDueResult): RotateDueResult {
    if (!this.jsonEnabled()) for (const line of dueLines(r)) this.out(line);
    if (r.failed.length) this.finishWith(r.failed.some((f) => f.code === ExitCode.remote) ? ExitCode.remote : r.failed[0].code, r);
    return r;
  }
}
