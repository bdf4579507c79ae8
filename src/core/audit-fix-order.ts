/**
 * Fixes that work in the state they are printed in (docs/reference.md, "infra audit", "Fixes in order"). `infra render`
 * refuses a registry that does not validate, so while there is an invalid-registry finding every fix that
 * runs render says to fix the registry first; and a problem validation found that a finding of its own
 * already reports (one key under two members: duplicate-key; one address held twice: vpn-address-conflict)
 * is not reported a second time as invalid-registry.
 */
import type { Problem } from '../lib/errors.js';
import type { Finding } from './vpn-plan.js';

/** What a fix says before `infra render` when the registry does not validate. */
export const AFTER_REGISTRY_FIX = 'after fixing the registry until `infra check` passes: ';

const MEMBER_FILE_RE = /^keys\/([^/]+)\/member\.yml$/;

/**
 * Whether validation's `p` says what a finding already says: the same key registered under another member
 * (duplicate-key names both), or an address another peer holds (vpn-address-conflict names both).
 */
function reportedAsFinding(p: Problem, findings: readonly Finding[]): boolean {
  const handle = MEMBER_FILE_RE.exec(p.file)?.[1];
  if (handle === undefined) return false;
  const names = (f: Finding, other: string) => f.detail.includes(other) && f.detail.includes(`${handle}/`);
  const key = /^the same key is registered as (\S+?):/.exec(p.message);
  if (key) return findings.some((f) => f.code === 'duplicate-key' && names(f, key[1]));
  const address = /^\S+ is also held by (\S+?):/.exec(p.message);
  if (address) return findings.some((f) => f.code === 'vpn-address-conflict' && names(f, address[1]));
  return false;
}

/** The problems that still need an invalid-registry finding of their own. */
export function problemsToReport(problems: readonly Problem[], findings: readonly Finding[]): Problem[] {
  return problems.filter((p) => !reportedAsFinding(p, findings));
}

/** A fix that runs `infra render` (or says to) needs a registry render accepts. */
const RUNS_RENDER_RE = /(^|[\s`(])infra render\b/;

/**
 * With `registryInvalid`, each fix that runs `infra render` begins with AFTER_REGISTRY_FIX, so the order is
 * the one that works: the registry first, then render. Without it, the findings are as given.
 */
export function orderFixes(findings: readonly Finding[], registryInvalid: boolean): Finding[] {
  if (!registryInvalid) return [...findings];
  return findings.map((f) => (f.code !== 'invalid-registry' && RUNS_RENDER_RE.test(f.fix) && !f.fix.startsWith(AFTER_REGISTRY_FIX) ? { ...f, fix: `${AFTER_REGISTRY_FIX}${f.fix}` } : f));
}
