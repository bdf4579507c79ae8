/**
 * What an earlier render left in a host's file, read back as hostile input: which keys it listed, so that
 * keys no longer granted stay revoked. Nothing in it is copied; what is kept is rebuilt from the parsed key.
 */
import { parse as parseYaml } from 'yaml';
import type { UserAccess } from './grants.js';
import { dict } from './dict.js';
import { parseAuthorizedKeyLine } from './ssh-key.js';
import { BASE64_RE, COMMENT_RE, KEY_TYPE_RE, REMOTE_USER_RE, TEMPLATE_MARK_RE, type RevokedKeyInput } from './render-lines.js';

/** The one remote user Hypha's provision_ssh_keys role manages. */
export const COMPAT_USER = 'sysadmin';

export interface PreviousRender {
  /** remote user -> lines, as the file had them under infra_authorized_keys and infra_revoked_keys. */
  lines: Map<string, string[]>;
  /** The file exists but is not YAML infra could read: nothing carried, and the caller warns. */
  unreadable?: boolean;
}

/** What an earlier render put in a host's file; an unreadable file counts as empty (it is overwritten). */
export function parsePreviousRender(text: string | undefined): PreviousRender {
  if (text === undefined) return { lines: new Map() };
  return scanGeneratedFile(text) ?? parseAnyYaml(text);
}

/**
 * Fast path for files in exactly the shape renderHost writes (the usual case, and big at scale):
 * a line scanner instead of a YAML parser. Anything unexpected returns undefined, and the YAML parser reads it.
 */
function scanGeneratedFile(text: string): PreviousRender | undefined {
  const lines = new Map<string, string[]>();
  let section: 'keys' | 'other' | undefined;
  let user: string | undefined;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    if (!line.startsWith(' ')) {
      const m = /^([a-z_]+):(?: \{\}| \[\])? *(?:#.*)?$/.exec(line);
      if (!m) return undefined;
      section = m[1] === 'infra_authorized_keys' || m[1] === 'infra_revoked_keys' ? 'keys' : 'other';
      user = undefined;
      continue;
    }
    if (section !== 'keys') continue;
    const userLine = /^ {2}(?:([A-Za-z_][A-Za-z0-9_.-]*)|'((?:[^']|'')*)'):( \[\])?$/.exec(line);
    if (userLine) {
      user = userLine[1] ?? userLine[2].replace(/''/g, "'");
      if (!lines.has(user)) lines.set(user, []);
      continue;
    }
    const item = /^ {4}- '((?:[^']|'')*)'$/.exec(line);
    if (!item || user === undefined) return undefined;
    lines.get(user)!.push(item[1].replace(/''/g, "'"));
  }
  return { lines };
}

function parseAnyYaml(text: string): PreviousRender {
  const lines = new Map<string, string[]>();
  let data: unknown;
  try {
    data = parseYaml(text, { maxAliasCount: 100 });
  } catch {
    return { lines, unreadable: true };
  }
  if (!data || typeof data !== 'object') return { lines, unreadable: data !== null && data !== undefined };
  for (const field of ['infra_authorized_keys', 'infra_revoked_keys']) {
    const byUser = (data as Record<string, unknown>)[field];
    if (!byUser || typeof byUser !== 'object' || Array.isArray(byUser)) continue;
    for (const [user, list] of Object.entries(byUser as Record<string, unknown>)) {
      if (!Array.isArray(list)) continue;
      const into = lines.get(user) ?? [];
      for (const line of list) if (typeof line === 'string') into.push(line);
      lines.set(user, into);
    }
  }
  return { lines };
}

/** A value read back from a file, for a warning: short, quoted, every character outside printable ASCII escaped. */
export function shownValue(value: string): string {
  const cut = value.length > 60 ? `${value.slice(0, 60)}...` : value;
  return JSON.stringify(cut).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A key line's type and canonical base64 (and the base64 as written, when that differs). */
export type ParsedBlob = { type: string; base64: string; writtenBase64?: string };

/** `[options ]type base64 comment` as infra writes it, read without decoding the key; undefined when it is not that simple. */
const OWN_LINE_RE = /^(?:[a-z-]+="[^"\s]*"(?:,[a-z-]+="[^"\s]*")* )?([a-z][a-z0-9.@-]*) ([A-Za-z0-9+/]+={0,2}) (\S+)$/;

/**
 * Keys the previous file listed (granted or revoked) that are not granted now: they stay revoked.
 * Nothing in that file is trusted (docs/reference.md, "Render"): a user name that is not a Unix user name, a line that is not
 * a key as ssh-key.ts parses it, anything holding a Jinja2 mark, is dropped, and `warn` says what and where.
 * What is kept is rebuilt from the parsed key (canonical type and base64), never copied.
 * `renderedNow` (user -> the exact lines this render writes for that user) lets the usual case, a line
 * written again as it was, skip decoding: such a line is this render's own output.
 */
export function carriedRevocations(
  previous: PreviousRender,
  users: Map<string, UserAccess>,
  warn: (message: string) => void,
  renderedNow: Map<string, Set<string>> = new Map(),
  canonicalCache: Map<string, ParsedBlob> = new Map(),
): Record<string, RevokedKeyInput[]> {
  const out = dict<RevokedKeyInput[]>();
  for (const [user, lines] of previous.lines) {
    if (!REMOTE_USER_RE.test(user)) {
      warn(`dropped the remote user ${shownValue(user)} and its ${lines.length} line(s): not a Unix user name`);
      continue;
    }
    const grantedNow = new Set((users.get(user)?.granted ?? []).map((g) => g.parsed.base64));
    const same = renderedNow.get(user);
    for (const line of lines) {
      if (same?.has(line)) continue;
      let key: { type: string; base64: string; comment: string; writtenBase64?: string; certAuthority?: boolean };
      try {
        if (TEMPLATE_MARK_RE.test(line)) throw new Error('template mark');
        const own = OWN_LINE_RE.exec(line);
        if (own) {
          // the shape render writes: each distinct key is parsed (in full, as sshd would) once per render
          const data = `${own[1]} ${own[2]}`;
          let parsed = canonicalCache.get(data);
          if (parsed === undefined) {
            const k = parseAuthorizedKeyLine(data);
            canonicalCache.set(data, (parsed = { type: k.type, base64: k.base64, ...(k.writtenBase64 ? { writtenBase64: k.writtenBase64 } : {}) }));
          }
          key = { ...parsed, comment: own[3] };
        } else key = parseAuthorizedKeyLine(line); // canonical base64, as sshd reads the line
      } catch {
        warn(`dropped a line of ${user}: ${shownValue(line)} is not an authorized_keys line infra could revoke`);
        continue;
      }
      // Compared by canonical base64, so a padded copy of a granted key is not taken for another key.
      if (grantedNow.has(key.base64) || key.type.endsWith('-cert-v01@openssh.com') || key.certAuthority) continue;
      if (!KEY_TYPE_RE.test(key.type) || !BASE64_RE.test(key.base64)) {
        warn(`dropped a line of ${user}: ${shownValue(line)} is not an authorized_keys line infra could revoke`);
        continue;
      }
      const comment = COMMENT_RE.test(key.comment) ? key.comment : 'unknown/removed';
      (out[user] ??= []).push({ type: key.type, base64: key.base64, comment });
      // A padded line may still be on the host as written: `state: absent` must match that text too.
      if (key.writtenBase64 && BASE64_RE.test(key.writtenBase64)) out[user].push({ type: key.type, base64: key.writtenBase64, comment });
    }
  }
  return out;
}
