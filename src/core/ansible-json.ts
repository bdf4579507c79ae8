/**
 * `infra audit --live`, the pure part of reading what ad-hoc `ansible` printed with the JSON callbacks:
 * one host's module result as an answer (ok, failed with Ansible's reason, unreachable), and Ansible's
 * messages as one line that is safe on a terminal. No input (a module returning odd types) makes it throw.
 * A module result is unreachable (`unreachable: true`, `msg` says why), failed (`failed: true`), or ok.
 */
import { clean } from '../lib/style.js';

type Json = Record<string, unknown>;

/** One host's answer to one ad-hoc module run. */
export type HostAnswer =
  | { status: 'ok'; result: Json }
  | { status: 'failed'; message: string; result: Json }
  | { status: 'unreachable'; message: string };

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const MAX_MESSAGE = 300;

/**
 * Ansible's messages as one short line that is safe on a terminal and in a markdown cell: whitespace
 * runs (newlines included) become one space, control and format characters are replaced, long ones are cut.
 */
export function oneLine(text: string): string {
  const flat = clean(text.replace(/\s+/g, ' ').trim());
  return flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE - 1)}…` : flat;
}

const textOf = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v) ?? '');

/** Why a module failed, in Ansible's words: its `msg`, and for a command that exited non-zero, what it printed on stderr. */
function failureMessage(result: Json): string {
  const msg = textOf(result.msg).trim();
  const stderr = textOf(result.stderr).trim();
  const rc = typeof result.rc === 'number' ? ` (exit ${result.rc})` : '';
  const parts = msg === 'non-zero return code' && stderr ? [`${stderr}${rc}`] : [msg, stderr].filter(Boolean);
  return oneLine(parts.join(': ')) || 'Ansible gave no reason';
}

export function answerOf(result: unknown): HostAnswer {
  if (!isObject(result)) return { status: 'failed', message: 'Ansible returned no result for this host', result: {} };
  if (result.unreachable === true) return { status: 'unreachable', message: oneLine(textOf(result.msg)) || 'unreachable (Ansible gave no reason)' };
  if (result.failed === true) return { status: 'failed', message: failureMessage(result), result };
  if (result.skipped === true) return { status: 'failed', message: oneLine(`skipped: ${textOf(result.skip_reason ?? result.msg)}`), result };
  return { status: 'ok', result };
}
