/**
 * "What changed since" (docs/reference.md, "infra audit" `--since`): access changes between two versions of the registry's files,
 * per commit. Pure: the git adapter (src/adapters/git.ts) reads the files at each commit; this reads them.
 *
 * History holds files that no longer validate, or validated under older rules, so reading is lenient:
 * only the fields that changes are about are taken, each when it has the expected type. A change is
 * judged by identity, not text: keys by their decoded blob (a renamed key is not a new one), VPN peers
 * by their public key, grants by their content.
 */
import { parse as parseYaml } from 'yaml';
import { parsePublicKey } from './ssh-key.js';

export type ChangeKind =
  | 'member-added'
  | 'member-offboarded'
  | 'member-changed'
  | 'member-removed'
  | 'key-added'
  | 'key-removed'
  | 'grant-added'
  | 'grant-removed'
  | 'grant-changed'
  | 'peer-added'
  | 'peer-removed'
  | 'token-rotated'
  | 'pgp-key-added'
  | 'pgp-key-replaced'
  | 'pgp-key-removed'
  | 'token-consumer-added'
  | 'token-consumer-removed'
  | 'certificate-issued'
  | 'certificate-revoked'
  | 'admin-added'
  | 'admin-removed'
  | 'readers-changed';

export interface Change {
  date: string; // the commit's date, YYYY-MM-DD
  commit: string; // short hash
  kind: ChangeKind;
  subject: string;
  detail?: string;
  /** with signature checking (audit --since in git): the member whose valid signature the commit carries */
  signer?: string;
  /** whether the change rules allow the commit (docs/reference.md, "Signed changes") */
  verdict?: 'allowed' | 'violation';
  /** an edit of the working tree not committed yet (`commit` is then "uncommitted") */
  uncommitted?: boolean;
}

/** One commit's registry files before (its first parent) and after: relative path -> text; absent = no such file. */
export interface CommitFiles {
  commit: string;
  date: string;
  before: ReadonlyMap<string, string>;
  after: ReadonlyMap<string, string>;
}

interface SnapshotGrant {
  groups: string[];
  hosts: string;
  user: string;
  vpn_only: boolean;
  environments?: string[];
}

interface SnapshotMember {
  handle: string;
  name?: string;
  org?: string;
  kind?: string;
  status?: string;
  departed?: string;
  groups: string[];
  keys: Map<string, { name: string; expires?: string }>; // canonical blob -> key
  peers: Map<string, { device: string; network: string; addresses: string[] }>; // WireGuard public key -> peer
  tokens: Map<string, { rotated_at?: string; rotated_by?: string; consumers: string[]; readable_by?: string[] }>;
  /** serial -> what the record says (member.yml `certificates`). */
  certificates?: Map<number, SnapshotCertificate>;
}

interface SnapshotCertificate {
  key?: string;
  valid_after?: string;
  valid_before?: string;
  signed_by?: string;
  reason?: string;
  revoked?: string;
}

interface Snapshot {
  /** undefined when the files given do not include infra.yml (it did not change) or it does not parse. */
  grants?: SnapshotGrant[];
  admins?: string[];
  members: Map<string, SnapshotMember>;
  /** keys/<handle>/pgp.asc as the git adapter hands it on: the fingerprints of its certificates ([] when none reads). */
  pgp: Map<string, string[]>;
  /** Files given that do not parse (a commit with a broken file): nothing is concluded from them. */
  unreadable: Set<string>;
}

const CONFIG_FILE = 'infra.yml';
const MEMBER_FILE_RE = /^keys\/([^/]+)\/member\.yml$/;
const PGP_FILE_RE = /^keys\/([^/]+)\/pgp\.asc$/;

/** A consumer as its CLI form (`github_secret:owner/repo:NAME`), leniently: history may hold any shape. */
function consumerText(c: unknown): string | undefined {
  if (!isObject(c)) return undefined;
  const [kind, fields] = Object.entries(c)[0] ?? [];
  if (kind === undefined) return undefined;
  if (!isObject(fields)) return kind;
  return [kind, ...Object.values(fields).map((v) => (typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v)))].join(':');
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : v instanceof Date ? v.toISOString().slice(0, 10) : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter(isObject) : []);
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function parseData(text: string): unknown {
  try {
    return parseYaml(text);
  } catch {
    return undefined;
  }
}

/** The key's identity: its decoded blob; for a line that no longer parses, its base64 as written. */
function keyIdentity(line: string): string | undefined {
  try {
    return parsePublicKey(line).blob.toString('base64');
  } catch {
    return line.trim().split(/\s+/)[1];
  }
}

