import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../../lib/base-command.js';
import { ExitCode, InfraError } from '../../lib/errors.js';
import { splitTokenRef } from '../../services/argument-order.js';
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
    if (flags.due && argv.length === 1 && /^[a-z][a-z0-9-]*\/[A-Za-z0-9._-]+$/.test(argv[0] as string))
      throw new InfraError(ExitCode.usage, '--due rotates every token that is due: drop the token name, or drop --due', { hint: `infra tokens rotate ${argv[0]}` });
    const joined = !flags.due ? await splitTokenRef(this.context(), argv as string[]) : undefined;
    if (joined)
      throw new InfraError(ExitCode.usage, `name the token as one word, HANDLE/NAME: ${joined}`, {
        hint: `infra tokens rotate ${joined}${flags['dry-run'] ? ' --dry-run' : ''}${flags.resume ? ' --resume' : ''}${flags.key ? ' --key YOUR-KEY.asc' : ''}`,
      });
    if (argv.length > (flags.due ? 0 : 1))
      throw new InfraError(ExitCode.usage, 'a token value is never taken from the command line (process lists and shell history keep it); the extra argument was ignored and not stored', {
        hint: `give it on stdin: your-password-manager show ... | infra tokens rotate ${flags.due ? '--due' : 'HANDLE/NAME'}`,
      });
    if (!flags.due && !args.token) throw new InfraError(ExitCode.usage, 'name the token to rotate (HANDLE/NAME), or pass --due', { hint: 'infra tokens rotate roobot/github' });
    if (flags.abort) return this.printAbort(await abortRotation(this.context(), args.token!));
    // Ctrl+C cancels the request in flight at once; the rotation stops at its last recorded step (exit 130,
    // with the --resume command). A second Ctrl+C while that is printed exits at once.
    let interrupted = false;
    const controller = new AbortController();
    const onSigint = () => {
      if (interrupted) process.exit(ExitCode.cancelled);
      interrupted = true;
      controller.abort();
    };
    process.on('SIGINT', onSigint);
    try {
      const common = { dryRun: flags['dry-run'], vaultPasswordFile: flags['vault-password-file'], cancelled: () => interrupted, signal: controller.signal };
      if (flags.due) return this.printDue(await rotateDue(this.context(), common));
      return this.print(await rotateToken(this.context(), { ...common, ref: args.token!, resume: flags.resume, key: flags.key }));
    } finally {
      process.off('SIGINT', onSigint);
    }
  }

  private printAbort(r: AbortRotationResult): AbortRotationResult {
    if (!this.jsonEnabled()) {
      const lines = [`gave up the rotation of ${r.token}: ${r.discarded} destroyed`];
      if (r.consumers_updated.length) lines.push(`already updated (they hold a value that will not be kept): ${r.consumers_updated.join(', ')}`);
      lines.push(`start a fresh rotation: infra tokens rotate ${r.token}`);
      this.out(lines.join('\n'));
    }
    return r;
  }

  private print(r: RotateTokenResult): RotateTokenResult {
    if (this.jsonEnabled()) return r;
    if (r.dry_run && r.blocked_by?.length)
      this.out([`would NOT rotate ${r.token}: a real run would stop at`, ...r.blocked_by.map((b) => `  ${b.message}${b.hint ? ` -> ${b.hint}` : ''}`)].join('\n'));
    else if (r.dry_run) this.out([`would rotate ${r.token}:`, ...r.steps!.map((s) => `  ${s}`)].join('\n'));
    else {
      const lines = [`rotated ${r.token} on ${r.rotated_at} by ${r.rotated_by}: ${r.updated.length} consumer(s) updated${r.already_done.length ? `, ${r.already_done.length} already done` : ''}`];
      if (r.expires_at) lines.push(`the new token expires on ${r.expires_at}`);
      if (r.old_token_logged_out !== undefined) lines.push(r.old_token_logged_out ? 'the old access token is logged out' : 'the old access token could NOT be logged out: end its session in a Matrix client');
      if (r.revoke_url) lines.push(`Now revoke the old token, signed in as the bot: ${r.revoke_url}`);
      this.out(lines.join('\n'));
    }
    return r;
  }

  private printDue(r: RotateDueResult): RotateDueResult {
    if (!this.jsonEnabled()) {
      for (const t of r.rotated)
        this.out(t.blocked_by?.length ? `would NOT rotate ${t.token}: ${t.blocked_by.map((b) => `${b.message}${b.hint ? ` -> ${b.hint}` : ''}`).join('; ')}` : `${r.dry_run ? 'would rotate' : 'rotated'} ${t.token}`);
      for (const p of r.need_person) this.out(`needs a person: ${p.token} (${p.kind}${p.due ? `, due ${p.due}` : ''}): ${p.why} -> ${p.command}`);
      if (!r.rotated.length && !r.need_person.length) this.out('no token is due');
    }
    if (r.failed.length) this.finishWith(r.failed.some((f) => f.code === ExitCode.remote) ? ExitCode.remote : r.failed[0].code, r);
    return r;
  }
}
