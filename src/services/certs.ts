/**
 * Shift access (docs/reference.md "Shift access"): sign a member's registered key for a window, list what
 * was issued, revoke. A certificate is recorded in the member's member.yml (an in-place edit under the lock)
 * before it is handed out, so the registry knows every certificate it ever issued; a failure before the
 * record leaves nothing behind.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { knownKeys } from '../adapters/member-facts.js';
import { certTimeSeconds } from '../core/cert-validate.js';
import { certificateRecord, certStatus, nextSerial, parseWindowTime, planSigning, type CertStatus } from '../core/certs.js';
import { keyParser } from '../core/key-summary.js';
import { certificateLine, encodeCertificate } from '../core/ssh-cert.js';
import { parsePublicKey } from '../core/ssh-key.js';
import type { CertificateEntry } from '../core/types.js';
import { assertHandle, textProblem } from '../core/validate.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { requireMember, today, type Context } from './context.js';
import { currentCaKey, decryptCa, unlockAdminKey } from './ca-key.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface SignInput {
  handle: string;
  key?: string;
  hours?: string;
  from?: string;
  until?: string;
  reason?: string;
  caKey?: string;
  out?: string;
}

export interface SignResult {
  serial: number;
  member: string;
  key: string;
  key_id: string;
  principals: string[];
  valid_after: string;
  valid_before: string;
  signed_by: string;
  reason?: string;
  extensions: string[];
  /** The `-cert.pub` line (public: a certificate is no secret). */
  certificate: string;
  /** Where -o wrote it (relative paths as given). */
  file?: string;
  written: string[];
}

/** The wall-clock time of the machine running infra, as an instant. */
const localSeconds = (y: number, mo: number, d: number, h: number, mi: number, s: number) => new Date(y, mo - 1, d, h, mi, s).getTime() / 1000;

function usageOfWindow(input: SignInput): void {
  const example = `infra certs sign ${shellQuote(input.handle)} --hours 8 --ca-key YOUR-KEY.asc`;
  if (input.hours !== undefined && (input.from !== undefined || input.until !== undefined))
    throw new InfraError(ExitCode.usage, '--hours and --from/--until are two ways to give the window: pass one', { hint: example });
  if (input.hours === undefined && (input.from === undefined || input.until === undefined))
    throw new InfraError(ExitCode.usage, input.from !== undefined || input.until !== undefined ? '--from and --until go together' : 'missing the window: --hours N, or --from TIME --until TIME', { hint: example });
  if (input.caKey === undefined) throw new InfraError(ExitCode.usage, 'missing --ca-key: your private OpenPGP key, which decrypts ca/user_ca.asc', { hint: example });
}

/** Where -o puts the certificate: the file named, or `<key>-cert.pub` inside a folder named. */
async function outputFile(ctx: Context, out: string, keyName: string): Promise<string> {
  const target = path.resolve(ctx.cwd, out);
  const st = await fs.stat(target).catch(() => undefined);
  const file = st?.isDirectory() ? path.join(target, `${keyName}-cert.pub`) : target;
  const dir = await fs.stat(path.dirname(file)).catch(() => undefined);
  if (!dir?.isDirectory()) throw new InfraError(ExitCode.invalid, `-o ${out}: the folder ${path.dirname(file)} does not exist`, { hint: 'create it first, or name another file' });
  return file;
}

export async function signCertificate(ctx: Context, input: SignInput): Promise<SignResult> {
  assertHandle(input.handle);
  usageOfWindow(input);
  if (input.reason !== undefined) {
    const problem = textProblem(input.reason, 'text');
    if (problem) throw new InfraError(ExitCode.invalid, `--reason ${problem}`, { hint: '--reason "on-call weekend"' });
  }
  let hours: number | undefined;
  if (input.hours !== undefined) {
    if (!/^\d{1,6}$/.test(input.hours.trim())) throw new InfraError(ExitCode.invalid, `--hours must be a whole number of hours, got ${JSON.stringify(input.hours.slice(0, 20))}`, { hint: `infra certs sign ${shellQuote(input.handle)} --hours 8 ...` });
    hours = Number(input.hours.trim());
  }
  const from = input.from === undefined ? undefined : parseWindowTime(input.from, 'from', localSeconds);
  const until = input.until === undefined ? undefined : parseWindowTime(input.until, 'until', localSeconds);
  const loaded = await ctx.store.load();
  const parseKey = keyParser(knownKeys(loaded));
  const now = Math.floor(ctx.now().getTime() / 1000);
  // Everything the registry and the clock refuse is refused before a passphrase is asked.
  const request = { member: requireMember(loaded.registry, input.handle), keyName: input.key, hours, from, until, now, today: today(ctx) };
  const first = planSigning(loaded.registry.config, request, parseKey);
  const file = input.out === undefined ? undefined : await outputFile(ctx, input.out, first.key.name);
  const pub = await currentCaKey(loaded.registry.root);
  const adminKey = await unlockAdminKey(ctx, loaded, input.caKey!);
  const ca = await decryptCa(loaded, adminKey, pub);
  const nonce = Buffer.from(ctx.random(32));

  const { result, written } = await ctx.store.mutate('certs sign', (tx) => {
    // Planned again on the registry as it is under the lock: the serial is the next one now.
    const member = requireMember(tx.registry, input.handle);
    const plan = planSigning(tx.registry.config, { ...request, member }, parseKey);
    const serial = nextSerial(tx.registry.members);
    const record = certificateRecord(serial, plan, pub.fingerprint, adminKey.admin, input.reason);
    const keyId = `${member.handle}/${plan.key.name}#${serial}`;
    const blob = encodeCertificate(
      { key: parsePublicKey(plan.key.key), serial, keyId, principals: [member.handle], validAfter: plan.validAfter, validBefore: plan.validBefore, extensions: plan.extensions, nonce },
      ca,
    );
    tx.editMember(member.handle).append(['certificates'], record);
    return {
      serial,
      member: member.handle,
      key: plan.key.name,
      key_id: keyId,
      principals: [member.handle],
      valid_after: record.valid_after,
      valid_before: record.valid_before,
      signed_by: adminKey.admin,
      ...(input.reason !== undefined ? { reason: input.reason } : {}),
      extensions: [...plan.extensions].sort(),
      certificate: certificateLine(blob, keyId),
    };
  });
  if (file) {
    try {
      await fs.writeFile(file, `${result.certificate}\n`, { mode: 0o644 });
      await fs.chmod(file, 0o644);
    } catch (e) {
      throw new InfraError(ExitCode.invalid, `certificate ${result.serial} is recorded, but ${file} could not be written (${(e as Error).message})`, {
        hint: `infra keeps no copy of a certificate: revoke this one (\`infra certs revoke ${shellQuote(result.serial)}\`) and sign again with another -o`,
      });
    }
  }
  return { ...result, ...(file ? { file } : {}), written };
}

