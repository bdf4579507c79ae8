/**
 * The audit's judgements of credentials (docs/reference.md, "infra audit"): members' SSH keys (weak-key,
 * expired-key, key-expiring, old-key, duplicate-key), bots' tokens (token-overdue, token-due-soon,
 * token-expiring, rotation-incomplete, secret-exposed from the record) and admins (admin-without-pgp).
 */
import { shellCommand } from '../lib/shell-quote.js';
import { CODES, type AuditTokenFields, type FindingCode, type Severity } from './audit.js';
import { byText, finding, parsedKeys, plural, type KeyReader, type ParsedKey } from './audit-common.js';
import { addDays, daysBetween } from './dates.js';
import { policyProblems } from './ssh-key.js';
import { dueSoonDays } from './tokens.js';
import type { InfraConfig, IsoDate, Member, Policy, TokenEntry } from './types.js';
import type { Finding } from './vpn-plan.js';

type AuditToken = TokenEntry & AuditTokenFields;

/** A date judgement on one key or token: its code, a short note for a table, and the finding's detail. */
export interface DateMark<C extends FindingCode> {
  code: C;
  severity: Severity;
  note: string;
  detail: string;
}

/**
 * expired-key, key-expiring and old-key for one registered key, judged against `asOf`: the audit's findings,
 * and the marks `keys list` and `members show` print.
 */
export function keyDateMarks(k: { added: IsoDate; expires?: IsoDate }, policy: Policy, asOf: IsoDate): Array<DateMark<'expired-key' | 'key-expiring' | 'old-key'>> {
  const out: Array<DateMark<'expired-key' | 'key-expiring' | 'old-key'>> = [];
  if (k.expires !== undefined) {
    const left = daysBetween(asOf, k.expires);
    // expiry-time="YYYYMMDD" means the key stops working as that day begins.
    if (left <= 0) out.push({ code: 'expired-key', severity: CODES['expired-key'], note: `expired ${k.expires}`, detail: `expired on ${k.expires} (${plural(-left, 'day')} ago); sshd refuses it` });
    else if (left <= policy.audit.horizon_days) out.push({ code: 'key-expiring', severity: CODES['key-expiring'], note: `expires in ${plural(left, 'day')}`, detail: `expires on ${k.expires}, in ${plural(left, 'day')}` });
  }
  const age = daysBetween(k.added, asOf);
  if (age > policy.ssh.max_age_days)
    out.push({ code: 'old-key', severity: CODES['old-key'], note: `old: over ${policy.ssh.max_age_days} days`, detail: `added on ${k.added}, ${plural(age, 'day')} ago (policy: at most ${policy.ssh.max_age_days})` });
  return out;
}

/** token-overdue and token-due-soon for one token (by rotated_at and its period), judged against `asOf`. */
export function tokenDueMark(t: Pick<TokenEntry, 'rotated_at' | 'rotate_every_days'>, policy: Policy, asOf: IsoDate): (DateMark<'token-overdue' | 'token-due-soon'> & { due?: IsoDate }) | undefined {
  const every = t.rotate_every_days ?? policy.tokens.rotate_every_days;
  if (t.rotated_at === undefined)
    return { code: 'token-overdue', severity: CODES['token-overdue'], note: 'overdue: never rotated', detail: `no rotated_at: never rotated with infra, so its age is unknown (rotate every ${plural(every, 'day')})` };
  const due = addDays(t.rotated_at, every);
  const left = daysBetween(asOf, due);
  if (left < 0) return { code: 'token-overdue', severity: CODES['token-overdue'], due, note: `overdue by ${plural(-left, 'day')}`, detail: `rotated on ${t.rotated_at}, due on ${due} (${plural(-left, 'day')} ago; every ${plural(every, 'day')})` };
  if (left <= dueSoonDays(policy.audit.horizon_days, every)) return { code: 'token-due-soon', severity: CODES['token-due-soon'], due, note: left === 0 ? 'due today' : `due in ${plural(left, 'day')}`, detail: `rotated on ${t.rotated_at}, due on ${due} (in ${plural(left, 'day')})` };
  return undefined;
}

export function keyFindings(members: readonly Member[], policy: Policy, asOf: IsoDate, readKey: KeyReader): Finding[] {
  const out: Finding[] = [];
  for (const member of members) {
    // A departed member's keys grant nothing (render revokes them); their age and strength no longer matter.
    if (member.status !== 'active') continue;
    for (const k of member.ssh_keys) {
      const subject = `${member.handle}/${k.name}`;
      const replace = `\`${shellCommand(['infra', 'keys', 'add', member.handle, 'NEW_KEY.pub'])}\`, then \`${shellCommand(['infra', 'keys', 'remove', member.handle, k.name])}\``;
      const parsed = readKey(k);
      if (!parsed) continue;
      const weak = policyProblems(parsed, policy.ssh);
      if (weak.length)
        out.push(finding('weak-key', subject, `${weak.join('; ')} (${parsed.fingerprint}); it grants nothing until replaced`, shellCommand(['infra', 'keys', 'remove', member.handle, k.name])));
      for (const mark of keyDateMarks(k, policy, asOf)) out.push(finding(mark.code, subject, mark.detail, mark.code === 'expired-key' ? shellCommand(['infra', 'keys', 'remove', member.handle, k.name]) : replace));
    }
  }
  out.push(...duplicateKeyFindings(members, readKey));
  return out;
}