function readMember(handle: string, data: unknown): SnapshotMember | undefined {
  if (!isObject(data)) return undefined;
  const keys = new Map<string, { name: string; expires?: string }>();
  for (const k of list(data.ssh_keys)) {
    const line = str(k.key);
    const name = str(k.name);
    const id = line === undefined ? undefined : keyIdentity(line);
    if (id && name) keys.set(id, { name, ...(str(k.expires) ? { expires: str(k.expires) } : {}) });
  }
  const peers = new Map<string, { device: string; network: string; addresses: string[] }>();
  for (const p of list(data.vpn_peers)) {
    const key = str(p.public_key);
    const device = str(p.device);
    const network = str(p.network);
    if (key && device && network) peers.set(key, { device, network, addresses: strings(p.addresses) });
  }
  const tokens = new Map<string, { rotated_at?: string; rotated_by?: string; consumers: string[]; readable_by?: string[] }>();
  for (const t of list(data.tokens)) {
    const name = str(t.name);
    const consumers = (Array.isArray(t.consumers) ? t.consumers : []).flatMap((c) => consumerText(c) ?? []);
    const readers = Array.isArray(t.readable_by) ? { readable_by: strings(t.readable_by) } : {};
    if (name) tokens.set(name, { ...(str(t.rotated_at) ? { rotated_at: str(t.rotated_at) } : {}), ...(str(t.rotated_by) ? { rotated_by: str(t.rotated_by) } : {}), consumers, ...readers });
  }
  const certificates = new Map<number, SnapshotCertificate>();
  for (const c of list(data.certificates)) {
    if (typeof c.serial !== 'number' || !Number.isSafeInteger(c.serial)) continue;
    const fields = ['key', 'valid_after', 'valid_before', 'signed_by', 'reason', 'revoked'] as const;
    certificates.set(c.serial, Object.fromEntries(fields.flatMap((f) => (str(c[f]) ? [[f, str(c[f])]] : []))));
  }
  return {
    handle,
    certificates,
    ...(str(data.name) ? { name: str(data.name) } : {}),
    ...(str(data.org) ? { org: str(data.org) } : {}),
    ...(str(data.kind) ? { kind: str(data.kind) } : {}),
    ...(str(data.status) ? { status: str(data.status) } : {}),
    ...(str(data.departed) ? { departed: str(data.departed) } : {}),
    groups: strings(data.groups),
    keys,
    peers,
    tokens,
  };
}

/** The parts of the registry that changes are about, from whichever of its files are given. */
export function readSnapshot(files: ReadonlyMap<string, string>): Snapshot {
  const snapshot: Snapshot = { members: new Map(), pgp: new Map(), unreadable: new Set() };
  for (const [path, text] of files) {
    const pgp = PGP_FILE_RE.exec(path);
    if (pgp) {
      snapshot.pgp.set(pgp[1], text.split('\n').filter((l) => /^[0-9A-F]{16,64}$/.test(l)));
      continue;
    }
    if (path === CONFIG_FILE) {
      const data = parseData(text);
      if (!isObject(data)) {
        snapshot.unreadable.add(path);
        continue;
      }
      snapshot.admins = strings(data.admins);
      snapshot.grants = list(data.access).flatMap((g) => {
        const hosts = str(g.hosts);
        const user = str(g.user);
        if (hosts === undefined || user === undefined) return [];
        return [{ groups: strings(g.groups), hosts, user, vpn_only: g.vpn_only === true, ...(Array.isArray(g.environments) ? { environments: strings(g.environments) } : {}) }];
      });
      continue;
    }
    const m = MEMBER_FILE_RE.exec(path);
    if (!m) continue;
    const member = readMember(m[1], parseData(text));
    if (member) snapshot.members.set(m[1], member);
    else snapshot.unreadable.add(path);
  }
  return snapshot;
}

const describeGrant = (g: SnapshotGrant) =>
  `${g.groups.join(', ')} -> ${g.hosts} as ${g.user}${g.vpn_only ? ' (VPN only)' : ''}${g.environments ? ` in ${g.environments.join(', ')}` : ''}`;
const grantIdentity = (g: SnapshotGrant) => JSON.stringify([[...g.groups].sort(), g.hosts, g.user, g.vpn_only, g.environments ? [...g.environments].sort() : null]);

/** Grants compared as a multiset; a removed and an added grant for the same groups, or the same hosts and user, are one change. */
function grantChanges(before: SnapshotGrant[], after: SnapshotGrant[]): Array<Pick<Change, 'kind' | 'subject' | 'detail'>> {
  const removed = [...before];
  const added: SnapshotGrant[] = [];
  for (const g of after) {
    const i = removed.findIndex((r) => grantIdentity(r) === grantIdentity(g));
    if (i >= 0) removed.splice(i, 1);
    else added.push(g);
  }
  const out: Array<Pick<Change, 'kind' | 'subject' | 'detail'>> = [];
  const sameGroups = (a: SnapshotGrant, b: SnapshotGrant) => JSON.stringify([...a.groups].sort()) === JSON.stringify([...b.groups].sort());
  for (const g of added) {
    const i = removed.findIndex((r) => sameGroups(r, g) || (r.hosts === g.hosts && r.user === g.user));
    if (i >= 0) {
      const [old] = removed.splice(i, 1);
      out.push({ kind: 'grant-changed', subject: describeGrant(g), detail: `was ${describeGrant(old)}` });
    } else out.push({ kind: 'grant-added', subject: describeGrant(g) });
  }
  for (const g of removed) out.push({ kind: 'grant-removed', subject: describeGrant(g) });
  return out;
}

