/**
 * Prompts, only on a terminal (docs/reference.md, "Conventions", like `gh`): every prompt has a flag, and when stdin or stdout is
 * not a terminal, or --json / --no-input is given, a missing value is an error naming the flag.
 * @inquirer/prompts is imported lazily: most runs never prompt. Services get the prompter in their Context,
 * so tests pass a scripted one; test/commands/prompted.test.ts drives the real one on a pseudo-terminal.
 */
import { InfraError } from './errors.js';

export interface Choice<T> {
  name: string;
  value: T;
  checked?: boolean;
  description?: string;
}

export interface Prompter {
  input(opts: { message: string; default?: string; validate?: (value: string) => true | string }): Promise<string>;
  password(opts: { message: string }): Promise<string>;
  confirm(opts: { message: string; default?: boolean }): Promise<boolean>;
  checkbox<T>(opts: { message: string; choices: Choice<T>[] }): Promise<T[]>;
  select<T>(opts: { message: string; choices: Choice<T>[] }): Promise<T>;
}

export function onTerminal(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY);
}

/** inquirer throws ExitPromptError on Ctrl+C: that is a cancel (exit 130), not a failure. */
function cancelled(e: unknown): never {
  if (e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError'))
    throw new InfraError(130, 'cancelled');
  throw e;
}

const inquirer: Prompter = {
  async input(opts) {
    const { input } = await import('@inquirer/prompts');
    return input({ message: opts.message, default: opts.default, validate: opts.validate, theme: {} }, { output: process.stderr }).catch(cancelled);
  },
  async password(opts) {
    const { password } = await import('@inquirer/prompts');
    return password({ message: opts.message, mask: false }, { output: process.stderr }).catch(cancelled);
  },
  async confirm(opts) {
    const { confirm } = await import('@inquirer/prompts');
    return confirm(opts, { output: process.stderr }).catch(cancelled);
  },
  async checkbox(opts) {
    const { checkbox } = await import('@inquirer/prompts');
    return checkbox(opts, { output: process.stderr }).catch(cancelled);
  },
  async select(opts) {
    const { select } = await import('@inquirer/prompts');
    return select(opts, { output: process.stderr }).catch(cancelled);
  },
};

export function prompter(): Prompter {
  return inquirer;
}
