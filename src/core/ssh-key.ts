/**
 * SSH public keys: member keys (`type base64 [comment]`), authorized_keys lines and whole files,
 * each read as sshd reads it (./authorized-keys.ts), judged by policy (./ssh-key-policy.ts) and shown as
 * `ssh-keygen -l` shows it (./ssh-keygen-display.ts). The blob itself is ./ssh-key-blob.ts.
 * Pure: no fs, no clock.
 */
import { loginProblems } from './key-options.js';
import { readAuthorizedKeys, readAuthorizedLine } from './authorized-keys.js';
import {
  HINT_PRIVATE,
  HINT_RECOPY,
  HINT_RFC4716,
  Refusal,
  isKnownKeyType,
  looksLikePrivateKey,
  privateKeyError,
  publicError,
  type PublicKey,
} from './ssh-key-blob.js';
import { policyProblems } from './ssh-key-policy.js';
import type { SshPolicy } from './types.js';

export {
  KEY_TYPES,
  KeyParseError,
  canonicalKeyData,
  encodeKeyBlob,
  excerpt,
  fingerprintOf,
  isKnownKeyType,
  keyComponents,
  looksLikePrivateKey,
  safeComment,
  type CurveName,
  type KeyComponents,
  type KeyFamily,
  type PublicKey,
} from './ssh-key-blob.js';
export { sshKeygenLine, sshKeygenTypeName } from './ssh-keygen-display.js';
export { forgeableKeyProblem, policyProblems } from './ssh-key-policy.js';

export interface AuthorizedKeyLine extends PublicKey {
  options: string[]; // each option as written, e.g. from="10.0.0.0/8"
  certAuthority: boolean;
}

/** One text that must be one line: drops a trailing LF, refuses line breaks inside and NUL (sshd would cut the line there). */
function oneLine(text: string): string | Refusal {
  let s = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (s.endsWith('\r')) s = s.slice(0, -1);
  if (s.includes('\n') || s.includes('\r')) return new Refusal('a key must be on one line: this text contains a line break', 'give one key per line');
  if (s.includes('\0')) return new Refusal('the line contains a NUL byte', HINT_RECOPY);
  return s;
}

/**
 * One authorized_keys line as sshd reads it: a key, or a certificate line (which sshd reads but never
 * matches: render's reading back needs to recognise it); anything sshd skips is refused with sshd's reason.
 */
export function parseAuthorizedKeyLine(line: string): AuthorizedKeyLine {
  return publicError(() => {
    const parsed = authorizedLineOrRefusal(line);
    if (parsed instanceof Refusal) throw parsed;
    return parsed;
  });
}

function authorizedLineOrRefusal(line: string): AuthorizedKeyLine | Refusal {
  const s = oneLine(line);
  if (s instanceof Refusal) return s;
  const v = readAuthorizedLine(s);
  if (v.kind === 'blank') return new Refusal(s.trim() === '' ? 'the line is empty' : 'the line is a comment, not a key', HINT_RECOPY);
  if (v.kind === 'key') return { ...v.key, options: v.optionTexts, certAuthority: v.certAuthority };
  if (v.certificate) return { ...v.certificate.key, options: v.certificate.optionTexts, certAuthority: v.certificate.certAuthority };
  return new Refusal(v.reason, v.hint);
}

/** One member key: `type base64 [comment]`, no options, no certificate. */
export function parsePublicKey(text: string): PublicKey {
  return publicError(() => {
    const parsed = memberKeyOrRefusal(text);
    if (parsed instanceof Refusal) throw parsed;
    return parsed;
  });
}

function memberKeyOrRefusal(text: string): PublicKey | Refusal {
  if (looksLikePrivateKey(text)) return privateKeyError();
  let s = oneLine(text);
  if (s instanceof Refusal) return s;
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1); // a pasted file's byte-order mark: render writes the key without it
  if (s.trimStart().startsWith('---- BEGIN SSH2 PUBLIC KEY')) return new Refusal('this is an RFC 4716 (SSH2) public key, not OpenSSH format', HINT_RFC4716);
  const parsed = authorizedLineOrRefusal(s);
  if (parsed instanceof Refusal) return parsed;
  if (parsed.options.length > 0)
    return new Refusal('a member key is just `type base64 [comment]`: authorized_keys options are not allowed here', 'remove the options before the key type; infra adds from= and expiry-time itself');
  if (parsed.family === 'certificate')
    return new Refusal(`a certificate (${parsed.type}) is not a member key`, 'add the plain public key (e.g. id_ed25519.pub), not the certificate (id_ed25519-cert.pub)');
  const { options: _o, certAuthority: _c, ...key } = parsed;
  return key;
}

// ---------------------------------------------------------------------------------------------
// Whole files

export interface KeysCheckReport {
  keys: Array<{ line: number; type: string; bits: number; fingerprint: string; comment: string; options: string[]; ok: boolean; problems: string[] }>;
  errors: Array<{ line: number; problem: string }>;
}

/**
 * An authorized_keys text judged line by line as sshd reads it: each key with its policy verdict (and
 * what makes sshd refuse it whatever the client does), each other non-blank line as an error.
 */
