/**
 * authorized_keys files read exactly as sshd reads them (OpenSSH 9.x auth2-pubkeyfile.c
 * check_authkeys_file / auth_check_authkey_line, sshkey_read, auth-options.c sshauthopt_parse):
 * every line on its own, whatever came before it; a line is a key when sshd would match a key
 * against it, and any other non-blank line is skipped, with the reason, and grants nothing.
 * This is the one parser behind `keys check`, the registry's keys, render's reading back and the
 * live audit (docs/reference.md, "SSH keys").
 * Pure: no fs, no clock.
 */
import { HINT_RECOPY, Refusal, describeNonKey, excerpt, isKnownKeyType, keyFromParts, looksLikePrivateKey, type PublicKey } from './ssh-key-blob.js';
import { parseKeyOptions, type KeyOption } from './key-options.js';

export type { KeyOption } from './key-options.js';

export interface AuthorizedKey {
  line: number; // 1-based
  options: KeyOption[];
  type: string;
  blob: string; // canonical base64 of the key blob
  comment: string;
}

export interface SkippedLine {
  line: number;
  reason: string;
}

/** A line sshd reads as a key, with everything infra knows about it. */
export interface ReadKeyLine {
  line: number;
  key: PublicKey;
  options: KeyOption[];
  /** Each option as written, e.g. `from="10.0.0.0/8"`. */
  optionTexts: string[];
  certAuthority: boolean;
}

export type LineVerdict =
  | { kind: 'blank' }
  | { kind: 'key'; key: PublicKey; options: KeyOption[]; optionTexts: string[]; certAuthority: boolean }
  /** `certificate`: the line held a well-formed certificate, which sshd reads but never matches. */
  | { kind: 'skip'; reason: string; hint?: string; certificate?: { key: PublicKey; optionTexts: string[]; certAuthority: boolean } };

const isBlank = (c: string) => c === ' ' || c === '\t';

function skipBlanks(s: string, from: number): number {
  let i = from;
  while (i < s.length && isBlank(s[i])) i++;
  return i;
}

function blankEnd(s: string, from: number): number {
  let i = from;
  while (i < s.length && !isBlank(s[i])) i++;
  return i;
}

/** b64_pton skips these inside the key data (isspace less the blanks, which end the token): a CRLF line's CR among them. */
const isInnerSpace = (c: number) => c === 10 || c === 11 || c === 12 || c === 13;

/**
 * sshkey_read at `from`: a type name sshd knows (exactly, case and all), blanks, the base64 key data up to
 * the next blank (CR, LF, VT, FF inside it are skipped, as b64_pton skips them), and a blob of that type.
 * Returns the key and where its data ends, or why there is none (`looksLikeKey`: the type was known).
 */
function readKeyAt(s: string, from: number): { key: PublicKey; end: number } | { problem: Refusal; looksLikeKey: boolean } {
  const typeEnd = blankEnd(s, from);
  const type = s.slice(from, typeEnd);
  if (!isKnownKeyType(type)) return { problem: NO_KEY, looksLikeKey: false };
  if (typeEnd === s.length) return { problem: new Refusal(`the ${type} key has no key data after its type`, HINT_RECOPY), looksLikeKey: true };
  const dataStart = skipBlanks(s, typeEnd);
  if (dataStart === s.length) return { problem: new Refusal(`the ${type} key has no key data after its type`, HINT_RECOPY), looksLikeKey: true };
  const dataEnd = blankEnd(s, dataStart);
  try {
    const written = s.slice(dataStart, dataEnd);
    let data = written;
    for (let i = 0; i < written.length; i++)
      if (isInnerSpace(written.charCodeAt(i))) {
        data = withoutInnerSpace(written);
        break;
      }
    const key = keyFromParts(type, data, trimComment(s.slice(skipBlanks(s, dataEnd))));
    return { key, end: dataEnd };
  } catch (e) {
    if (e instanceof Refusal) return { problem: e, looksLikeKey: true };
    throw e;
  }
}

function withoutInnerSpace(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) if (!isInnerSpace(text.charCodeAt(i))) out += text[i];
  return out;
}

const NO_KEY = new Refusal('not a key', HINT_RECOPY);

/** The comment as written, without the trailing CR and blanks of the line. */
function trimComment(text: string): string {
  let end = text.length;
  while (end > 0 && (isBlank(text[end - 1]) || text[end - 1] === '\r')) end--;
  return text.slice(0, end);
}

/** sshkey_advance_past_options: the end of the options, the first blank outside double quotes (`\"` does not toggle). */
function optionsEnd(s: string, from: number): number | undefined {
  let quoted = false;
  let i = from;
  for (; i < s.length && (quoted || !isBlank(s[i])); i++) {
    if (s[i] === '\\' && s[i + 1] === '"') i++;
    else if (s[i] === '"') quoted = !quoted;
  }
  return i === s.length && quoted ? undefined : i;
}

