/**
 * Audit findings about certificates (docs/reference.md "Shift access"): `cert-long-lived` (medium), a
 * certificate still in force whose window is longer than `policy.certs.max_hours` allows: infra never
 * signs one, so it was signed before the policy was lowered, or its record was edited by hand.
 * (`ca-exposed` belongs with the other admin-held secrets, `unknown-ca` with the live audit.)
 */
import { certPolicyOf, certTimeSeconds } from './cert-validate.js';
import { certStatus } from './certs.js';
import type { Finding } from './vpn-plan.js';
import type { InfraConfig, IsoDate, Member } from './types.js';
import { shellQuote } from '../lib/shell-quote.js';

export function certificateFindings(config: InfraConfig | undefined, members: readonly Member[], asOf: IsoDate): Finding[] {
  if (!config) return [];
  const max = certPolicyOf(config.policy).max_hours;
  const now = Date.parse(`${asOf}T00:00:00Z`) / 1000;
  const out: Finding[] = [];
  for (const m of members)
    for (const c of m.certificates ?? []) {
      const hours = (certTimeSeconds(c.valid_before)! - certTimeSeconds(c.valid_after)!) / 3600;
      const status = certStatus(c, now);
      if (hours <= max || status === 'expired' || status === 'revoked') continue;
      out.push({
        code: 'cert-long-lived',
        severity: 'medium',
        subject: `${m.handle}/${c.key}#${c.serial}`,
        detail: `certificate ${c.serial} of ${m.handle}/${c.key} is valid for ${Math.round(hours * 100) / 100} hours (${c.valid_after} to ${c.valid_before}), longer than policy.certs.max_hours (${max}); signed by ${c.signed_by}`,
        fix: `infra certs revoke ${shellQuote(c.serial)}, then \`infra render\` and apply`,
      });
    }
  return out;
}
