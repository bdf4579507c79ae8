/**
 * `infra audit --live`, the pure part of reading a host's answer (docs/reference.md, "--live: what it runs"):
 * the JSON lines Ansible prints (the ansible.posix.jsonl stdout callback, one event a line, as hosts answer)
 * and, inside each host's result, what ansible/infra-live-collect.sh printed. Everything a host says is
 * hostile input: sizes are bounded, every record must have its exact shape, and anything else makes that
 * host's answer "not understood" (reported, never guessed at), without throwing.
 */
import { answerOf, oneLine, type HostAnswer } from './ansible-json.js';
import { InfraError } from '../lib/errors.js';
import { parseWgDump, type WgDump } from './wg-dump.js';

/** The sshd settings the collector asks for, lower-case as `sshd -T` prints them, with their values. */
export type SshdSettings = Readonly<Record<string, string>>;

export type SshdView = { ok: true; settings: SshdSettings } | { ok: false; error: string };

export const FILE_KINDS = ['keys', 'principals', 'ca', 'revoked'] as const;
export type FileKind = (typeof FILE_KINDS)[number];
export const FILE_STATES = ['ok', 'absent', 'notfile', 'toolarge', 'badtoken'] as const;
export type FileState = (typeof FILE_STATES)[number];

/** One file sshd reads for a user: `keys` (AuthorizedKeysFile, in order), `principals`, `ca` (TrustedUserCAKeys), `revoked`. */
export interface SshdFile {
  kind: FileKind;
  path: string;
  state: FileState;
  /** The content, when state is ok. */
  text?: string;
  /** The size in bytes, when state is toolarge. */
  size?: number;
}

export interface SshdUser {
  view: SshdView;
  /** false: the host's passwd has no such user (no file was read). */
  exists: boolean;
  home?: string;
  files: SshdFile[];
}

/** What one host's sshd trusts: root's view (for PermitRootLogin) and each granted user's. */
export interface SshdAnswer {
  hostView: SshdView;
  users: Readonly<Record<string, SshdUser>>;
}

export type CollectorReading =
  | { kind: 'answer'; sshd: SshdAnswer; wg?: { dump: WgDump } | { error: string } }
  | { kind: 'error'; message: string }
  | { kind: 'unreachable'; message: string };

/** Per host: what the collector may print at most; more is not an answer infra reads. */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
const MAX_RECORDS = 2000;

const HEX_RE = /^x(?:[0-9a-f]{2})*$/;
const USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;

function unhex(field: string): string | undefined {
  if (!HEX_RE.test(field)) return undefined;
  return Buffer.from(field.slice(1), 'hex').toString('utf8');
}

/** `name value...` lines of `sshd -T`; only the names the collector asks for are kept. */
export function parseSshdSettings(text: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z0-9]+) (.*)$/.exec(line);
    if (m && !Object.hasOwn(settings, m[1])) settings[m[1]] = m[2];
  }
  return settings;
}

function viewOf(rc: string, output: string): SshdView | undefined {
  if (!/^\d{1,3}$/.test(rc)) return undefined;
  if (rc === '0') return { ok: true, settings: parseSshdSettings(output) };
  return { ok: false, error: oneLine(`sshd -T failed (exit ${rc}): ${output}`) };
}

class NotUnderstood extends Error {}