const TYPE_LIKE_RE = /^[A-Za-z0-9][A-Za-z0-9.@_-]*$/;

/** Why a line that is not a key is not, without echoing what may be a secret; `keyFrom`: where a key after options would start. */
function notAKey(s: string, from: number, keyFrom: number): string {
  if (looksLikePrivateKey(s)) return 'a line of a private key, not a public key (not shown); sshd reads every line on its own, so it hides nothing after it';
  if (s.startsWith('---- ', from) && s.includes('SSH2 PUBLIC KEY')) return 'an RFC 4716 (SSH2) public key line, not OpenSSH format; sshd reads every line on its own, so it hides nothing after it';
  if (s.charCodeAt(from) === 0xfeff) return 'starts with a byte-order mark: sshd reads it as part of the key type, so the line is not a key';
  for (const at of [from, keyFrom]) {
    const typeEnd = blankEnd(s, at);
    if (typeEnd - at <= 80 && TYPE_LIKE_RE.test(s.slice(at, typeEnd)) && s.startsWith('AAAA', skipBlanks(s, typeEnd)))
      return `unsupported key type ${excerpt(s.slice(at, typeEnd), 40)} (sshd knows key types by their exact name, e.g. ssh-ed25519)`;
  }
  return `not an SSH public key: ${describeNonKey(trimComment(s.slice(from)))}`;
}

/**
 * One line as sshd reads it. `raw` is the line without its LF. A NUL ends the line for sshd (a C string).
 * Blank lines (blanks, a lone CR) and `#` comments are `blank`: sshd passes over them.
 */
export function readAuthorizedLine(raw: string): LineVerdict {
  const nul = raw.indexOf('\0');
  const s = nul >= 0 ? raw.slice(0, nul) : raw;
  const start = skipBlanks(s, 0);
  if (start === s.length || s[start] === '#') return { kind: 'blank' };
  if (s.charCodeAt(start) === 13 && s.slice(start).trim() === '') return { kind: 'blank' };

  let read = readKeyAt(s, start);
  let options: ReturnType<typeof parseKeyOptions> = { options: [], texts: [] };
  if ('problem' in read) {
    const first = read;
    // No key at the start: sshd takes the first word as options and looks for the key after them.
    const end = optionsEnd(s, start);
    if (end === undefined) return { kind: 'skip', reason: first.looksLikeKey ? first.problem.message : 'the options have an unterminated double quote (sshd: invalid key option string)', hint: first.problem.hint };
    const keyFrom = skipBlanks(s, end);
    read = readKeyAt(s, keyFrom);
    if ('problem' in read) {
      const why = looksLikePrivateKey(s) ? undefined : first.looksLikeKey ? first.problem : read.looksLikeKey ? read.problem : undefined;
      return why ? { kind: 'skip', reason: why.message, ...(why.hint ? { hint: why.hint } : {}) } : { kind: 'skip', reason: notAKey(s, start, keyFrom), hint: HINT_RECOPY };
    }
    const parsed = parseKeyOptions(s, start);
    if (parsed instanceof Refusal) return { kind: 'skip', reason: parsed.message, ...(parsed.hint ? { hint: parsed.hint } : {}) };
    options = parsed;
  }
  const { key } = read;
  const certAuthority = options.options.some((o) => o.name === 'cert-authority');
  if (key.family === 'certificate')
    return {
      kind: 'skip',
      reason: `a certificate (${key.type}): sshd never matches a certificate written in authorized_keys, so the line grants nothing`,
      hint: 'write the plain public key, or the CA key with cert-authority',
      certificate: { key, optionTexts: options.texts, certAuthority },
    };
  return { kind: 'key', key, options: options.options, optionTexts: options.texts, certAuthority };
}

/** Every line of an authorized_keys text, as sshd reads each: keys, and the non-blank lines that are not (with why). */
export function readAuthorizedKeys(text: string, visit: (line: number, verdict: Exclude<LineVerdict, { kind: 'blank' }>) => void): void {
  let lineNo = 0;
  let from = 0;
  while (from <= text.length) {
    let to = text.indexOf('\n', from);
    if (to < 0) to = text.length;
    lineNo++;
    const verdict = readAuthorizedLine(text.slice(from, to));
    if (verdict.kind !== 'blank') visit(lineNo, verdict);
    from = to + 1;
  }
}

/** The keys sshd would match in an authorized_keys text, and every other non-blank, non-comment line with why it grants nothing. */
export function parseAuthorizedKeys(text: string): { keys: AuthorizedKey[]; skipped: SkippedLine[] } {
  const keys: AuthorizedKey[] = [];
  const skipped: SkippedLine[] = [];
  readAuthorizedKeys(text, (line, v) => {
    if (v.kind === 'skip') skipped.push({ line, reason: v.reason });
    else keys.push({ line, options: v.options, type: v.key.type, blob: v.key.base64, comment: v.key.comment });
  });
  return { keys, skipped };
}
