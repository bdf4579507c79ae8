/**
 * Exit codes mean one thing each (docs/reference.md, "Conventions"). Every error a user can cause is an InfraError
 * carrying the code, a one-line message naming file/line/field, and a hint: the exact command that fixes it.
 */
import { closestNames, levenshtein } from './names.js';
import { shellQuote } from './shell-quote.js';

export const ExitCode = {
  ok: 0,
  bug: 1,
  usage: 2,
  invalid: 3,
  checkFailed: 4,
  remote: 5,
  cancelled: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** One validation problem, printed as `path:line: field: message`. */
export interface Problem {
  file: string;
  line?: number;
  field: string;
  message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}: ${p.field}: ${p.message}`;
}

export class InfraError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly hint?: string;
  readonly problems: Problem[];

  constructor(exitCode: ExitCodeValue, message: string, options: { hint?: string; problems?: Problem[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InfraError';
    this.exitCode = exitCode;
    this.hint = options.hint;
    this.problems = options.problems ?? [];
  }
}

/** Invalid input (exit 3) with the fix as hint. */
export const invalid = (message: string, hint?: string) => new InfraError(ExitCode.invalid, message, { hint });

/** Several problems at once, exit 3: one is the message itself; more are listed under a summary. */
export function invalidInput(summary: string, problems: Problem[], hint?: string): InfraError {
  const head = problems.length === 1 ? formatProblem(problems[0]) : `${summary}: ${problems.length} problems`;
  return new InfraError(ExitCode.invalid, head, { hint, problems });
}

/** The registry failed validation: every problem at once, exit 3. */
export function invalidRegistry(problems: Problem[], hint = 'fix the lines above, then run `infra check`'): InfraError {
  return invalidInput('the registry is invalid', problems, hint);
}

/** The one "no such member" error: names the closest handles and the command that adds one. */
export function noMember(handle: string, known: readonly string[]): InfraError {
  const shown = handle.replace(/[^\x20-\x7e]/g, '?').slice(0, 40);
  const near = closestNames(handle, known, 3).filter((h) => levenshtein(h, handle) <= Math.max(2, Math.floor(handle.length / 3)));
  return new InfraError(ExitCode.invalid, `no member "${shown}"${near.length ? ` (did you mean ${near.map((n) => `"${n}"`).join(' or ')}?)` : ''}`, {
    hint: near.length ? `infra members show ${shellQuote(near[0])}` : `see \`infra members list\`, or add one: infra members add ${shellQuote(/^[a-z][a-z0-9-]{0,31}$/.test(handle) ? handle : 'HANDLE')} --name ... --org ... --email ...`,
  });
}
