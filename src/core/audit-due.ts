/**
 * What falls due within the audit's horizon (docs/reference.md, "infra audit", "Markdown"), as dated items
 * for the Markdown's Mermaid gantt: SSH key expiries, token rotations, GitHub token expiry (`expires_at`)
 * and VPN peers that are (or will be) idle for `policy.vpn.idle_days`. Pure: `asOf` is the day judged.
 */
import type { AuditTokenFields, DumpSource } from './audit.js';
import { addDays, dateOfEpochSeconds, daysBetween } from './dates.js';
import { DEFAULT_POLICY, type InfraConfig, type IsoDate, type Member, type TokenEntry } from './types.js';
import { vpnStatus } from './vpn-plan.js';

export const DUE_SECTIONS = ['SSH key expiry', 'Token rotation', 'GitHub token expiry', 'Idle VPN peer'] as const;
export type DueSection = (typeof DUE_SECTIONS)[number];

export interface DueItem {
  section: DueSection;
  subject: string;
  /** The day it falls (or fell) due. */
  date: IsoDate;
  /** It is already past (or today, for an expiry): on the chart from the audit day, marked critical. */
  overdue: boolean;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function dueItems(input: { config?: InfraConfig; members: readonly Member[]; asOf: IsoDate; wgDumps?: readonly DumpSource[] }): DueItem[] {
  const { config, members, asOf } = input;
  const policy = config?.policy ?? DEFAULT_POLICY;
  const until = addDays(asOf, policy.audit.horizon_days);
  const out: DueItem[] = [];
  const add = (section: DueSection, subject: string, date: IsoDate, expiry: boolean) => {
    if (date > until) return;
    out.push({ section, subject, date, overdue: expiry ? date <= asOf : date < asOf });
  };
  for (const m of members) {
    if (m.status !== 'active') continue;
    for (const k of m.ssh_keys) if (k.expires !== undefined) add('SSH key expiry', `${m.handle}/${k.name}`, k.expires, true);
    for (const t of m.tokens as Array<TokenEntry & AuditTokenFields>) {
      const every = t.rotate_every_days ?? policy.tokens.rotate_every_days;
      add('Token rotation', `${m.handle}/${t.name}`, t.rotated_at === undefined ? asOf : addDays(t.rotated_at, every), false);
      if (t.expires_at !== undefined) add('GitHub token expiry', `${m.handle}/${t.name}`, t.expires_at, true);
    }
  }
  const idleDays = policy.vpn?.idle_days ?? DEFAULT_POLICY.vpn!.idle_days;
  const nowSeconds = Date.parse(`${asOf}T00:00:00Z`) / 1000;
  const added = new Map<string, IsoDate>();
  for (const m of members) for (const p of m.vpn_peers) added.set(p.public_key, p.added);
  const seen = new Set<string>();
  for (const d of input.wgDumps ?? []) {
    const status = vpnStatus(d.dump, { root: '', config: config ?? { org: '', admins: [], environments: {}, policy, access: [], vpn: {} }, members: [...members] }, nowSeconds);
    for (const p of status.peers) {
      if (p.member_status !== 'active' || seen.has(p.public_key)) continue;
      const since = (p.latest_handshake === null ? undefined : dateOfEpochSeconds(p.latest_handshake)) ?? added.get(p.public_key);
      if (since === undefined || daysBetween(since, asOf) < 0) continue;
      seen.add(p.public_key);
      add('Idle VPN peer', `${p.member}/${p.device}`, addDays(since, idleDays), false);
    }
  }
  return out.sort((a, b) => DUE_SECTIONS.indexOf(a.section) - DUE_SECTIONS.indexOf(b.section) || byText(a.date, b.date) || byText(a.subject, b.subject));
}