export function checkAuthorizedKeys(text: string, policy: SshPolicy, opts: { maxErrors?: number } = {}): KeysCheckReport {
  const maxErrors = opts.maxErrors ?? 1000;
  const report: KeysCheckReport = { keys: [], errors: [] };
  let omitted = 0;
  let firstOmitted = 0;
  readAuthorizedKeys(text, (line, v) => {
    if (v.kind === 'skip') {
      if (report.errors.length < maxErrors) report.errors.push({ line, problem: v.reason });
      else if (omitted++ === 0) firstOmitted = line;
      return;
    }
    const k = v.key;
    const problems = [...policyProblems(k, policy), ...loginProblems(v.options)];
    report.keys.push({ line, type: k.type, bits: k.bits, fingerprint: k.fingerprint, comment: k.comment, options: v.optionTexts, ok: problems.length === 0, problems });
  });
  if (omitted > 0) report.errors.push({ line: firstOmitted, problem: `${omitted} more line${omitted === 1 ? '' : 's'} from here on are not keys (not listed)` });
  return report;
}

// ---------------------------------------------------------------------------------------------
// Text given to `keys add`: a .pub file or pasted lines (not an authorized_keys file)

type Block = { kind: 'private' | 'rfc4716'; start: number };

const BLOCK_PROBLEM = {
  private: { what: 'a private key, not a public key (its content is not shown)', hint: HINT_PRIVATE },
  rfc4716: { what: 'an RFC 4716 (SSH2) public key, not OpenSSH format', hint: HINT_RFC4716 },
} as const;

function blockEnds(kind: Block['kind'], line: string): boolean {
  return kind === 'private' ? line.includes('-----END') || line.startsWith('Private-MAC:') : line.includes('---- END SSH2 PUBLIC KEY');
}

type KeyLineItem = { line: number; text: string } | { line: number; problem: string; hint: string };

/**
 * Walks the non-blank, non-# lines of a text, folding multi-line blocks (a pasted private key,
 * an RFC 4716 public key) into one problem so that their lines are never parsed or echoed one by one.
 */
function eachKeyLine(text: string, visit: (item: KeyLineItem) => void): void {
  const lines = text.split('\n');
  let block: Block | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const lineNo = i + 1;
    if (!block) {
      let at = 0;
      while (at < raw.length && (raw[at] === ' ' || raw[at] === '\t' || raw[at] === '\uFEFF')) at++;
      if (at === raw.length || raw[at] === '#') continue;
      if (raw.charCodeAt(at) <= 0x20 && raw.trim() === '') continue; // e.g. a lone CR of a CRLF blank line
      if ((raw.startsWith('-----BEGIN', at) && raw.includes('PRIVATE KEY')) || raw.startsWith('PuTTY-User-Key-File-', at)) block = { kind: 'private', start: lineNo };
      else if (raw.startsWith('---- BEGIN SSH2 PUBLIC KEY', at)) block = { kind: 'rfc4716', start: lineNo };
      else {
        visit({ line: lineNo, text: raw });
        continue;
      }
      // A block pasted onto one line (its newlines lost) ends where it starts.
      const afterBegin = raw.slice(raw.indexOf('BEGIN') + 5);
      if (!blockEnds(block.kind, afterBegin) && i < lines.length - 1) continue;
    } else if (startsWithKeyType(raw)) {
      // A block whose end line is missing stops at the next public key: that line is parsed as usual.
      visitBlock(block, lineNo - 1);
      block = undefined;
      i--;
      continue;
    } else if (!blockEnds(block.kind, raw) && i < lines.length - 1) continue;
    visitBlock(block, lineNo);
    block = undefined;
  }

  function visitBlock(b: Block, last: number): void {
    const span = b.start === last ? `line ${last}` : `lines ${b.start}-${last}`;
    visit({ line: b.start, problem: `${span}: ${BLOCK_PROBLEM[b.kind].what}`, hint: BLOCK_PROBLEM[b.kind].hint });
  }
}

const isBlank = (c: string) => c === ' ' || c === '\t';

function startsWithKeyType(line: string): boolean {
  let start = 0;
  while (start < line.length && isBlank(line[start])) start++;
  let end = start;
  while (end < line.length && !isBlank(line[end])) end++;
  return end > start && isKnownKeyType(line.slice(start, end));
}

/** A .pub file or lines pasted into `infra keys add`: each key line parsed as a member key. */
export function splitKeyText(text: string): Array<{ line: number; key?: PublicKey; problem?: string; hint?: string }> {
  const out: Array<{ line: number; key?: PublicKey; problem?: string; hint?: string }> = [];
  eachKeyLine(text, (item) => {
    if ('problem' in item) return void out.push({ line: item.line, problem: item.problem, hint: item.hint });
    const key = memberKeyOrRefusal(item.text);
    if (key instanceof Refusal) out.push({ line: item.line, problem: key.message, ...(key.hint ? { hint: key.hint } : {}) });
    else out.push({ line: item.line, key });
  });
  return out;
}