function memberChanges(handle: string, before: SnapshotMember | undefined, after: SnapshotMember | undefined): Array<Pick<Change, 'kind' | 'subject' | 'detail'>> {
  const out: Array<Pick<Change, 'kind' | 'subject' | 'detail'>> = [];
  if (!before && !after) return out;
  if (!after) return [{ kind: 'member-removed', subject: handle, detail: `keys/${handle}/member.yml deleted` }];
  if (!before)
    out.push({ kind: 'member-added', subject: handle, detail: [after.name, after.org && `(${after.org})`, after.groups.length ? `groups ${after.groups.join(', ')}` : ''].filter(Boolean).join(' ') });
  else {
    if (before.status !== 'departed' && after.status === 'departed') out.push({ kind: 'member-offboarded', subject: handle, ...(after.departed ? { detail: `departed on ${after.departed}` } : {}) });
    const edits: string[] = [];
    if (before.status === 'departed' && after.status !== 'departed') edits.push(`status ${before.status} -> ${after.status ?? '(none)'}`);
    const g0 = [...before.groups].sort(byText).join(', ');
    const g1 = [...after.groups].sort(byText).join(', ');
    if (g0 !== g1) edits.push(`groups ${g0 || '(none)'} -> ${g1 || '(none)'}`);
    for (const field of ['name', 'org', 'kind'] as const) if (before[field] !== after[field]) edits.push(`${field} ${before[field] ?? '(none)'} -> ${after[field] ?? '(none)'}`);
    for (const [id, k] of after.keys) {
      const old = before.keys.get(id);
      if (!old) continue;
      if (old.name !== k.name) edits.push(`key ${old.name} renamed ${k.name}`);
      if (old.expires !== k.expires) edits.push(`key ${k.name} expires ${old.expires ?? '(never)'} -> ${k.expires ?? '(never)'}`);
    }
    if (edits.length) out.push({ kind: 'member-changed', subject: handle, detail: edits.join('; ') });
  }
  const keysBefore = before?.keys ?? new Map();
  for (const [id, k] of after.keys) if (!keysBefore.has(id)) out.push({ kind: 'key-added', subject: `${handle}/${k.name}` });
  for (const [id, k] of keysBefore) if (!after.keys.has(id)) out.push({ kind: 'key-removed', subject: `${handle}/${k.name}` });
  const peersBefore = before?.peers ?? new Map();
  for (const [key, p] of after.peers) if (!peersBefore.has(key)) out.push({ kind: 'peer-added', subject: `${handle}/${p.device}`, detail: `${p.network} ${p.addresses.join(', ')}`.trim() });
  for (const [key, p] of peersBefore) if (!after.peers.has(key)) out.push({ kind: 'peer-removed', subject: `${handle}/${p.device}`, detail: p.network });
  for (const [name, t] of after.tokens) {
    const old = before?.tokens.get(name);
    if (t.rotated_at && t.rotated_at !== old?.rotated_at)
      out.push({ kind: 'token-rotated', subject: `${handle}/${name}`, detail: `on ${t.rotated_at}${t.rotated_by ? ` by ${t.rotated_by}` : ''}` });
    // a consumer is where the next rotation writes the value: a new one (or one pointed elsewhere) redirects it
    for (const c of t.consumers) if (!(old?.consumers ?? []).includes(c)) out.push({ kind: 'token-consumer-added', subject: `${handle}/${name}`, detail: c });
    for (const c of old?.consumers ?? []) if (!t.consumers.includes(c)) out.push({ kind: 'token-consumer-removed', subject: `${handle}/${name}`, detail: c });
    const readers = readerChange(old?.readable_by, t.readable_by);
    if (readers) out.push({ kind: 'readers-changed', subject: `${handle}/${name}`, detail: readers });
  }
  out.push(...certificateChanges(handle, before?.certificates, after.certificates));
  return out;
}

/** Who can read a token's value (its `readable_by`): who was added and who no longer is, or undefined when the same. */
function readerChange(before: string[] | undefined, after: string[] | undefined): string | undefined {
  const was = new Set(before ?? []);
  const now = new Set(after ?? []);
  const added = [...now].filter((h) => !was.has(h)).sort(byText);
  const removed = [...was].filter((h) => !now.has(h)).sort(byText);
  if (!added.length && !removed.length) return undefined;
  return [added.length ? `readable by ${added.join(', ')} too` : '', removed.length ? `no longer recorded as readable by ${removed.join(', ')}` : ''].filter(Boolean).join('; ');
}

