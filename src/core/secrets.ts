/**
 * Every secret an admin holds (docs/reference.md "Admin-held secrets"): token values and pending values,
 * the Ansible vault password, the SSH user CA's private key. Each is one OpenPGP message in the registry;
 * who can read it is who the message is encrypted to (its PKESK recipients, read by the adapter), named
 * through the members' pgp.asc key ids — never the admin list of the moment.
 *
 * Pure: the adapter (src/adapters/secret-catalog.ts) lists the files and reads their recipients; this
 * names the kind of each, who can read it, and judges it. A new kind of secret is one entry of SECRET_KINDS.
 */
import type { InfraConfig, IsoDate, Member } from './types.js';
import { shellQuote } from '../lib/shell-quote.js';

export type SecretKind = 'token' | 'pending-token' | 'vault-password' | 'ca-key';
export type ExposedCode = 'secret-exposed' | 'ca-exposed';

export interface SecretKindEntry {
  kind: SecretKind;
  /** What it is, for people: "token value". */
  label: string;
  /** Where its files are: a `*` segment stands for any one name (the adapter lists these folders). */
  folder: string;
  /** Its files, relative to the registry root; the groups feed `subject` and `rotate`. */
  file: RegExp;
  subject(m: RegExpExecArray): string;
  /** The exact command that replaces the value (what makes an exposure go away). */
  rotate(m: RegExpExecArray): string;
  /** The finding when someone who should not can read it. */
  exposedCode: ExposedCode;
  /** A YAML file whose `rotated_at` says when the value was last replaced, when that is not member.yml. */
  dateFile?: string;
}

const TOKEN_DIR = String.raw`keys/([a-z][a-z0-9-]{0,31})/tokens/([A-Za-z0-9][A-Za-z0-9._-]{0,63}?)`;

/** Order matters: the first entry whose `file` matches names the kind (a pending value before a value). */
export const SECRET_KINDS: readonly SecretKindEntry[] = [
  {
    kind: 'pending-token',
    label: 'pending token value',
    folder: 'keys/*/tokens',
    file: new RegExp(`^${TOKEN_DIR}\\.pending\\.asc$`),
    subject: (m) => `${m[1]}/${m[2]} (pending)`,
    rotate: (m) => `infra tokens rotate ${shellQuote(`${m[1]}/${m[2]}`)} --abort`, // then a fresh rotation
    exposedCode: 'secret-exposed',
  },
  {
    kind: 'token',
    label: 'token value',
    folder: 'keys/*/tokens',
    file: new RegExp(`^${TOKEN_DIR}\\.asc$`),
    subject: (m) => `${m[1]}/${m[2]}`,
    rotate: (m) => `infra tokens rotate ${shellQuote(`${m[1]}/${m[2]}`)}`,
    exposedCode: 'secret-exposed',
  },
  {
    kind: 'vault-password',
    label: 'Ansible vault password',
    folder: 'vault',
    file: /^vault\/password\.asc$/,
    subject: () => 'vault/password.asc',
    rotate: () => 'infra vault rotate --key YOUR-KEY.asc',
    exposedCode: 'secret-exposed',
    dateFile: 'vault/vault.yml',
  },
  {
    kind: 'ca-key',
    label: 'SSH user CA private key',
    folder: 'ca',
    file: /^ca\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})\.asc$/,
    subject: (m) => `ca/${m[1]}.asc`,
    rotate: () => 'infra ca rotate',
    exposedCode: 'ca-exposed',
    dateFile: 'ca/ca.yml',
  },
];

/** The kind of a registry file, or undefined when it is not an admin-held secret. */
export function secretKindOf(rel: string): { entry: SecretKindEntry; match: RegExpExecArray } | undefined {
  for (const entry of SECRET_KINDS) {
    const match = entry.file.exec(rel);
    if (match) return { entry, match };
  }
  return undefined;
}

/** One member's OpenPGP certificates as ids (from keys/<handle>/pgp.asc): a message recipient is named through these. */
export interface KeyringEntry {
  handle: string;
  certificates: ReadonlyArray<{ fingerprint: string; keyIds: readonly string[] }>;
}

/** One recipient of a message: an admin's key by handle and fingerprint, or a key nobody in the registry holds (key id only). */
export interface Reader {
  key_id: string;
  handle?: string;
  fingerprint?: string;
}

