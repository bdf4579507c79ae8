/**
 * SSH user certificates as registry state (docs/reference.md "Shift access"): which key a signing
 * certifies and for which window, the next serial, each certificate's status, and what hosts must be told
 * (the CAs to trust, each remote user's principals, what the KRL revokes). Pure: the clock, the CA keys and
 * the parsed member keys come in as arguments.
 */
import { ExitCode, InfraError } from '../lib/errors.js';
import { certPolicyOf, certTime, certTimeSeconds } from './cert-validate.js';
import { keyParser, type KeySummary, type ParseKey } from './key-summary.js';
import { policyProblems } from './ssh-key.js';
import type { CertificateEntry, InfraConfig, IsoDate, Member, SshKeyEntry } from './types.js';
import { shellQuote } from '../lib/shell-quote.js';

export type CertStatus = 'valid' | 'not-yet-valid' | 'expired' | 'revoked';

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The next serial: one more than the highest any member's record holds (registry-wide, never reused). */
export function nextSerial(members: readonly Member[]): number {
  let max = 0;
  for (const m of members) for (const c of m.certificates ?? []) if (c.serial > max) max = c.serial;
  return max + 1;
}

export function certStatus(c: CertificateEntry, nowSeconds: number): CertStatus {
  if (c.revoked) return 'revoked';
  if (certTimeSeconds(c.valid_before)! <= nowSeconds) return 'expired';
  if (certTimeSeconds(c.valid_after)! > nowSeconds) return 'not-yet-valid';
  return 'valid';
}

/**
 * An ISO 8601 time as `--from`/`--until` take it: `2026-12-05T08:00`, seconds optional, local time unless
 * it ends in `Z` or an offset (`+02:00`). `localSeconds` turns a wall-clock time into an instant in the
 * zone of the one running infra (the adapter's; tests pass a fixed zone).
 */
export function parseWindowTime(text: string, flag: string, localSeconds: (y: number, mo: number, d: number, h: number, mi: number, s: number) => number): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  const refuse = () =>
    new InfraError(ExitCode.invalid, `--${flag} ${JSON.stringify(text.slice(0, 40))} is not a time: write it as ISO 8601, e.g. 2026-12-05T08:00 (local time) or 2026-12-05T08:00Z`, {
      hint: `infra certs sign HANDLE --from 2026-12-05T08:00 --until 2026-12-05T20:00 ...`,
    });
  if (!m) throw refuse();
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) throw refuse();
  // A day that does not exist (2026-02-30) would roll over: refused.
  if (new Date(Date.UTC(y, mo - 1, d)).getUTCDate() !== d) throw refuse();
  if (m[7] === undefined) return localSeconds(y, mo, d, h, mi, s);
  const utc = Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
  if (m[7] === 'Z') return utc;
  const off = /^([+-])(\d{2}):?(\d{2})$/.exec(m[7])!;
  if (Number(off[2]) > 23 || Number(off[3]) > 59) throw refuse();
  const minutes = (Number(off[2]) * 60 + Number(off[3])) * (off[1] === '+' ? 1 : -1);
  return utc - minutes * 60;
}

export interface SignRequest {
  member: Member;
  keyName?: string;
  hours?: number;
  /** Seconds since the epoch, already parsed. */
  from?: number;
  until?: number;
  now: number; // seconds
  today: IsoDate;
}

export interface SignPlan {
  key: SshKeyEntry;
  summary: KeySummary;
  validAfter: number;
  validBefore: number;
  extensions: string[];
}

const hoursText = (seconds: number) => `${Math.round((seconds / 3600) * 100) / 100} hours`;

