/**
 * What every infra command shares: --dir, --json, --no-input; finding and loading the registry;
 * prompting only on a terminal; and turning errors into one message, a hint line and an exit code.
 */
import { Command, Errors, Flags, ux, type Interfaces } from '@oclif/core';

type FlagOutput = { [name: string]: unknown };
type ArgOutput = { [name: string]: unknown };
import { findRoot, loadRegistry, mutateRegistry, type Loaded, type Transaction } from '../adapters/store.js';
import { ExitCode, formatProblem, InfraError, type Problem } from './errors.js';
import { onTerminal, prompter, type Prompter } from './prompter.js';
import { boldErr, clean, jsonText, red } from './style.js';

export const REPORT_BUG = 'this is a bug in infra: please report it with the command you ran and this message';

export abstract class InfraCommand<T> extends Command {
  static override enableJsonFlag = true;
  static override baseFlags = {
    dir: Flags.string({ description: 'registry folder (default: $INFRA_DIR, else the nearest folder upward holding infra.yml)', helpGroup: 'GLOBAL' }),
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

  protected async root(): Promise<string> {
    return findRoot({ dir: this.globals.dir });
  }

  protected async load(): Promise<Loaded> {
    return loadRegistry(await this.root());
  }

  /** Lock the registry, load it fresh, edit, and write atomically. */
  protected async mutate<R>(fn: (tx: Transaction) => Promise<R> | R): Promise<{ result: R; written: string[] }> {
    return mutateRegistry(await this.root(), this.id ?? 'infra', fn);
  }

  /** Prompts only on a terminal, and never with --json or --no-input. */
  protected canPrompt(): boolean {
    return onTerminal() && !this.jsonEnabled() && !this.globals.noInput;
  }

  protected prompter(): Prompter {
    return prompter();
  }

  /** A value from a flag, or a prompt on a terminal, or an error naming the flag. */
  protected async need(value: string | undefined, flag: string, message: string, validate?: (v: string) => true | string): Promise<string> {
    if (value !== undefined) {
      const verdict = validate?.(value);
      if (typeof verdict === 'string') throw new InfraError(ExitCode.invalid, `--${flag}: ${verdict}`);
      return value;
    }
    if (!this.canPrompt())
      throw new InfraError(ExitCode.usage, `missing --${flag}`, { hint: `pass --${flag} ${flag.toUpperCase()} (infra prompts for it only on a terminal)` });
    return this.prompter().input({ message, validate });
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
      // oclif's own usage errors: unknown flag, missing argument (exit 2)
      if (!this.jsonEnabled()) throw err;
      code = err.oclif.exit ?? ExitCode.usage;
      message = err.message;
    } else {
      code = ExitCode.bug;
      message = `unexpected error: ${err.message}`;
      hint = REPORT_BUG;
      if (process.env.DEBUG) process.stderr.write(`${err.stack}\n`);
    }
    if (this.jsonEnabled()) {
      this.logJson({ error: { code, message, ...(hint ? { hint } : {}), ...(problems.length ? { problems } : {}) } });
    } else {
      const lines = problems.length > 1 ? problems.map((p) => `  ${clean(formatProblem(p))}`) : [];
      const head = problems.length > 1 ? `infra: ${clean(message)}:` : `infra: ${clean(message)}`;
      process.stderr.write([red(boldErr(head)), ...lines, ...(hint ? [`hint: ${clean(hint)}`] : [])].join('\n') + '\n');
    }
    this.exit(code);
  }
}
