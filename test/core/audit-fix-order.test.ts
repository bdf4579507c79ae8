/** Fixes in the order that works (core/audit-fix-order.ts) and the other readings of an address (core/address-readings.ts), with literals. */
import { otherReadings } from '../../src/core/address-readings.js';
import { AFTER_REGISTRY_FIX, orderFixes, problemsToReport } from '../../src/core/audit-fix-order.js';
import { formatAddress } from '../../src/core/ip-alloc.js';
import type { Finding } from '../../src/core/audit.js';

const f = (code: string, fix: string, detail = 'd'): Finding => ({ code, severity: 'high', subject: 's', detail, fix });

describe('otherReadings', () => {
  it.each([
    ['10.77.0.05/32', ['10.77.0.5 read as decimal']],
    ['10.77.0.010', ['10.77.0.10 read as decimal', '10.77.0.8 read as octal, as inet_aton does']],
    ['010.77.0.09', ['10.77.0.9 read as decimal']], // 09 is no octal number: only the decimal reading
    ['::ffff:10.77.0.2', ['10.77.0.2 IPv4-mapped']],
    ['::ffff:a4d:2/128', ['10.77.0.2 IPv4-mapped']],
    ['10.77.0.5', []],
    ['fd77:77::5', []],
    ['10.77.0.0300', ['10.77.0.192 read as octal, as inet_aton does']], // 300 in decimal is no octet
    ['not an address', []],
  ])('%s', (text, expected) => {
    const got = otherReadings(text).map((r) => `${formatAddress(r.address.family, r.address.value)} ${r.how}`);
    expect(got).toEqual(expected);
  });
});

describe('orderFixes', () => {
  const findings = [
    f('departed-access', 'infra render, then apply it: `ansible-playbook -i inventories/production ansible/apply-access.yml --tags ssh`'),
    f('stale-render', 'infra render'),
    f('vpn-bypass', 'in infra.yml, add `vpn_only: true` to access[0], then `infra render`'),
    f('weak-key', 'infra keys remove alice old'),
    f('invalid-registry', 'edit infra.yml:3 (x: y), then run `infra check`'),
    f('weak-key', 'infra rendering-is-not-a-command'),
  ];

  it('a valid registry: the fixes as they are', () => {
    expect(orderFixes(findings, false)).toEqual(findings);
  });

  it('an invalid registry: every fix that runs infra render says to fix the registry first; the others stay', () => {
    expect(orderFixes(findings, true).map((x) => x.fix)).toEqual([
      `${AFTER_REGISTRY_FIX}infra render, then apply it: \`ansible-playbook -i inventories/production ansible/apply-access.yml --tags ssh\``,
      'after fixing the registry until `infra check` passes: infra render',
      `${AFTER_REGISTRY_FIX}in infra.yml, add \`vpn_only: true\` to access[0], then \`infra render\``,
      'infra keys remove alice old',
      'edit infra.yml:3 (x: y), then run `infra check`',
      'infra rendering-is-not-a-command',
    ]);
  });

  it('never prefixes twice', () => {
    expect(orderFixes(orderFixes(findings, true), true)).toEqual(orderFixes(findings, true));
  });
});

describe('problemsToReport', () => {
  const dupKey = { file: 'keys/bob/member.yml', line: 10, field: 'ssh_keys[0].key', message: 'the same key is registered as alice/laptop: one key belongs to one principal; remove one with `infra keys remove bob desk`' };
  const dupAddress = { file: 'keys/bob/member.yml', line: 12, field: 'vpn_peers[0].addresses[0]', message: '10.77.0.5/32 is also held by alice/laptop: `infra vpn leave bob --device phone`, then ...' };
  const other = { file: 'keys/bob/member.yml', line: 3, field: 'email', message: 'not an email address' };

  it('drops a problem a duplicate-key or vpn-address-conflict finding already names (both holders), keeps the rest', () => {
    const found = [
      f('duplicate-key', 'infra keys remove bob desk', 'one key is registered as alice/laptop, bob/desk: a key belongs to one principal'),
      f('vpn-address-conflict', 'x', 'alice/laptop and bob/phone share the address 10.77.0.5 (compared as addresses, not text)'),
    ];
    expect(problemsToReport([dupKey, dupAddress, other], found)).toEqual([other]);
  });

  it('keeps them when no finding names both holders (the finding is about someone else)', () => {
    const found = [f('duplicate-key', 'x', 'one key is registered as carol/a, dana/b'), f('vpn-address-conflict', 'x', 'carol/x and dana/y share the address 10.77.0.9')];
    expect(problemsToReport([dupKey, dupAddress], found)).toEqual([dupKey, dupAddress]);
  });
});
