/**
 * Fixes that work in the state they are printed in (runAudit on registries on disk): on a registry with a
 * key under two members, the duplicate is one duplicate-key finding (not again as invalid-registry), each fix
 * that runs `infra render` says to fix the registry first, stale-render is judged on what loads and says so;
 * the printed duplicate-key fix runs, and after it render does too. An address written in another form than
 * another peer's is vpn-address-conflict naming both peers, even when the member file holding it does not load.
 */
import type { Finding } from '../../src/core/audit.js';
import { runAudit } from '../../src/services/audit.js';
import { removeKey } from '../../src/services/keys.js';
import { render } from '../../src/services/render.js';
import { testContext } from '../helpers/context.js';
import { baseConfig, ed25519Line, makeRegistry, memberData } from '../helpers/registry-fixture.js';

const TODAY = '2026-11-29';
const SHARED = ed25519Line('shared');
const CAROL = ed25519Line('carol');
const wgKey = (n: number) => Buffer.alloc(32, n).toString('base64');
const NET = { ipv4: '10.77.0.0/24', ipv6: 'fd77:77::/64', endpoint: 'vpn.example.org:51820', server_public_key: wgKey(9), reserved: ['10.77.0.1'], allowed_ips: ['10.77.0.0/24'], servers: 'vpn1' };
const HOSTS = 'all:\n  hosts: {web1: {}, web2: {}, vpn1: {}}\n';

async function registry(bobPeers: unknown[] = [], bobKeys: unknown[] = [{ name: 'desk', key: SHARED, added: '2026-01-01' }]): Promise<string> {
  return makeRegistry({
    config: baseConfig({ access: [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }], vpn: { meet: NET } }),
    members: {
      alice: memberData('alice', {
        groups: ['infra'],
        ssh_keys: [{ name: 'laptop', key: SHARED, added: '2026-01-01' }],
        vpn_peers: [{ device: 'laptop', network: 'meet', public_key: wgKey(1), addresses: ['10.77.0.5/32', 'fd77:77::5/128'], added: '2026-01-01' }],
      }),
      bob: memberData('bob', { groups: ['infra'], ssh_keys: [...bobKeys, { name: 'other', key: ed25519Line('bob-other'), added: '2026-01-01' }], vpn_peers: bobPeers }),
      carol: memberData('carol', { status: 'departed', departed: '2026-10-01', groups: ['infra'], ssh_keys: [{ name: 'old', key: CAROL, added: '2026-01-01' }] }),
    },
    // web1's file still grants departed carol; web2's and vpn1's were never written
    files: { 'inventories/production/hosts.yml': HOSTS, 'inventories/production/host_vars/web1/infra.generated.yml': `infra_authorized_keys:\n  sysadmin:\n    - ${CAROL} carol/old\n` },
  });
}

const of = (findings: readonly Finding[], code: string) => findings.filter((f) => f.code === code);

describe('a key under two members', () => {
  it('is one duplicate-key finding, and no invalid-registry finding says it again', async () => {
    const r = await runAudit(testContext({ root: await registry(), today: TODAY }));
    expect(of(r.findings, 'duplicate-key')).toEqual([expect.objectContaining({ detail: expect.stringContaining('alice/laptop, bob/desk'), fix: 'infra keys remove bob desk' })]);
    expect(r.findings.filter((f) => /the same key is registered as/.test(f.detail))).toEqual([]);
  });

  it('every fix that runs infra render first says to fix the registry; stale-render is judged on what loads and says so', async () => {
    const r = await runAudit(testContext({ root: await registry(), today: TODAY }));
    const departed = of(r.findings, 'departed-access');
    expect(departed.map((f) => f.subject)).toEqual(['carol/old']);
    expect(departed[0].fix).toMatch(/^after fixing the registry until `infra check` passes: infra render, then apply it: /);
    const stale = of(r.findings, 'stale-render');
    expect(stale.map((f) => f.subject).sort()).toEqual(['web1', 'web2', 'vpn1'].map((h) => `inventories/production/host_vars/${h}/infra.generated.yml`).sort());
    for (const f of stale) {
      expect(f.fix).toBe('after fixing the registry until `infra check` passes: infra render');
      expect(f.detail).toContain('judged on the parts of the registry that load');
    }
    for (const f of r.findings.filter((x) => /infra render/.test(x.fix))) expect([f.code, f.fix.startsWith('after fixing the registry')]).toEqual([f.code, true]);
  });

  it('the fixes run in the order printed: the duplicate-key fix first, then infra render, and the audit has no finding left about either', async () => {
    const root = await registry();
    const ctx = testContext({ root, today: TODAY });
    await expect(render(ctx, {})).rejects.toThrow(); // render refuses while the registry is invalid, as the fixes say
    await removeKey(ctx, 'bob', 'desk');
    await render(ctx, {});
    const r = await runAudit(ctx);
    expect(r.findings.filter((f) => ['duplicate-key', 'invalid-registry', 'stale-render', 'departed-access'].includes(f.code))).toEqual([]);
    expect(r.findings.filter((f) => f.fix.startsWith('after fixing the registry'))).toEqual([]);
  });
});

describe('an address written in another form than another peer\'s', () => {
  it.each([
    // the peer's other address is a free one of the other family
    ['leading zeros', '10.77.0.05/32', 'fd77:77::8/128', 'meet/10.77.0.5', 'read as decimal'],
    ['IPv4-mapped IPv6', '::ffff:10.77.0.5', 'fd77:77::8/128', 'meet/10.77.0.5', 'IPv4-mapped'],
    ['IPv6 written out in full', 'fd77:77:0:0:0:0:0:5/128', '10.77.0.8/32', 'meet/fd77:77::5', 'the same address written another way'],
  ])('%s: vpn-address-conflict naming both peers, beside the formatting problem', async (_what, address, other, subject, how) => {
    const root = await registry([{ device: 'phone', network: 'meet', public_key: wgKey(2), addresses: [address, other], added: '2026-01-01' }], []);
    const r = await runAudit(testContext({ root, today: TODAY }));
    const conflicts = of(r.findings, 'vpn-address-conflict');
    expect(conflicts).toEqual([expect.objectContaining({ subject, detail: expect.stringContaining(`bob/phone holds ${address}`) })]);
    expect(conflicts[0].detail).toContain(`(${how}): the address of alice/laptop`);
    expect(conflicts[0].fix).toContain('infra vpn join bob --device phone --network meet');
    // the form itself is still a problem of bob's file
    expect(of(r.findings, 'invalid-registry').some((f) => f.subject.startsWith('keys/bob/member.yml'))).toBe(true);
  });

  it('the same address in the same form in a file that loads: one conflict naming both (as before), no invalid-registry saying it again', async () => {
    const root = await registry([{ device: 'phone', network: 'meet', public_key: wgKey(2), addresses: ['10.77.0.5/32', 'fd77:77::8/128'], added: '2026-01-01' }], []);
    const r = await runAudit(testContext({ root, today: TODAY }));
    expect(of(r.findings, 'vpn-address-conflict')).toEqual([expect.objectContaining({ subject: 'meet/10.77.0.5', detail: expect.stringContaining('alice/laptop and bob/phone share the address 10.77.0.5') })]);
    expect(r.findings.filter((f) => /is also held by/.test(f.detail))).toEqual([]);
  });
});