/** One key blob under two principals (departed ones too: a key is one person's, forever). */
function duplicateKeyFindings(members: readonly Member[], readKey: KeyReader): Finding[] {
  const holders = new Map<string, ParsedKey[]>();
  for (const k of parsedKeys(members, readKey)) {
    const blob = k.parsed.base64; // canonical: the bytes, not however the text spelled them
    const list = holders.get(blob);
    if (list) list.push(k);
    else holders.set(blob, [k]);
  }
  const out: Finding[] = [];
  for (const list of holders.values()) {
    const principals = [...new Set(list.map((k) => k.member.handle))];
    if (principals.length < 2) continue;
    const names = list.map((k) => `${k.member.handle}/${k.name}`).sort(byText);
    const keep = names[0];
    const remove = names.filter((n) => n.split('/')[0] !== keep.split('/')[0]);
    out.push(
      finding(
        'duplicate-key',
        list[0].parsed.fingerprint,
        `one key is registered as ${names.join(', ')}: a key belongs to one principal, and whoever holds its private half is both`,
        remove.map((n) => shellCommand(['infra', 'keys', 'remove', ...n.split(/\/(.*)/s, 2)])).join('; '),
      ),
    );
  }
  return out;
}

export function tokenFindings(members: readonly Member[], config: InfraConfig | undefined, policy: Policy, asOf: IsoDate, judgeRecord: boolean): Finding[] {
  const out: Finding[] = [];
  const horizon = policy.audit.horizon_days;
  const admins = new Set(config?.admins ?? []);
  const byHandle = new Map(members.map((m) => [m.handle, m]));
  for (const bot of members)
    for (const t of bot.tokens as AuditToken[]) {
      const subject = `${bot.handle}/${t.name}`;
      const rotate = shellCommand(['infra', 'tokens', 'rotate', subject]);
      if (t.pending) {
        const left = t.pending.left.length ? t.pending.left.join(', ') : 'none (only the final step is left)';
        out.push(
          finding(
            'rotation-incomplete',
            subject,
            `a rotation started on ${t.pending.started_at} by ${t.pending.started_by} stopped part-way: consumers still on the old value: ${left}`,
            `${shellCommand(['infra', 'tokens', 'rotate', subject])} --resume --key ADMIN_KEY.asc`,
          ),
        );
      }
      const due = tokenDueMark(t, policy, asOf);
      if (due) out.push(finding(due.code, subject, due.detail, rotate));
      if (t.expires_at !== undefined) {
        const left = daysBetween(asOf, t.expires_at);
        if (left <= 0) out.push(finding('token-expiring', subject, `GitHub says it expired on ${t.expires_at} (${plural(-left, 'day')} ago): its consumers are failing`, rotate, 'high'));
        else if (left <= horizon) out.push(finding('token-expiring', subject, `GitHub says it expires on ${t.expires_at}, in ${plural(left, 'day')}`, rotate, 'low'));
      }
      // With the ciphertexts read (the catalog), secretFindings judges exposure; this is the record alone.
      if (!judgeRecord) continue;
      const exposed = (t.readable_by ?? []).filter((h) => (config && !admins.has(h)) || byHandle.get(h)?.status === 'departed').sort(byText);
      if (exposed.length)
        out.push(
          finding(
            'secret-exposed',
            subject,
            `the current value was encrypted to ${exposed.map((h) => `${h} (${byHandle.get(h)?.status === 'departed' ? `departed ${byHandle.get(h)!.departed}` : 'no longer an admin'})`).join(', ')}, and it has not been rotated since`,
            rotate,
          ),
        );
    }
  return out;
}

export function adminFindings(config: InfraConfig, members: readonly Member[]): Finding[] {
  const byHandle = new Map(members.map((m) => [m.handle, m]));
  const out: Finding[] = [];
  for (const admin of config.admins) {
    const m = byHandle.get(admin);
    if (!m || m.has_pgp) continue; // no member at all is invalid-registry
    out.push(
      finding(
        'admin-without-pgp',
        admin,
        `${admin} is an admin but keys/${admin}/pgp.asc is missing, so token values cannot be encrypted to them`,
        `${shellCommand(['infra', 'members', 'edit', admin, '--pgp', `${admin}.asc`])} (exported with \`${shellCommand(['gpg', '--export', '--armor', m.email ?? admin])} > ${shellCommand([`${admin}.asc`])}\`), then \`infra tokens reencrypt\``,
      ),
    );
  }
  return out;
}
