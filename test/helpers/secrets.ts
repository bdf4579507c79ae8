/**
 * Proof that a secret did not leak: give it everything captured (stdout, stderr, error messages and
 * hints, files of the registry) and it fails if the secret, or any long enough piece of it, appears.
 * The failure names where it was found, never the secret itself (test output is captured too).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export type Captured = Record<string, string | Uint8Array | undefined | null> | Array<string | undefined | null>;

/** Pieces this long of the secret count as a leak too (a truncated or wrapped echo). */
const WINDOW = 16;

/** Where `secret` (or a WINDOW-long piece of it, or its JSON/URL-escaped form) appears in the captured texts. */
export function findSecret(secret: string, captured: Captured): string[] {
  if (secret.length < 8) throw new Error('findSecret: a secret shorter than 8 characters would match by chance; use a longer test secret');
  const needles = new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)]);
  if (secret.length > WINDOW) for (let i = 0; i + WINDOW <= secret.length; i++) needles.add(secret.slice(i, i + WINDOW));
  const entries = Array.isArray(captured) ? captured.map((text, i) => [`#${i}`, text] as const) : Object.entries(captured);
  const found: string[] = [];
  for (const [label, value] of entries) {
    if (value === undefined || value === null) continue;
    const text = typeof value === 'string' ? value : Buffer.from(value).toString('latin1');
    for (const needle of needles) {
      const at = text.indexOf(needle);
      if (at >= 0) {
        found.push(`${label} at offset ${at}${needle === secret ? '' : ' (a piece of it)'}`);
        break;
      }
    }
  }
  return found;
}

/** Fails the test when the secret appears anywhere in `captured`. */
export function expectNoSecret(secret: string, captured: Captured): void {
  const found = findSecret(secret, captured);
  if (found.length) throw new Error(`the secret leaked into: ${found.join('; ')}`);
}

/** An error's message, hint, problems and cause chain as text, for expectNoSecret. */
export function errorText(e: unknown): string {
  const parts: string[] = [];
  let current: unknown = e;
  for (let depth = 0; current && depth < 5; depth++) {
    if (current instanceof Error) {
      const extra = current as Error & { hint?: string; problems?: unknown };
      parts.push(current.message, current.stack ?? '', extra.hint ?? '', JSON.stringify(extra.problems ?? ''));
      current = (current as Error & { cause?: unknown }).cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join('\n');
}

/** Every file under `dir` (relative path -> bytes), except those `skip` matches (e.g. encrypted .asc files). */
export function filesUnder(dir: string, skip: (rel: string) => boolean = () => false): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      const rel = relative(dir, full);
      if (skip(rel)) continue;
      if (statSync(full).isDirectory()) walk(full);
      else out[rel] = readFileSync(full);
    }
  };
  walk(dir);
  return out;
}
