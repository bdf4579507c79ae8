/**
 * What `infra check` says about the `certificates:` records beyond each file's own shape (cert-validate.ts):
 * a record can be edited by hand in a pull request, and the registry's word on who had shift access must
 * stay true. Checked: one serial per certificate registry-wide, the key it names is (still) that key or gone
 * with a revocation, the signer is a person of the registry, the CA is one the registry has, and a
 * certificate still in force lasts no longer than policy. (A window moved by hand cannot be seen without the
 * certificate itself: infra keeps no copy; the serial and key checks catch a record copied to forge another.)
 */
import type { Problem } from '../lib/errors.js';
import { certPolicyOf, certTimeSeconds } from './cert-validate.js';
import { certStatus } from './certs.js';
import { keyParser, type ParseKey } from './key-summary.js';
import type { InfraConfig, Member } from './types.js';
import { fieldName, type Located } from './validate.js';
import { shellQuote } from '../lib/shell-quote.js';

export function certificateProblems(config: InfraConfig, members: readonly Member[], at: Located, nowSeconds: number, knownCas: ReadonlySet<string>, parseKey: ParseKey = keyParser()): Problem[] {
  const out: Problem[] = [];
  const firstSerial = new Map<number, string>();
  const people = new Set(members.filter((m) => m.kind === 'human').map((m) => m.handle));
  const max = certPolicyOf(config.policy).max_hours;
  for (const m of members) {
    (m.certificates ?? []).forEach((c, i) => {
      const add = (field: string, message: string) => {
        const p = ['certificates', i, field];
        out.push({ file: at.memberFile(m.handle), line: at.memberLine(m.handle, p), field: fieldName(p), message });
      };
      const other = firstSerial.get(c.serial);
      if (other !== undefined) add('serial', `serial ${c.serial} is already recorded for ${other}: every certificate has its own serial (a copied record?); remove this entry, and \`infra certs revoke ${shellQuote(c.serial)}\` if a certificate was made for it`);
      else firstSerial.set(c.serial, `${m.handle}/${c.key}`);
      const key = m.ssh_keys.find((k) => k.name === c.key);
      if (key && parseKey(key.key).fingerprint !== c.fingerprint && !c.revoked)
        add('fingerprint', `${m.handle}/${c.key} is not the key this certificate was made for (${c.fingerprint}): mark it revoked with \`infra certs revoke ${shellQuote(c.serial)}\``);
      if (!people.has(c.signed_by)) add('signed_by', `${c.signed_by} is not a person in the registry: certificates are signed by admins`);
      if (knownCas.size && !knownCas.has(c.ca)) add('ca', `${c.ca} is none of the registry's CAs (ca/user_ca.pub, ca/retired-*.pub)`);
      const hours = (certTimeSeconds(c.valid_before)! - certTimeSeconds(c.valid_after)!) / 3600;
      const status = certStatus(c, nowSeconds);
      if (hours > max && (status === 'valid' || status === 'not-yet-valid'))
        add('valid_before', `the window is ${Math.round(hours * 100) / 100} hours, longer than policy.certs.max_hours (${max}): \`infra certs revoke ${shellQuote(c.serial)}\` and sign a shorter one`);
    });
  }
  return out;
}
