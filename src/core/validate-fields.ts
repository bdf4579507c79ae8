/**
 * The parts every registry validator is built from: the problem collector (`file:line: field: problem`),
 * the field readers that add a problem instead of throwing, and the shapes of names, dates and free text.
 */
import type { Problem } from '../lib/errors.js';
import { ENV_RE } from './types.js';

export type Path = ReadonlyArray<string | number>;
export type Locate = (path: Path) => number | undefined;

export const GROUP_RE = /^[a-z][a-z0-9_-]{0,63}$/;
export const UNIX_USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
export { ENV_RE };
export const ORG_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;
export const TOKEN_KINDS = ['github', 'matrix', 'generic'] as const;
export const KEY_FAMILIES = ['ed25519', 'ed25519-sk', 'ecdsa', 'ecdsa-sk', 'rsa'] as const;
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export function fieldName(path: Path): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  return out || '(document)';
}

/** Collects problems for one file; `at` resolves the nearest line for a path (falling back to its parents). */
export class Problems {
  readonly list: Problem[] = [];
  constructor(
    readonly file: string,
    private readonly locate: Locate = () => undefined,
  ) {}

  at(path: Path): number | undefined {
    for (let n = path.length; n >= 0; n--) {
      const line = this.locate(path.slice(0, n));
      if (line !== undefined) return line;
    }
    return undefined;
  }

  add(path: Path, message: string): void {
    this.list.push({ file: this.file, line: this.at(path), field: fieldName(path), message });
  }
}

export function isIsoDate(value: unknown): value is string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(value);
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Free text (a name, an email, a source): generous, but a 10 kB value is a mistake or an attack. */
export const MAX_TEXT_LENGTH = 1000;

/** Printable, single-line text: what a name or comment may be. Shows the offending character class, never raw bytes. */
export function textProblem(value: unknown, what = 'text'): string | undefined {
  if (typeof value !== 'string') return `must be ${what}, got ${describeType(value)}`;
  if (value.trim() === '') return 'must not be empty';
  if (CONTROL_RE.test(value)) return 'must not contain newlines, tabs or control characters';
  if (value.length > MAX_TEXT_LENGTH) return `is ${value.length} characters long; at most ${MAX_TEXT_LENGTH}`;
  return undefined;
}

export function describeType(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `${typeof v} ${JSON.stringify(v)}`;
}

export function unknownFields(p: Problems, path: Path, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) p.add([...path, key], `unknown field (expected one of: ${allowed.join(', ')})`);
  }
}

export function str(p: Problems, obj: Record<string, unknown>, path: Path, key: string, opts: { required?: boolean; re?: RegExp; reText?: string } = {}): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (opts.required) p.add([...path, key], 'is required');
    return undefined;
  }
  const problem = textProblem(v, 'a string');
  if (problem) return void p.add([...path, key], problem);
  if (opts.re && !opts.re.test(v as string)) return void p.add([...path, key], `must match ${opts.reText ?? opts.re.source}`);
  return v as string;
}

export function date(p: Problems, obj: Record<string, unknown>, path: Path, key: string, required = false): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) p.add([...path, key], 'is required (a date, YYYY-MM-DD)');
    return undefined;
  }
  if (!isIsoDate(v)) return void p.add([...path, key], `must be a date YYYY-MM-DD, got ${describeType(v)}`);
  return v;
}

/** The most days any setting counts (a rotation period, a key's age, a horizon): 100 years. */
export const MAX_DAYS = 36_500;

export function int(p: Problems, obj: Record<string, unknown>, path: Path, key: string, min: number, fallback?: number, max = MAX_DAYS): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) return void p.add([...path, key], `must be a whole number >= ${min}`), fallback;
  // every reader does date arithmetic with it: a number past any date is refused here, never met there
  if (v > max) return void p.add([...path, key], `must be at most ${max}, got ${v}`), fallback;
  return v;
}

export function list(p: Problems, obj: Record<string, unknown>, path: Path, key: string, required = false): unknown[] {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) p.add([...path, key], 'is required (a list)');
    return [];
  }
  if (!Array.isArray(v)) return p.add([...path, key], `must be a list, got ${describeType(v)}`), [];
  return v;
}

export function stringList(p: Problems, obj: Record<string, unknown>, path: Path, key: string, re?: RegExp, required = false): string[] {
  const out: string[] = [];
  list(p, obj, path, key, required).forEach((item, i) => {
    const problem = textProblem(item, 'a string');
    if (problem) p.add([...path, key, i], problem);
    else if (re && !re.test(item as string)) p.add([...path, key, i], `must match ${re.source}`);
    else out.push(item as string);
  });
  return out;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A short, single-line, escape-free rendering of user input for error messages. */
export function printable(value: string, max = 40): string {
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
