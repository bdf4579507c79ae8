/**
 * `infra audit --live`, the pure part: what ad-hoc `ansible` printed with the JSON stdout callback
 * (ANSIBLE_STDOUT_CALLBACK=json), read into what the audit understands (LiveHost, DumpSource).
 * The adapter (src/adapters/ansible-live.ts) runs the modules; everything here is plain data in and out,
 * and no input (truncated output, HTML from a proxy, a module returning odd types) makes it throw.
 *
 * The callback prints one document: {plays: [{tasks: [{hosts: {<inventory name>: <module result>}}]}], stats}.
 * A module result is unreachable (`unreachable: true`, `msg` says why), failed (`failed: true`), or ok.
 */
import { InfraError } from '../lib/errors.js';
import { clean } from '../lib/style.js';
import type { DumpSource, LiveHost } from './audit.js';
import { parseWgDump, type WgDump } from './wg-dump.js';

type Json = Record<string, unknown>;

/** One host's answer to one ad-hoc module run. */
export type HostAnswer =
  | { status: 'ok'; result: Json }
  | { status: 'failed'; message: string; result: Json }
  | { status: 'unreachable'; message: string };

/** Either every host's answer (inventory name -> answer), or why the output is not the callback's JSON. */
export type AdHocOutput = { readable: true; hosts: Map<string, HostAnswer> } | { readable: false; reason: string };

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

/**
 * Reads the json callback's document. Text before it (a warning some plugin printed on stdout) is skipped;
 * a later task's answer for a host replaces an earlier one (ad-hoc runs have one task).
 */