/** What infra-live-collect.sh printed, record by record; throws NotUnderstood at the first record out of shape. */
function parseCollectorText(stdout: string, wantWg: boolean): { sshd: SshdAnswer; wg?: { dump: WgDump } | { error: string } } {
  const fail = (why: string): never => {
    throw new NotUnderstood(why);
  };
  if (stdout.length > MAX_ANSWER_BYTES) fail(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`);
  // Ansible runs the script on a terminal (ssh -tt): lines end in CRLF. Every field is hex, so a CR is never data.
  const lines = stdout.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  // What a login shell or the terminal printed before the script started (a banner, a profile's echo) is not
  // the collector's: reading starts at its header, and every record after it must be in shape.
  const start = lines.indexOf('infra-live-collect 1');
  if (start < 0) fail(`it has no collector header (it starts ${JSON.stringify(oneLine(lines.find((l) => l !== '') ?? '').slice(0, 80))})`);
  lines.splice(0, start);
  if (lines.length > MAX_RECORDS) fail(`the answer has more than ${MAX_RECORDS} records`);
  if (lines[lines.length - 1] !== 'end') fail('it ends before the collector finished (no end record)');
  let hostView: SshdView | undefined;
  const users: Record<string, SshdUser> = {};
  let wg: { dump: WgDump } | { error: string } | undefined;
  const user = (name: string): SshdUser => {
    if (!USER_RE.test(name)) fail(`${JSON.stringify(name.slice(0, 40))} is not a user name`);
    if (!Object.hasOwn(users, name)) fail(`a record for ${name} comes before its view`);
    return users[name];
  };
  lines.slice(1, -1).forEach((line, i) => {
    const f = line.split(' ');
    const bad = () => fail(`record ${i + 2} is not in the collector's format`);
    const text = (field: string | undefined) => (field === undefined ? bad() : (unhex(field) ?? bad()));
    switch (f[0]) {
      case 'hostview': {
        if (f.length !== 3 || hostView) bad();
        hostView = viewOf(f[1], text(f[2])) ?? bad();
        break;
      }
      case 'view': {
        if (f.length !== 4 || !USER_RE.test(f[1]) || Object.hasOwn(users, f[1])) bad();
        users[f[1]] = { view: viewOf(f[2], text(f[3])) ?? bad(), exists: true, files: [] };
        break;
      }
      case 'passwd': {
        if (f.length !== 4 || !/^\d{1,10}$/.test(f[2])) bad();
        const u = user(f[1]);
        u.home = text(f[3]);
        break;
      }
      case 'nopasswd': {
        if (f.length !== 2) bad();
        user(f[1]).exists = false;
        break;
      }
      case 'file': {
        if (f.length < 5) bad();
        const u = user(f[1]);
        const kind = f[2] as FileKind;
        const state = f[4] as FileState;
        if (!FILE_KINDS.includes(kind) || !FILE_STATES.includes(state)) bad();
        const entry: SshdFile = { kind, path: text(f[3]), state };
        if (state === 'ok') {
          if (f.length !== 6) bad();
          entry.text = text(f[5]);
        } else if (state === 'toolarge') {
          if (f.length !== 6 || !/^\d{1,20}$/.test(f[5])) bad();
          entry.size = Number(f[5]);
        } else if (f.length !== 5) bad();
        if (u.files.length >= 32) fail(`more than 32 files for ${f[1]}`);
        u.files.push(entry);
        break;
      }
      case 'wg': {
        if (f.length !== 3 || wg || !wantWg || !/^\d{1,3}$/.test(f[1])) bad();
        const out = text(f[2]);
        if (f[1] !== '0') wg = { error: oneLine(`\`wg show all dump\` failed (exit ${f[1]}): ${out}`) };
        else
          try {
            wg = { dump: parseWgDump(out) };
          } catch (e) {
            if (!(e instanceof InfraError)) throw e;
            wg = { error: oneLine(`\`wg show all dump\` printed what infra cannot read: ${e.message}`) };
          }
        break;
      }
      default:
        bad();
    }
  });
  if (!hostView) fail('it has no sshd view');
  if (wantWg && !wg) fail('it has no `wg show all dump`');
  return { sshd: { hostView: hostView!, users }, ...(wg ? { wg } : {}) };
}

/** One host's answer to the collector's `script` run, read: the sshd answer and dump, or why there is none. */
export function readCollector(answer: HostAnswer, wantWg: boolean): CollectorReading {
  if (answer.status === 'unreachable') return { kind: 'unreachable', message: answer.message };
  if (answer.status === 'failed') return { kind: 'error', message: `the collector failed: ${answer.message}` };
  const stdout = answer.result.stdout;
  if (typeof stdout !== 'string') return { kind: 'error', message: 'the collector printed nothing Ansible returned' };
  try {
    return { kind: 'answer', ...parseCollectorText(stdout, wantWg) };
  } catch (e) {
    if (!(e instanceof NotUnderstood)) throw e;
    return { kind: 'error', message: oneLine(`the host's answer is not understood: ${e.message}`) };
  }
}