/** Which key, which window: every refusal of `certs sign` that the registry and the clock decide. */
export function planSigning(config: InfraConfig, req: SignRequest, parseKey: ParseKey = keyParser()): SignPlan {
  const { member: m } = req;
  const policy = certPolicyOf(config.policy);
  const cmd = `infra certs sign ${shellQuote(m.handle)}`;
  if (m.status !== 'active')
    throw new InfraError(ExitCode.invalid, `${m.handle} departed${m.departed ? ` on ${m.departed}` : ''}: no certificate is signed for a departed member`, { hint: `infra members show ${shellQuote(m.handle)}` });
  if (m.ssh_keys.length === 0) throw new InfraError(ExitCode.invalid, `${m.handle} has no registered SSH key to certify`, { hint: `infra keys add ${shellQuote(m.handle)} KEY.pub` });
  let key: SshKeyEntry | undefined;
  if (req.keyName === undefined) {
    if (m.ssh_keys.length > 1)
      throw new InfraError(ExitCode.usage, `${m.handle} has ${m.ssh_keys.length} keys: say which one with --key (${m.ssh_keys.map((k) => k.name).join(', ')})`, { hint: `${cmd} --key ${shellQuote(m.ssh_keys[0].name)} ...` });
    key = m.ssh_keys[0];
  } else {
    key = m.ssh_keys.find((k) => k.name === req.keyName);
    if (!key)
      throw new InfraError(ExitCode.invalid, `${m.handle} has no registered key named ${JSON.stringify(req.keyName.slice(0, 64))} (registered: ${m.ssh_keys.map((k) => k.name).join(', ')})`, {
        hint: `register it first: infra keys add ${shellQuote(m.handle)} KEY.pub --name NAME`,
      });
  }
  const summary = parseKey(key.key);
  const weak = policyProblems(summary, config.policy.ssh);
  if (weak.length) throw new InfraError(ExitCode.invalid, `${m.handle}/${key.name} fails the SSH policy (${weak.join('; ')}): it is not certified`, { hint: `infra keys add ${shellQuote(m.handle)} NEWKEY.pub, then sign that key` });
  if (key.expires !== undefined && key.expires <= req.today)
    throw new InfraError(ExitCode.invalid, `${m.handle}/${key.name} expired on ${key.expires}: it is not certified`, { hint: `infra keys add ${shellQuote(m.handle)} NEWKEY.pub --expires YYYY-MM-DD` });

  let validAfter: number;
  let validBefore: number;
  const max = policy.max_hours;
  if (req.hours !== undefined) {
    if (!Number.isInteger(req.hours) || req.hours < 1)
      throw new InfraError(ExitCode.invalid, `--hours must be a whole number of hours from 1 to ${max} (policy.certs.max_hours)`, { hint: `${cmd} --hours ${Math.min(8, max)} ...` });
    if (req.hours > max)
      throw new InfraError(ExitCode.invalid, `--hours ${req.hours} is beyond policy: certificates last at most ${max} hours (policy.certs.max_hours in infra.yml)`, {
        hint: `${cmd} --hours ${max} ..., or raise policy.certs.max_hours in infra.yml (a protected change)`,
      });
    // From the start of the current minute, as ssh-keygen -V does.
    validAfter = req.now - (req.now % 60);
    validBefore = validAfter + req.hours * 3600;
  } else {
    validAfter = req.from!;
    validBefore = req.until!;
    if (validBefore <= validAfter)
      throw new InfraError(ExitCode.invalid, `--until ${certTime(validBefore)} is not after --from ${certTime(validAfter)}: the window ends before it starts`, { hint: `${cmd} --from START --until END ...` });
    if (validBefore <= req.now)
      throw new InfraError(ExitCode.invalid, `the window ${certTime(validAfter)} to ${certTime(validBefore)} lies wholly in the past (now is ${certTime(req.now)})`, { hint: `${cmd} --hours N ...` });
    if (validBefore - validAfter > max * 3600)
      throw new InfraError(ExitCode.invalid, `the window is ${hoursText(validBefore - validAfter)} long, beyond policy: certificates last at most ${max} hours (policy.certs.max_hours in infra.yml)`, {
        hint: `shorten it, or raise policy.certs.max_hours in infra.yml (a protected change)`,
      });
  }
  if (key.expires !== undefined && validBefore > Date.parse(`${key.expires}T00:00:00Z`) / 1000)
    throw new InfraError(ExitCode.invalid, `${m.handle}/${key.name} expires on ${key.expires}, before the certificate would end (${certTime(validBefore)})`, { hint: 'choose a window that ends before the key expires' });
  return { key, summary, validAfter, validBefore, extensions: [...policy.extensions] };
}