export function parseAdHocOutput(stdout: string): AdHocOutput {
  const start = stdout.search(/^\{/m);
  if (start < 0) return { readable: false, reason: stdout.trim() === '' ? 'Ansible printed nothing on stdout' : 'Ansible printed no JSON document (is the json stdout callback available?)' };
  let doc: unknown;
  try {
    doc = JSON.parse(stdout.slice(start));
  } catch (e) {
    return { readable: false, reason: `Ansible's JSON output does not parse: ${oneLine((e as Error).message)}` };
  }
  if (!isObject(doc) || !Array.isArray(doc.plays)) return { readable: false, reason: 'Ansible printed JSON without "plays" (is ANSIBLE_STDOUT_CALLBACK=json in effect?)' };
  const hosts = new Map<string, HostAnswer>();
  for (const play of doc.plays) {
    if (!isObject(play) || !Array.isArray(play.tasks)) continue;
    for (const task of play.tasks) {
      if (!isObject(task) || !isObject(task.hosts)) continue;
      for (const [host, result] of Object.entries(task.hosts)) hosts.set(host, answerOf(result));
    }
  }
  return { readable: true, hosts };
}

// ------------------------------------------------------------------ what each module's answer means

/** ansible.builtin.slurp of ~USER/.ssh/authorized_keys. */
export type SlurpReading =
  | { kind: 'text'; text: string }
  /** ENOENT: the file is absent, or the user is (then `~USER` was not expanded); getent tells which. */
  | { kind: 'not-found' }
  | { kind: 'error'; message: string }
  | { kind: 'unreachable'; message: string };

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

export function readSlurp(answer: HostAnswer): SlurpReading {
  if (answer.status === 'unreachable') return { kind: 'unreachable', message: answer.message };
  if (answer.status === 'failed') return /^file not found\b/.test(answer.message) ? { kind: 'not-found' } : { kind: 'error', message: answer.message };
  const { content, encoding } = answer.result;
  if (typeof content !== 'string' || (encoding !== undefined && encoding !== 'base64')) return { kind: 'error', message: 'Ansible returned no base64 content for the file' };
  const base64 = content.replace(/\s+/g, '');
  if (base64.length % 4 !== 0 || !BASE64_RE.test(base64)) return { kind: 'error', message: 'Ansible returned content that is not base64' };
  // Bytes that are not UTF-8 become U+FFFD: the audit then reports those lines as not keys, with their numbers.
  return { kind: 'text', text: Buffer.from(base64, 'base64').toString('utf8') };
}

/** ansible.builtin.getent database=passwd key=USER, asked only where the file was not found. */
export type UserLookup = { kind: 'exists' } | { kind: 'no-such-user' } | { kind: 'error'; message: string } | { kind: 'unreachable'; message: string };

export function readGetent(answer: HostAnswer): UserLookup {
  if (answer.status === 'unreachable') return { kind: 'unreachable', message: answer.message };
  if (answer.status === 'failed') return /could not be found/i.test(answer.message) ? { kind: 'no-such-user' } : { kind: 'error', message: answer.message };
  return { kind: 'exists' };
}

/** ansible.builtin.command `wg show all dump`. */
export type WgReading = { kind: 'dump'; dump: WgDump } | { kind: 'error'; message: string } | { kind: 'unreachable'; message: string };

export function readWgDump(answer: HostAnswer): WgReading {
  if (answer.status === 'unreachable') return { kind: 'unreachable', message: answer.message };
  if (answer.status === 'failed') return { kind: 'error', message: `\`wg show all dump\` failed: ${answer.message}` };
  const stdout = answer.result.stdout;
  if (typeof stdout !== 'string') return { kind: 'error', message: '`wg show all dump` printed nothing Ansible returned' };
  try {
    return { kind: 'dump', dump: parseWgDump(stdout) };
  } catch (e) {
    if (!(e instanceof InfraError)) throw e;
    return { kind: 'error', message: oneLine(`\`wg show all dump\` printed what infra cannot read: ${e.message}`) };
  }
}

// ------------------------------------------------------------------ one environment's answers, gathered

interface HostRecord {
  authorizedKeys: Record<string, string | null>;
  userErrors: Record<string, string>;
  unreachable?: string;
  wg?: { peers: number; interfaces: number } | { error: string };
}

/**
 * What one environment's hosts answered, run by run. Only hosts Ansible answered for appear (a host that
 * --limit leaves out has no record), and a host that was unreachable once stays so: later runs skip it.
 */
export class LiveTally {
  private readonly records = new Map<string, HostRecord>();
  readonly dumps: DumpSource[] = [];

  constructor(readonly environment: string) {}

  private record(host: string): HostRecord {
    let r = this.records.get(host);
    if (!r) this.records.set(host, (r = { authorizedKeys: {}, userErrors: {} }));
    return r;
  }

  answered(host: string): boolean {
    return this.records.has(host);
  }

  isUnreachable(host: string): boolean {
    return this.records.get(host)?.unreachable !== undefined;
  }

  markUnreachable(host: string, reason: string): void {
    const r = this.record(host);
    r.unreachable ??= oneLine(reason) || 'unreachable';
  }

  /** The slurp run for `user`; returns the hosts where the file was not found (ask getent whether the user exists). */
  recordSlurp(user: string, answers: ReadonlyMap<string, HostAnswer>): string[] {
    const notFound: string[] = [];
    for (const [host, answer] of answers) {
      const reading = readSlurp(answer);
      if (reading.kind === 'unreachable') this.markUnreachable(host, reading.message);
      else if (reading.kind === 'text') this.record(host).authorizedKeys[user] = reading.text;
      else if (reading.kind === 'error') this.record(host).userErrors[user] = reading.message;
      else {
        this.record(host);
        notFound.push(host);
      }
    }
    return notFound.sort();
  }

  /** The getent run for `user` on the hosts where slurp found no file. */
  recordGetent(user: string, answers: ReadonlyMap<string, HostAnswer>): void {
    for (const [host, answer] of answers) {
      const lookup = readGetent(answer);
      if (lookup.kind === 'unreachable') this.markUnreachable(host, lookup.message);
      else if (lookup.kind === 'exists') this.record(host).authorizedKeys[user] = null;
      else if (lookup.kind === 'no-such-user') this.record(host).userErrors[user] = `there is no user ${user} on this host`;
      else this.record(host).userErrors[user] = `the file was not found, and looking up the user failed: ${lookup.message}`;
    }
  }

  /** A user whose files cannot be asked for (a name Ansible would read as something else). */
  recordUserError(host: string, user: string, message: string): void {
    this.record(host).userErrors[user] = message;
  }

  recordWg(answers: ReadonlyMap<string, HostAnswer>): void {
    for (const [host, answer] of answers) {
      const reading = readWgDump(answer);
      if (reading.kind === 'unreachable') this.markUnreachable(host, reading.message);
      else if (reading.kind === 'error') this.record(host).wg = { error: reading.message };
      else {
        this.record(host).wg = { interfaces: reading.dump.interfaces.length, peers: reading.dump.peers.length };
        this.dumps.push({ source: host, dump: reading.dump });
      }
    }
  }

  /**
   * One LiveHost per host that answered. A VPN server that answered but whose `wg show all dump` failed gets a
   * second entry, unreachable with that reason: its peers were not checked, and the report must say so.
   */
  hosts(): LiveHost[] {
    const out: LiveHost[] = [];
    for (const host of [...this.records.keys()].sort()) {
      const r = this.records.get(host)!;
      if (r.unreachable !== undefined) {
        out.push({ environment: this.environment, host, unreachable: r.unreachable });
        continue;
      }
      const entry: LiveHost = { environment: this.environment, host, authorizedKeys: { ...r.authorizedKeys } };
      if (Object.keys(r.userErrors).length) out.push({ ...entry, userErrors: { ...r.userErrors } });
      else out.push(entry);
      if (r.wg && 'error' in r.wg) out.push({ environment: this.environment, host, unreachable: r.wg.error });
    }
    return out;
  }

  /** The progress line for a host once everything about it is known. */
  describe(host: string): string {
    const where = `${this.environment}/${host}`;
    const r = this.records.get(host);
    if (!r) return `${where}: no answer`;
    if (r.unreachable !== undefined) return `${where}: unreachable: ${r.unreachable}`;
    const parts: string[] = [];
    for (const user of Object.keys(r.authorizedKeys).sort()) {
      const text = r.authorizedKeys[user];
      parts.push(text === null ? `${user}: no authorized_keys` : `${user}: ${countLines(text)} line${countLines(text) === 1 ? '' : 's'}`);
    }
    for (const user of Object.keys(r.userErrors).sort()) parts.push(`${user}: ${r.userErrors[user]}`);
    if (r.wg) parts.push('error' in r.wg ? r.wg.error : `wg: ${r.wg.interfaces} interface${r.wg.interfaces === 1 ? '' : 's'}, ${r.wg.peers} peer${r.wg.peers === 1 ? '' : 's'}`);
    return `${where}: ${parts.length ? parts.join('; ') : 'answered'}`;
  }
}

const countLines = (text: string) => text.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#')).length;
