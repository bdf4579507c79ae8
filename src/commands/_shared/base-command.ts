/**
 * What every infra command shares: --dir, --json, --no-input; finding and loading the registry;
 * prompting only on a terminal; and turning errors into one message, a hint line and an exit code.
 */
// Subpaths, not the package index: the index also loads help, the module loader and semver for a Node
// version check on every command's start.
import { Command } from '@oclif/core/command';
import * as Errors from '@oclif/core/errors';
import * as Flags from '@oclif/core/flags';
import type * as Interfaces from '@oclif/core/interfaces';
import { ux } from '@oclif/core/ux';

type FlagOutput = { [name: string]: unknown };
type ArgOutput = { [name: string]: unknown };
import { RegistryStore } from '../../adapters/registry-store.js';
import { cliContext, type Context } from '../../services/context.js';
import { ExitCode, formatProblem, InfraError, type Problem } from '../../lib/errors.js';
import { onTerminal, prompter } from '../../lib/prompter.js';
import { boldErr, clean, jsonText, red } from '../../lib/style.js';
import { closestNames, levenshtein } from '../../lib/names.js';
import { shellCommand } from '../../lib/shell-quote.js';

export const REPORT_BUG = 'this is a bug in infra: please report it with the command you ran and this message';

/**
 * An error as printed on stderr: `infra: message`, one line per problem when there are several, the hint.
 * Message, hint and problems may quote member data: each is cleaned, so no newline, escape or bidi
 * override from that data reaches the terminal; the only line breaks are the layout's.
 */
export function terminalErrorText(message: string, hint: string | undefined, problems: readonly Problem[]): string {
  const lines = problems.length > 1 ? problems.map((p) => `  ${clean(formatProblem(p))}`) : [];
  const head = problems.length > 1 ? `infra: ${clean(message)}:` : `infra: ${clean(message)}`;
  return [red(boldErr(head)), ...lines, ...(hint ? [`hint: ${clean(hint)}`] : [])].join('\n') + '\n';
}

export abstract class InfraCommand<T> extends Command {
  static override enableJsonFlag = true;
  static override baseFlags = {
    dir: Flags.string({ description: 'registry folder (default: $INFRA_DIR, else the nearest folder upward holding infra.yml)', helpGroup: 'GLOBAL' }),
    json: Flags.boolean({ description: 'print one JSON document on stdout and nothing else there (talk stays off stderr too)', helpGroup: 'GLOBAL' }),
    help: Flags.help({ char: 'h', description: 'show this help', helpGroup: 'GLOBAL' }),
    'no-input': Flags.boolean({ description: 'never prompt: a missing value is an error naming the flag to pass', helpGroup: 'GLOBAL' }),
  };

  private globals: { dir?: string; noInput: boolean } = { noInput: false };

  /** Parse, remembering the global flags for `root()` and `canPrompt()`. */
  protected async parseWith<F extends FlagOutput, B extends FlagOutput, A extends ArgOutput>(options: Interfaces.Input<F, B, A>): Promise<Interfaces.ParserOutput<F, B & { dir?: string; 'no-input': boolean }, A>> {
    const parsed = await this.parse<F, B, A>(options);
    const flags = parsed.flags as { dir?: string; 'no-input'?: boolean };
    this.globals = { dir: flags.dir, noInput: Boolean(flags['no-input']) };
    return parsed as Interfaces.ParserOutput<F, B & { dir?: string; 'no-input': boolean }, A>;
  }

  /** The context services run in: the registry store, the clock, randomness, the prompter and the streams. */
  protected context(): Context {
    return cliContext({
      store: new RegistryStore({ dir: this.globals.dir }),
      json: this.jsonEnabled(),
      noInput: this.globals.noInput,
      prompter: prompter(),
      onTerminal: onTerminal(),
    });
  }

  /** Talk goes to stderr, and not at all under --json. */
  protected say(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${message}\n`);
  }

  /** Data goes to stdout. */
  protected out(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** --json output, with control and bidi characters from member data escaped (see jsonText). */
  override logJson(json: unknown): void {
    ux.stdout(jsonText(json));
  }

  /** Print the result (JSON mode) and exit with a non-zero code that is not an error, e.g. 4 for "check found problems". */
  protected finishWith(code: number, result: T): never {
    if (this.jsonEnabled()) this.logJson(this.toSuccessJson(result));
    this.exit(code);
  }

  /** oclif's parse error as one line, a did-you-mean for a mistyped flag, and the help to read. */
  private usageError(err: Error & { flags?: string[] }): { message: string; hint: string } {
    const id = (this.id ?? '').replace(/:/g, ' ');
    // oclif: "Missing 2 required args:\nhandle  the member\nkey  the key ..." -> "missing 2 required args: handle, key"
    const [first, ...rest] = err.message.split('\n').map((line) => line.replace(/^\s*›?\s*/, '').trim()).filter((line) => line && line !== 'See more help with --help');
    const names = rest.map((line) => line.split(/\s{2,}/)[0]);
    const message = (first.endsWith(':') && names.length ? `${first} ${names.join(', ')}` : [first, ...rest].join(' '))
      .replace(/^[A-Z]/, (c) => c.toLowerCase())
      // a missing required flag: "The following error occurred: Missing required flag key" -> "missing required flag --key"
      .replace(/^the following errors? occurred:\s*/, '')
      .replace(/^Missing required flag ([\w-]+)/, 'missing required flag --$1');
    const known = Object.keys({ ...this.ctor.flags, ...this.ctor.baseFlags, json: true }).map((f) => `--${f}`);
    const typed = err.flags?.[0]?.split('=')[0];
    const near = typed ? closestNames(typed, known, 1).filter((f) => levenshtein(f, typed) <= 3) : [];
    return { message: near.length ? `${message} (did you mean ${near[0]}?)` : message, hint: shellCommand(['infra', ...id.split(' ').filter(Boolean), '--help']) };
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err;
    let code: number;
    let message: string;
    let hint: string | undefined;
    let problems: Problem[] = [];
    if (err instanceof InfraError) {
      code = err.exitCode;
      message = err.message;
      hint = err.hint;
      problems = err.problems;
    } else if (err.name === 'ExitPromptError' || err.name === 'AbortPromptError') {
      code = ExitCode.cancelled;
      message = 'cancelled';
    } else if (err instanceof Errors.CLIError && err.oclif?.exit !== undefined) {
      // oclif's own usage errors (unknown flag, missing argument): one line in infra's style, with a hint
      code = err.oclif.exit ?? ExitCode.usage;
      ({ message, hint } = this.usageError(err));
    } else {
      code = ExitCode.bug;
      message = `unexpected error: ${err.message}`;
      hint = REPORT_BUG;
      if (process.env.DEBUG) process.stderr.write(`${err.stack}\n`);
    }
    if (this.jsonEnabled()) {
      this.logJson({ error: { code, message, ...(hint ? { hint } : {}), ...(problems.length ? { problems } : {}) } });
    } else {
      process.stderr.write(terminalErrorText(message, hint, problems));
    }
    this.exit(code);
  }
}