/** The record `certs sign` appends to the member's `certificates`. */
export function certificateRecord(serial: number, plan: SignPlan, caFingerprint: string, signedBy: string, reason?: string): CertificateEntry {
  return {
    serial,
    key: plan.key.name,
    fingerprint: plan.summary.fingerprint,
    ca: caFingerprint,
    valid_after: certTime(plan.validAfter),
    valid_before: certTime(plan.validBefore),
    signed_by: signedBy,
    ...(reason !== undefined ? { reason } : {}),
  };
}

// ------------------------------------------------------------------ what hosts are told

export interface RevocationSet {
  /** Certificate serials revoked: by `certs revoke`, of a member who departed, of a key removed or replaced since. */
  serials: number[];
  /** Whole keys revoked (a key in a KRL revokes its certificates too): departed members' keys and keys that fail policy now. */
  keys: Buffer[];
}

/** What the KRL must revoke, from the registry alone. */
export function revocations(config: InfraConfig, members: readonly Member[], parseKey: ParseKey = keyParser()): RevocationSet {
  const serials = new Set<number>();
  const keys = new Map<string, Buffer>();
  for (const m of members) {
    const current = new Map(m.ssh_keys.map((k) => [k.name, k]));
    for (const k of m.ssh_keys) {
      const s = parseKey(k.key);
      if (m.status !== 'active' || policyProblems(s, config.policy.ssh).length) keys.set(s.base64, Buffer.from(s.base64, 'base64'));
    }
    for (const c of m.certificates ?? []) {
      const k = current.get(c.key);
      if (c.revoked || m.status !== 'active' || !k || parseKey(k.key).fingerprint !== c.fingerprint) serials.add(c.serial);
    }
  }
  return { serials: [...serials].sort((a, b) => a - b), keys: [...keys.keys()].sort(byText).map((k) => keys.get(k)!) };
}

/** A CA public key as the render gets it from ca/*.pub. */
export interface CaKey {
  /** SHA256:... */
  fingerprint: string;
  /** The canonical blob */
  blob: Buffer;
  /** `ssh-ed25519 BASE64` */
  line: string;
}

/**
 * The CAs hosts trust: the current one, and each retired one while a certificate it signed is unexpired and
 * unrevoked (so a rotation does not cut off a shift in progress); sorted by fingerprint, current first.
 */
export function trustedCas(current: CaKey | undefined, retired: readonly CaKey[], members: readonly Member[], nowSeconds: number): CaKey[] {
  const live = new Set<string>();
  for (const m of members) {
    if (m.status !== 'active') continue;
    for (const c of m.certificates ?? []) if (!c.revoked && certTimeSeconds(c.valid_before)! > nowSeconds) live.add(c.ca);
  }
  const kept = retired.filter((r) => r.fingerprint !== current?.fingerprint && live.has(r.fingerprint)).sort((a, b) => byText(a.fingerprint, b.fingerprint));
  return [...(current ? [current] : []), ...kept];
}

/** One AuthorizedPrincipalsFile line: a member's handle, restricted to the VPN's ranges when every grant is vpn_only. */
export interface PrincipalInput {
  handle: string;
  vpnOnly: boolean;
}

/** The principals of one remote user: each member with a key granted there, once, vpn_only only when every key is. */
export function principalsOf(granted: ReadonlyArray<{ member: string; vpnOnly: boolean }>): PrincipalInput[] {
  const byMember = new Map<string, boolean>();
  for (const g of granted) byMember.set(g.member, (byMember.get(g.member) ?? true) && g.vpnOnly);
  return [...byMember].sort(([a], [b]) => byText(a, b)).map(([handle, vpnOnly]) => ({ handle, vpnOnly }));
}
