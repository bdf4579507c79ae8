/**
 * The defaults docs/reference.md and the README state are the code's: each number is read out of the
 * sentence that states it and compared with the constant (or the function given no setting) the code uses,
 * so the two cannot drift apart again (the reference once said 200 members where the code said 50).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_LIVE_TIMEOUT_SECONDS, liveRunDeadlineSeconds, MAX_DEFAULT_FORKS } from '../../src/adapters/ansible-live.js';
import { SCRIPT_TIMEOUT_MS } from '../../src/adapters/ansible-vault.js';
import { derivedStateMinMembers } from '../../src/adapters/derived-state.js';
import { DEFAULT_TIMEOUT_MS as FORGE_TIMEOUT_MS } from '../../src/adapters/forge-keys.js';
import { ABANDONED_LOCK_MS, lockWaitMs } from '../../src/adapters/registry-lock.js';
import { DEFAULT_CERT_POLICY } from '../../src/core/cert-validate.js';
import { DEFAULT_POLICY } from '../../src/core/types.js';
import { streamOf } from '../../src/services/context.js';
import { MAX_FORKS, MAX_TIMEOUT_SECONDS } from '../../src/services/live-settings.js';
import { REPO_ROOT } from '../helpers/example.js';

const REFERENCE = readFileSync(path.join(REPO_ROOT, 'docs/reference.md'), 'utf8').replace(/\s+/g, ' ');
const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');

/** The number the first capture group of `re` finds in `text` ("10,000" and "10000" alike); fails naming the pattern when the sentence is gone. */
function stated(text: string, re: RegExp): number {
  const m = re.exec(text);
  if (!m) throw new Error(`no sentence matches ${re}: the documented default moved or was reworded; update this test with it`);
  return Number(m[1].replace(/,/g, ''));
}

/** A pipe-less stream: what `streamOf` makes of a terminal of unknown width. */
const terminal = { isTTY: true, columns: 0, write: () => true } as unknown as NodeJS.WriteStream;

const POLICY_ROW = (field: string) => new RegExp(`\\| \`${field.replace(/\./g, '\\.')}\` \\|[^|]*\\| (\\d+) \\|`);

describe.each<[string, string, RegExp, () => number]>([
  ['derived state threshold (members)', REFERENCE, /A registry of (\d+) members or more keeps its validated members/, () => derivedStateMinMembers({})],
  ['derived state threshold, environment table', REFERENCE, /\| `INFRA_CACHE_MIN_MEMBERS` \| from how many members [^|]*\(default (\d+);/, () => derivedStateMinMembers({})],
  ['derived state threshold (README)', README, /Registries of (\d+) members or more keep derived state/, () => derivedStateMinMembers({})],
  ['lock wait (ms)', REFERENCE, /up to `INFRA_LOCK_WAIT_MS` milliseconds, default (\d+)\)/, () => lockWaitMs({})],
  ['lock wait, environment table (ms)', REFERENCE, /\| `INFRA_LOCK_WAIT_MS` \| [^|]*\(default (\d+)\)/, () => lockWaitMs({})],
  ['lock wait (README, s)', README, /`INFRA_LOCK_WAIT_MS`, default (\d+) s/, () => lockWaitMs({}) / 1000],
  ['abandoned lock (s)', REFERENCE, /has not changed for (\d+) seconds \(a crash's leftover\)/, () => ABANDONED_LOCK_MS / 1000],
  ['audit --live --timeout (s)', REFERENCE, /`--timeout SECONDS` \(default (\d+)\): each host's deadline/, () => DEFAULT_LIVE_TIMEOUT_SECONDS],
  ['audit --live --timeout (README, s)', README, /each host has `--timeout` seconds \(default (\d+)\)/, () => DEFAULT_LIVE_TIMEOUT_SECONDS],
  ['audit --live --timeout upper bound', REFERENCE, /`--timeout` \(1–(\d+)\) out of range/, () => MAX_TIMEOUT_SECONDS],
  ['audit --live --forks default cap', REFERENCE, /`--forks N`: hosts asked at once \(default: the number of hosts, up to (\d+)\)/, () => MAX_DEFAULT_FORKS],
  ['audit --live --forks upper bound', REFERENCE, /a `--forks` \(1–(\d+)\)/, () => MAX_FORKS],
  ['vault password script timeout (s)', REFERENCE, /is given `--vault-id default`\), with a (\d+) s timeout/, () => SCRIPT_TIMEOUT_MS / 1000],
  ['forge key fetch timeout (s)', REFERENCE, /GitHub or GitLab failed \(unreachable, timeout after (\d+) s/, () => FORGE_TIMEOUT_MS / 1000],
  ['table width without a terminal width (columns)', REFERENCE, /\| `COLUMNS` \| table width when stdout is not a terminal \(default (\d+)\)/, () => streamOf(terminal, {}).columns],
  ['certs window (hours)', REFERENCE, /at most `policy\.certs\.max_hours` \(default (\d+)\)/, () => DEFAULT_CERT_POLICY.max_hours],
  ['policy ssh.min_rsa_bits', REFERENCE, POLICY_ROW('ssh.min_rsa_bits'), () => DEFAULT_POLICY.ssh.min_rsa_bits],
  ['policy ssh.min_rsa_bits (README)', README, /`policy\.ssh\.min_rsa_bits` \((\d+) by default\)/, () => DEFAULT_POLICY.ssh.min_rsa_bits],
  ['policy ssh.max_age_days', REFERENCE, POLICY_ROW('ssh.max_age_days'), () => DEFAULT_POLICY.ssh.max_age_days],
  ['policy vpn.idle_days', REFERENCE, POLICY_ROW('vpn.idle_days'), () => DEFAULT_POLICY.vpn!.idle_days],
  ['policy vpn.idle_days (audit table)', REFERENCE, /no handshake for `policy\.vpn\.idle_days` \(default (\d+)\)/, () => DEFAULT_POLICY.vpn!.idle_days],
  ['policy tokens.rotate_every_days', REFERENCE, POLICY_ROW('tokens.rotate_every_days'), () => DEFAULT_POLICY.tokens.rotate_every_days],
  ['policy audit.min_members_per_host', REFERENCE, POLICY_ROW('audit.min_members_per_host'), () => DEFAULT_POLICY.audit.min_members_per_host],
  ['policy audit.horizon_days (the due-soon horizon)', REFERENCE, POLICY_ROW('audit.horizon_days'), () => DEFAULT_POLICY.audit.horizon_days],
])('%s', (_what, text, re, fromCode) => {
  it('the documented number is the code\'s', () => {
    expect(stated(text, re)).toBe(fromCode());
  });
});

it('the whole --live run\'s deadline is the documented formula', () => {
  const m = /\(`\(hosts \/ forks\) × \((\d+) × SECONDS \+ (\d+)\) \+ (\d+)` seconds\)/.exec(REFERENCE);
  expect(m).not.toBeNull();
  const [per, extra, once] = m!.slice(1).map(Number);
  for (const [waves, seconds] of [[1, 10], [3, 1], [7, 3600]]) expect(liveRunDeadlineSeconds(waves, seconds)).toBe(waves * (per * seconds + extra) + once);
});

it('the policy defaults of the reference are every number DEFAULT_POLICY holds', () => {
  // a new numeric default added to the code must get its row (and so its line above)
  const numbers = JSON.stringify(DEFAULT_POLICY).match(/":\d+/g)!.map((s) => s.slice(2));
  expect(numbers.sort()).toEqual(['2', '30', '3072', '730', '90', '90'].sort());
});