/**
 * Ansible's JSON lines (ansible.posix.jsonl), fed as they arrive: each runner event names hosts and their
 * results. Lines that are not JSON, or events that are not a host's result, are ignored; a line longer than
 * the bound is dropped (that host then has no answer, which the caller reports).
 */
export class JsonlEvents {
  private pending = '';
  private overlong = false;

  /** The host answers completed by this chunk. */
  push(chunk: string): Array<[string, HostAnswer]> {
    const out: Array<[string, HostAnswer]> = [];
    let text = this.pending + chunk;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (this.overlong) this.overlong = false;
      else out.push(...eventAnswers(line));
    }
    if (text.length > MAX_ANSWER_BYTES * 3) {
      this.overlong = true;
      text = '';
    }
    this.pending = text;
    return out;
  }

  /** What a last line without its newline holds. */
  end(): Array<[string, HostAnswer]> {
    const rest = this.overlong ? '' : this.pending;
    this.pending = '';
    return rest ? eventAnswers(rest) : [];
  }
}

const RUNNER_EVENTS = new Set(['v2_runner_on_ok', 'v2_runner_on_failed', 'v2_runner_on_unreachable', 'v2_runner_on_skipped']);

function eventAnswers(line: string): Array<[string, HostAnswer]> {
  if (!line.startsWith('{')) return [];
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return [];
  }
  if (typeof event !== 'object' || event === null) return [];
  const e = event as Record<string, unknown>;
  if (typeof e._event !== 'string' || !RUNNER_EVENTS.has(e._event) || typeof e.hosts !== 'object' || e.hosts === null || Array.isArray(e.hosts)) return [];
  const out: Array<[string, HostAnswer]> = [];
  for (const [host, result] of Object.entries(e.hosts as Record<string, unknown>)) {
    const answer = answerOf(result);
    // The jsonl callback marks unreachable hosts by the event, not always in the result.
    if (e._event !== 'v2_runner_on_unreachable' || answer.status === 'unreachable') out.push([host, answer]);
    else {
      const msg = answer.status === 'failed' ? answer.message : oneLine(typeof (result as Record<string, unknown> | null)?.msg === 'string' ? ((result as Record<string, unknown>).msg as string) : '');
      out.push([host, { status: 'unreachable', message: msg || 'unreachable (Ansible gave no reason)' }]);
    }
  }
  return out;
}

/**
 * The address a view of sshd is asked for when no VPN range applies: 192.0.2.1 (TEST-NET-1, reserved for
 * documentation) stands for "anyone on the internet", so a `Match Address` block for a local network does
 * not hide what sshd grants a stranger.
 */
export const OUTSIDE_ADDRESS = '192.0.2.1';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One host's progress line: per user the keys sshd reads and the lines it skips, then the WireGuard dump. */
export function describeAnswer(reading: Extract<CollectorReading, { kind: 'answer' }>, parse: (text: string) => { keys: unknown[]; skipped: unknown[] }): string {
  const parts: string[] = [];
  if (!reading.sshd.hostView.ok) parts.push(reading.sshd.hostView.error);
  for (const user of Object.keys(reading.sshd.users).sort()) {
    const u = reading.sshd.users[user];
    if (!u.view.ok) parts.push(`${user}: ${u.view.error}`);
    else if (!u.exists) parts.push(`${user}: no such user`);
    else {
      let keys = 0;
      let skipped = 0;
      const read = u.files.filter((f) => f.kind === 'keys' && f.state === 'ok');
      for (const f of read) {
        const p = parse(f.text ?? '');
        keys += p.keys.length;
        skipped += p.skipped.length;
      }
      parts.push(`${user}: ${plural(keys, 'key')} in ${plural(read.length, 'file')}${skipped ? `, ${plural(skipped, 'line')} sshd skips` : ''}`);
    }
  }
  if (reading.wg) parts.push('error' in reading.wg ? reading.wg.error : `wg: ${plural(reading.wg.dump.interfaces.length, 'interface')}, ${plural(reading.wg.dump.peers.length, 'peer')}`);
  return parts.length ? parts.join('; ') : 'answered';
}