/** Who a held secret file (vault/password.asc, ca/*.asc) is encrypted to changed in one commit: readers are handles, or `key <ID>` for a key nobody holds. */
export function secretReadersChanged(meta: { commit: string; date: string }, file: string, before: string[] | undefined, after: string[] | undefined): Change | undefined {
  const detail = readerChange(before, after);
  return detail ? { ...meta, kind: 'readers-changed', subject: file, detail } : undefined;
}

/** Admins added to or removed from infra.yml `admins:`: who receives every secret at the next re-encryption. */
function adminChanges(before: string[], after: string[]): Array<Pick<Change, 'kind' | 'subject' | 'detail'>> {
  return [
    ...after.filter((h) => !before.includes(h)).map((h) => ({ kind: 'admin-added' as const, subject: h, detail: 'now an admin: `infra tokens reencrypt` gives them every secret' })),
    ...before.filter((h) => !after.includes(h)).map((h) => ({ kind: 'admin-removed' as const, subject: h, detail: 'no longer an admin: what they could read stays exposed until rotated' })),
  ];
}

/** Certificates issued (who signed, for which window, why) and revoked: the meeting sees who had shift access. */
function certificateChanges(handle: string, before: Map<number, SnapshotCertificate> | undefined, after: Map<number, SnapshotCertificate> | undefined): Array<Pick<Change, 'kind' | 'subject' | 'detail'>> {
  const out: Array<Pick<Change, 'kind' | 'subject' | 'detail'>> = [];
  for (const [serial, c] of [...(after ?? new Map<number, SnapshotCertificate>())].sort(([a], [b]) => a - b)) {
    const old = before?.get(serial);
    const subject = `${handle}/${c.key ?? '?'}#${serial}`;
    if (!old)
      out.push({
        kind: 'certificate-issued',
        subject,
        detail: `${c.valid_after ?? '?'} to ${c.valid_before ?? '?'}${c.signed_by ? `, signed by ${c.signed_by}` : ''}${c.reason ? `: ${c.reason}` : ''}`,
      });
    if (c.revoked && !old?.revoked) out.push({ kind: 'certificate-revoked', subject, detail: `on ${c.revoked}` });
  }
  return out;
}

/** An admin's OpenPGP key decides who the next re-encryption hands every secret to: a new one is a change. */
function pgpChanges(handle: string, before: string[] | undefined, after: string[] | undefined): Array<Pick<Change, 'kind' | 'subject' | 'detail'>> {
  const name = (fps: string[]) => (fps.length ? fps.join(', ') : 'no readable certificate');
  if (before === undefined && after === undefined) return [];
  if (before === undefined) return [{ kind: 'pgp-key-added', subject: handle, detail: name(after!) }];
  if (after === undefined) return [{ kind: 'pgp-key-removed', subject: handle, detail: `was ${name(before)}` }];
  if (before.join() === after.join()) return [];
  return [{ kind: 'pgp-key-replaced', subject: handle, detail: `now ${name(after)} (was ${name(before)})` }];
}

/** The access changes one commit made, given its registry files before and after. */
export function changesIn(files: CommitFiles): Change[] {
  const before = readSnapshot(files.before);
  const after = readSnapshot(files.after);
  const meta = { date: files.date, commit: files.commit };
  const out: Change[] = [];
  const unreadable = new Set([...before.unreadable, ...after.unreadable]);
  const configTouched = files.before.has(CONFIG_FILE) || files.after.has(CONFIG_FILE);
  if (configTouched && !unreadable.has(CONFIG_FILE)) {
    for (const c of adminChanges(before.admins ?? [], after.admins ?? [])) out.push({ ...meta, ...c });
    for (const c of grantChanges(before.grants ?? [], after.grants ?? [])) out.push({ ...meta, ...c });
  }
  const handles = [...new Set([...before.members.keys(), ...after.members.keys()])].sort(byText);
  for (const h of handles.filter((x) => !unreadable.has(`keys/${x}/member.yml`))) for (const c of memberChanges(h, before.members.get(h), after.members.get(h))) out.push({ ...meta, ...c });
  for (const h of [...new Set([...before.pgp.keys(), ...after.pgp.keys()])].sort(byText)) for (const c of pgpChanges(h, before.pgp.get(h), after.pgp.get(h))) out.push({ ...meta, ...c });
  return out;
}

/** Every change of every commit, in the order of the commits given (oldest first). */
export function changesOver(history: readonly CommitFiles[]): Change[] {
  return history.flatMap(changesIn);
}