// ------------------------------------------------------------------ list

export interface CertRow {
  serial: number;
  member: string;
  key: string;
  status: CertStatus;
  valid_after: string;
  valid_before: string;
  signed_by: string;
  reason?: string;
  revoked?: string;
}

export async function listCertificates(ctx: Context, input: { handle?: string; all?: boolean }): Promise<{ certificates: CertRow[] }> {
  if (input.handle !== undefined) assertHandle(input.handle);
  const loaded = await ctx.store.load();
  const members = input.handle === undefined ? loaded.registry.members : [requireMember(loaded.registry, input.handle)];
  const now = Math.floor(ctx.now().getTime() / 1000);
  const rows: CertRow[] = [];
  for (const m of members)
    for (const c of m.certificates ?? []) {
      // A departed member's certificates are revoked by the KRL whatever their record says.
      const status = m.status !== 'active' && certStatus(c, now) !== 'expired' ? 'revoked' : certStatus(c, now);
      if (!input.all && (status === 'expired' || status === 'revoked')) continue;
      rows.push({ serial: c.serial, member: m.handle, key: c.key, status, valid_after: c.valid_after, valid_before: c.valid_before, signed_by: c.signed_by, ...(c.reason ? { reason: c.reason } : {}), ...(c.revoked ? { revoked: c.revoked } : {}) });
    }
  return { certificates: rows.sort((a, b) => a.serial - b.serial) };
}

// ------------------------------------------------------------------ revoke

export interface RevokeResult {
  revoked: Array<{ serial: number; member: string; key: string; valid_before: string }>;
  /** Named but already revoked or expired: nothing to do. */
  unchanged: Array<{ serial: number; member: string; key: string; why: 'revoked' | 'expired' }>;
  written: string[];
}

/** SERIAL, HANDLE (every certificate of the member) or HANDLE/KEY (every certificate of that key). */
export async function revokeCertificates(ctx: Context, input: { target: string }): Promise<RevokeResult> {
  const target = input.target.trim();
  const serialOnly = /^\d{1,15}$/.test(target);
  const m = serialOnly ? undefined : /^([a-z][a-z0-9-]{0,31})(?:\/([A-Za-z0-9][A-Za-z0-9._-]{0,63}))?$/.exec(target);
  if (!serialOnly && !m)
    throw new InfraError(ExitCode.invalid, `${JSON.stringify(target.slice(0, 40))} is not a certificate serial, HANDLE or HANDLE/KEY`, { hint: 'see `infra certs list --all`' });
  const now = Math.floor(ctx.now().getTime() / 1000);
  const date = today(ctx);
  const { result, written } = await ctx.store.mutate('certs revoke', (tx) => {
    const chosen: Array<{ handle: string; index: number; c: CertificateEntry }> = [];
    if (serialOnly) {
      for (const member of tx.registry.members) (member.certificates ?? []).forEach((c, index) => c.serial === Number(target) && chosen.push({ handle: member.handle, index, c }));
      if (!chosen.length) throw new InfraError(ExitCode.invalid, `no certificate with serial ${target} is recorded`, { hint: 'see `infra certs list --all`' });
    } else {
      const member = requireMember(tx.registry, m![1]);
      if (m![2] !== undefined && !member.ssh_keys.some((k) => k.name === m![2]) && !(member.certificates ?? []).some((c) => c.key === m![2]))
        throw new InfraError(ExitCode.invalid, `${member.handle} has no key named ${m![2]}`, { hint: `infra certs list ${shellQuote(member.handle)} --all` });
      (member.certificates ?? []).forEach((c, index) => (m![2] === undefined || c.key === m![2]) && chosen.push({ handle: member.handle, index, c }));
    }
    const out: Omit<RevokeResult, 'written'> = { revoked: [], unchanged: [] };
    for (const { handle, index, c } of chosen) {
      const expired = certTimeSeconds(c.valid_before)! <= now;
      if (c.revoked || (expired && !serialOnly)) {
        out.unchanged.push({ serial: c.serial, member: handle, key: c.key, why: c.revoked ? 'revoked' : 'expired' });
        continue;
      }
      tx.editMember(handle).set(['certificates', index, 'revoked'], date);
      out.revoked.push({ serial: c.serial, member: handle, key: c.key, valid_before: c.valid_before });
    }
    return out;
  });
  return { ...result, written };
}

