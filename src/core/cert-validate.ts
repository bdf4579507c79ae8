/**
 * Validation of the certificate parts of the registry: `policy.certs` in infra.yml and each member's
 * `certificates` list. What one file can say about itself is checked on load (a wrong type, a malformed
 * time, one serial twice in one file); whether the entries agree with the rest of the registry (a serial
 * used by two members, a key that is gone, a signer who is no person, a window longer than policy) is
 * `infra check`'s (certificateProblems in cert-check.ts), so that removing a key never makes the history invalid.
 */
import { DEFAULT_EXTENSIONS } from './ssh-cert.js';
import { HANDLE_RE, NAME_RE, type CertificateEntry, type CertPolicy } from './types.js';

type Path = ReadonlyArray<string | number>;
/** What the validator collects problems into (validate.ts's Problems). */
export interface ProblemSink {
  add(path: Path, message: string): void;
}

export const DEFAULT_CERT_POLICY: CertPolicy = { max_hours: 24, extensions: [...DEFAULT_EXTENSIONS] };

/** The certificate policy of a config, defaults filled. */
export const certPolicyOf = (policy: { certs?: CertPolicy }): CertPolicy => policy.certs ?? DEFAULT_CERT_POLICY;

/** A UTC timestamp as infra writes it: `2026-12-05T08:00:00Z`. */
export const CERT_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;
export const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/; // and bidi overrides: a reason is shown to the meeting

/** Seconds since the epoch of a CERT_TIME_RE timestamp; undefined when it is not one or not a real time. */
export function certTimeSeconds(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = CERT_TIME_RE.exec(value);
  if (!m) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || new Date(ms).toISOString().replace('.000Z', 'Z') !== value) return undefined;
  return ms / 1000;
}

/** The timestamp infra writes for `seconds`. */
export const certTime = (seconds: number): string => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIsoDate = (v: unknown): v is string => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v);

/** `policy.certs`: max_hours a whole number >= 1, extensions a subset of OpenSSH's five. */
export function validateCertPolicy(p: ProblemSink, raw: unknown): CertPolicy {
  const policy: CertPolicy = { max_hours: DEFAULT_CERT_POLICY.max_hours, extensions: [...DEFAULT_CERT_POLICY.extensions] };
  if (raw === undefined || raw === null) return policy;
  if (!isObject(raw)) return p.add(['policy', 'certs'], 'must be a mapping with max_hours and/or extensions'), policy;
  for (const key of Object.keys(raw)) if (key !== 'max_hours' && key !== 'extensions') p.add(['policy', 'certs', key], 'unknown field (expected one of: max_hours, extensions)');
  if (raw.max_hours !== undefined && raw.max_hours !== null) {
    if (typeof raw.max_hours !== 'number' || !Number.isInteger(raw.max_hours) || raw.max_hours < 1 || raw.max_hours > 24 * 366)
      p.add(['policy', 'certs', 'max_hours'], 'must be a whole number of hours from 1 to 8784 (a year)');
    else policy.max_hours = raw.max_hours;
  }
  if (raw.extensions !== undefined && raw.extensions !== null) {
    if (!Array.isArray(raw.extensions)) p.add(['policy', 'certs', 'extensions'], `must be a list (of ${DEFAULT_EXTENSIONS.join(', ')})`);
    else {
      const ok: string[] = [];
      raw.extensions.forEach((e, i) => {
        if (typeof e !== 'string' || !(DEFAULT_EXTENSIONS as readonly string[]).includes(e)) p.add(['policy', 'certs', 'extensions', i], `must be one of ${DEFAULT_EXTENSIONS.join(', ')}`);
        else if (ok.includes(e)) p.add(['policy', 'certs', 'extensions', i], `${e} is listed twice`);
        else ok.push(e);
      });
      policy.extensions = ok;
    }
  }
  return policy;
}

const FIELDS = ['serial', 'key', 'fingerprint', 'ca', 'valid_after', 'valid_before', 'signed_by', 'reason', 'revoked'];

/** A member's `certificates` list: each entry's shape, and no serial twice in the file. */
export function validateCertificates(p: ProblemSink, raw: unknown): CertificateEntry[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return p.add(['certificates'], 'must be a list (written by `infra certs sign`)'), [];
  const out: CertificateEntry[] = [];
  const serialAt = new Map<number, number>();
  raw.forEach((item, i) => {
    const path = ['certificates', i];
    if (!isObject(item)) return p.add(path, 'must be a mapping with serial, key, fingerprint, ca, valid_after, valid_before and signed_by');
    let ok = true;
    for (const key of Object.keys(item))
      if (!FIELDS.includes(key)) {
        ok = false;
        p.add([...path, key], `unknown field (expected one of: ${FIELDS.join(', ')})`);
      }
    const bad = (field: string, message: string) => {
      ok = false;
      p.add([...path, field], message);
    };
    const { serial, key, fingerprint, ca, valid_after, valid_before, signed_by, reason, revoked } = item;
    if (typeof serial !== 'number' || !Number.isSafeInteger(serial) || serial < 1) bad('serial', 'must be a whole number >= 1');
    else if (serialAt.has(serial)) bad('serial', `serial ${serial} is already used by certificates[${serialAt.get(serial)}]: every certificate has its own`);
    else serialAt.set(serial, i);
    if (typeof key !== 'string' || !NAME_RE.test(key)) bad('key', 'must be the name of one of ssh_keys');
    if (typeof fingerprint !== 'string' || !FINGERPRINT_RE.test(fingerprint)) bad('fingerprint', 'must be the key\'s SHA256:... fingerprint');
    if (typeof ca !== 'string' || !FINGERPRINT_RE.test(ca)) bad('ca', 'must be the SHA256:... fingerprint of the CA that signed it');
    const after = certTimeSeconds(valid_after);
    const before = certTimeSeconds(valid_before);
    if (after === undefined) bad('valid_after', 'must be a UTC time YYYY-MM-DDTHH:MM:SSZ');
    if (before === undefined) bad('valid_before', 'must be a UTC time YYYY-MM-DDTHH:MM:SSZ');
    if (after !== undefined && before !== undefined && before <= after) bad('valid_before', 'must be after valid_after');
    if (typeof signed_by !== 'string' || !HANDLE_RE.test(signed_by)) bad('signed_by', 'must be the handle of the admin who signed it');
    if (reason !== undefined && reason !== null && (typeof reason !== 'string' || reason.trim() === '' || CONTROL_RE.test(reason) || reason.length > 1000))
      bad('reason', 'must be one line of text (at most 1000 characters)');
    if (revoked !== undefined && revoked !== null && !isIsoDate(revoked)) bad('revoked', 'must be a date YYYY-MM-DD');
    if (!ok) return;
    out.push({
      serial: serial as number,
      key: key as string,
      fingerprint: fingerprint as string,
      ca: ca as string,
      valid_after: valid_after as string,
      valid_before: valid_before as string,
      signed_by: signed_by as string,
      ...(typeof reason === 'string' ? { reason } : {}),
      ...(typeof revoked === 'string' ? { revoked } : {}),
    });
  });
  return out;
}