/** What the adapter read of one secret file. */
export interface SecretFileFacts {
  path: string;
  /** The key ids (upper-case hex) of the message's recipients; undefined when the file is not a readable OpenPGP message. */
  recipients?: readonly string[];
  /** Why it could not be read as a message. */
  unreadable?: string;
  /** sha256 (hex) of the file's bytes: ties a history record to this very ciphertext. */
  digest: string;
  /** Who else could read this value since it was made (a record `tokens reencrypt` keeps beside the file), for this ciphertext. */
  history?: { ciphertext_sha256: string; readable_by: readonly string[] };
  /** rotated_at from the kind's dateFile, when readable. */
  rotated_at?: IsoDate;
}

/** One admin-held secret, as `infra tokens secrets`/audit/offboard see it. */
export interface CatalogEntry {
  kind: SecretKind;
  label: string;
  path: string;
  subject: string;
  rotate: string;
  exposed_code: ExposedCode;
  rotated_at?: IsoDate;
  /** Who the ciphertext is encrypted to, now. */
  readable_by: Reader[];
  /** Handles who could read this value at some point since it was made (readable_by's handles, plus the recorded history). */
  ever_readable_by: string[];
  unreadable?: string;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Key id -> handle and fingerprint, over every member's certificates (departed ones too: they are who to name). */
export function keyIndex(keyring: readonly KeyringEntry[]): Map<string, { handle: string; fingerprint: string }> {
  const index = new Map<string, { handle: string; fingerprint: string }>();
  for (const m of keyring) for (const c of m.certificates) for (const id of c.keyIds) if (!index.has(id.toUpperCase())) index.set(id.toUpperCase(), { handle: m.handle, fingerprint: c.fingerprint });
  return index;
}

/** The recipients of a message, named. */
export function namedReaders(recipients: readonly string[], keyring: readonly KeyringEntry[]): Reader[] {
  const index = keyIndex(keyring);
  return [...new Set(recipients.map((r) => r.toUpperCase()))].sort(byText).map((key_id) => {
    const known = index.get(key_id);
    return known ? { key_id, handle: known.handle, fingerprint: known.fingerprint } : { key_id };
  });
}

/** The handles of a reader list (readers nobody holds are left out). */
export const readerHandles = (readers: readonly Reader[]): string[] => [...new Set(readers.flatMap((r) => (r.handle ? [r.handle] : [])))].sort(byText);

/** One catalog entry from what the adapter read; undefined for a file that is no admin-held secret. */
export function catalogEntry(facts: SecretFileFacts, members: readonly Member[], keyring: readonly KeyringEntry[]): CatalogEntry | undefined {
  const kind = secretKindOf(facts.path);
  if (!kind) return undefined;
  const { entry, match } = kind;
  const readers = namedReaders(facts.recipients ?? [], keyring);
  const ever = new Set(readerHandles(readers));
  let rotatedAt = facts.rotated_at;
  if (entry.kind === 'token' || entry.kind === 'pending-token') {
    const token = members.find((m) => m.handle === match[1])?.tokens.find((t) => t.name === match[2]);
    if (entry.kind === 'token') {
      rotatedAt = token?.rotated_at;
      for (const h of token?.readable_by ?? []) ever.add(h); // recorded since the last rotation (never removes a reader)
    } else rotatedAt = token?.pending?.started_at;
  }
  if (facts.history && facts.history.ciphertext_sha256 === facts.digest) for (const h of facts.history.readable_by) ever.add(h);
  return {
    kind: entry.kind,
    label: entry.label,
    path: facts.path,
    subject: entry.subject(match),
    rotate: entry.rotate(match),
    exposed_code: entry.exposedCode,
    ...(rotatedAt ? { rotated_at: rotatedAt } : {}),
    readable_by: readers,
    ever_readable_by: [...ever].sort(byText),
    ...(facts.unreadable ? { unreadable: facts.unreadable } : {}),
  };
}

export function buildCatalog(files: readonly SecretFileFacts[], members: readonly Member[], keyring: readonly KeyringEntry[]): CatalogEntry[] {
  return files.flatMap((f) => catalogEntry(f, members, keyring) ?? []).sort((a, b) => byText(a.path, b.path));
}

/** Who could read this secret and should not: handles that are no current admin (or departed), and keys nobody in the registry holds. */
export function formerReaders(entry: CatalogEntry, admins: readonly string[], members: readonly Member[]): { handles: string[]; unknownKeys: string[] } {
  const departed = new Set(members.filter((m) => m.status === 'departed').map((m) => m.handle));
  // the history record names a key no member held as `key HEX`
  const handles = entry.ever_readable_by.filter((h) => !h.startsWith('key ') && (!admins.includes(h) || departed.has(h)));
  const recorded = entry.ever_readable_by.filter((h) => h.startsWith('key ')).map((h) => h.slice(4));
  const unknownKeys = [...new Set([...entry.readable_by.filter((r) => !r.handle).map((r) => r.key_id), ...recorded])].sort(byText);
  return { handles, unknownKeys };
}

/** The current admins (with a key, not departed) to whom the ciphertext is not encrypted. */
export function missingReaders(entry: CatalogEntry, config: InfraConfig, members: readonly Member[]): string[] {
  const readers = new Set(readerHandles(entry.readable_by));
  const current = (a: string) => members.find((m) => m.handle === a && m.status !== 'departed')?.has_pgp;
  return config.admins.filter((a) => current(a) && !readers.has(a)).sort(byText);
}

export interface SecretFinding {
  code: ExposedCode | 'secret-not-readable';
  severity: 'high' | 'medium';
  subject: string;
  detail: string;
  fix: string;
}

/** secret-exposed / ca-exposed (high) and secret-not-readable (medium), one per fact and secret. */
export function secretFindings(catalog: readonly CatalogEntry[], config: InfraConfig | undefined, members: readonly Member[]): SecretFinding[] {
  const out: SecretFinding[] = [];
  const byHandle = new Map(members.map((m) => [m.handle, m]));
  const admins = config?.admins ?? [];
  for (const entry of catalog) {
    if (entry.unreadable) {
      out.push({ code: 'secret-not-readable', severity: 'medium', subject: entry.subject, detail: `${entry.path} ${entry.unreadable}, so no admin can read the ${entry.label}`, fix: `git checkout -- ${shellQuote(entry.path)} (a good version), or ${entry.rotate}` });
      continue;
    }
    const { handles, unknownKeys } = config ? formerReaders(entry, admins, members) : { handles: entry.ever_readable_by.filter((h) => byHandle.get(h)?.status === 'departed'), unknownKeys: [] };
    if (handles.length || unknownKeys.length) {
      const who = [
        ...handles.map((h) => `${h} (${byHandle.get(h)?.status === 'departed' ? `departed ${byHandle.get(h)!.departed ?? ''}`.trim() : 'no longer an admin'})`),
        ...unknownKeys.map((k) => `key ${k} (no member's key)`),
      ];
      out.push({
        code: entry.exposed_code,
        severity: 'high',
        subject: entry.subject,
        detail: `the ${entry.label} in ${entry.path} is readable by ${who.join(', ')}${entry.rotated_at ? `; last replaced ${entry.rotated_at}` : ''}, and it has not been rotated since`,
        fix: entry.rotate,
      });
    }
    if (config) {
      const missing = missingReaders(entry, config, members);
      if (missing.length)
        out.push({
          code: 'secret-not-readable',
          severity: 'medium',
          subject: entry.subject,
          detail: `the ${entry.label} in ${entry.path} is not encrypted to admin${missing.length === 1 ? '' : 's'} ${missing.join(', ')}`,
          fix: 'infra tokens reencrypt --key YOUR-KEY.asc',
        });
    }
  }
  return out;
}

/** Every secret `handle` could read, by kind, with the exact command that replaces it (offboarding, removal from admins). */
export function secretsReadableBy(catalog: readonly CatalogEntry[], handle: string): Array<{ kind: SecretKind; label: string; subject: string; path: string; rotate: string }> {
  return catalog.filter((e) => e.ever_readable_by.includes(handle)).map((e) => ({ kind: e.kind, label: e.label, subject: e.subject, path: e.path, rotate: e.rotate }));
}

/** The checklist lines for those secrets: one per secret, each with its exact command. */
export function secretChecklistLines(secrets: ReturnType<typeof secretsReadableBy>, handle: string): string[] {
  return secrets.map((s) => `Rotate the ${s.label} ${s.subject}: \`${s.rotate}\` (readable by ${handle} until then).`);
}
