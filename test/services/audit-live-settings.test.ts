/**
 * `infra audit --live --forks N --timeout SECONDS` at the service: the flags checked before anything is
 * asked, handed to the collector, VPN-only users asked from inside the VPN, and the registry's user CAs
 * (ca/*.pub) passed on so a host trusting one of them is not unmanaged-auth.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LiveCollector, LiveRequest, LiveSettings } from '../../src/adapters/ansible-live.js';
import { ExitCode } from '../../src/lib/errors.js';
import { runAudit } from '../../src/services/audit.js';
import { testContext } from '../helpers/context.js';
import { copyExample } from '../helpers/example.js';
import { ed25519Line, keyBody } from '../helpers/registry-fixture.js';
import { rejection } from '../helpers/thrown.js';

const TODAY = '2026-11-29';
const CA = keyBody(ed25519Line('registry-ca'));
const FOREIGN = keyBody(ed25519Line('foreign-ca'));

/** A collector that records what it was asked and answers that bbb1's sshd trusts two CAs. */
function recorder() {
  const seen: Array<{ requests: LiveRequest[]; settings?: LiveSettings }> = [];
  const collector: LiveCollector = async (requests, _progress, settings) => {
    seen.push({ requests, settings });
    const view = { ok: true as const, settings: { passwordauthentication: 'no', kbdinteractiveauthentication: 'no', pubkeyauthentication: 'yes', permitrootlogin: 'no', trustedusercakeys: '/etc/ssh/ca.pub' } };
    const ca = { kind: 'ca' as const, path: '/etc/ssh/ca.pub', state: 'ok' as const, text: `${CA}\n${FOREIGN}\n` };
    return { live: [{ environment: 'production', host: 'bbb1', sshd: { hostView: view, users: { sysadmin: { view, exists: true, files: [ca] } } } }], dumps: [] };
  };
  return { seen, collector };
}

describe('runAudit --live: --forks, --timeout, VPN addresses and the registry CAs', () => {
  it.each([
    [{ forks: 0 }, ExitCode.invalid, /--forks 0 is not a whole number from 1 to 500/],
    [{ timeout: 3601 }, ExitCode.invalid, /--timeout 3601 is not a whole number from 1 to 3600/],
    [{ timeout: 1.5 }, ExitCode.invalid, /--timeout 1.5/],
  ])('%j is refused before any host is asked', async (flags, code, message) => {
    const { seen, collector } = recorder();
    const ctx = testContext({ root: await copyExample(), today: TODAY });
    const e = await rejection(runAudit(ctx, { live: true, ...flags }, collector));
    expect([e.exitCode, e.message]).toEqual([code, expect.stringMatching(message)]);
    expect(seen).toEqual([]);
  });

  it('--timeout without --live is a usage error', async () => {
    const ctx = testContext({ root: await copyExample(), today: TODAY });
    const e = await rejection(runAudit(ctx, { timeout: 5 }));
    expect([e.exitCode, e.message]).toEqual([ExitCode.usage, '--timeout applies to --live, and needs it']);
  });

  it('hands --forks and --timeout to the collector, and judges CAs against ca/*.pub', async () => {
    const { seen, collector } = recorder();
    const root = await copyExample();
    await fs.mkdir(path.join(root, 'ca'), { recursive: true });
    await fs.writeFile(path.join(root, 'ca', 'user_ca.pub'), `${CA} registry user CA\n`);
    const r = await runAudit(testContext({ root, today: TODAY }), { live: true, forks: 7, timeout: 3 }, collector);
    expect(seen[0].settings).toEqual({ forks: 7, timeoutSeconds: 3 });
    const unmanaged = r.findings.filter((f) => f.code === 'unknown-ca');
    expect(unmanaged.map((f) => f.subject)).toEqual([expect.stringMatching(/^production\/bbb1 TrustedUserCAKeys SHA256:/)]);
    expect(unmanaged[0].detail).toContain('line 2'); // the foreign CA; line 1, the registry's, is managed
  });

  it('a user every grant gives only from the VPN is asked for from inside the VPN range, others from the internet', async () => {
    const { seen, collector } = recorder();
    const root = await copyExample();
    const config = await fs.readFile(path.join(root, 'infra.yml'), 'utf8');
    // The infra team's grant made VPN-only too: sysadmin on production hosts is then reached only from the VPN.
    await fs.writeFile(path.join(root, 'infra.yml'), config.replace('    hosts: all\n    user: sysadmin\n', '    hosts: all\n    user: sysadmin\n    vpn_only: true\n'));
    await runAudit(testContext({ root, today: TODAY }), { live: true }, collector);
    const production = seen[0].requests.find((q) => q.environment === 'production')!;
    const at = (host: string) => production.targets.find((t) => t.host === host)?.addresses;
    expect(at('web1')).toEqual({ sysadmin: '10.77.0.1' });
    expect(at('mon1')).toEqual({ sysadmin: '10.77.0.1', prometheus: '192.0.2.1' });
  });
});
