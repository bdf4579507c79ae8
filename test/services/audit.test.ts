/**
 * `runAudit` (src/services/audit.ts) on registries on disk: every flag's bad input, an invalid registry that
 * still gets a report, --since on a real git repository, --fail-on, --env, --wg-dump, --live through a fake
 * collector, the vars files it reads, and, for every finding whose fix is an infra command, that command run
 * through its service and the finding gone. Also: `keys list` and `members show` mark what the audit judges.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LiveCollector, LiveRequest } from '../../src/adapters/ansible-live.js';
import type { Finding } from '../../src/core/audit.js';
import { generatePrivateKey, publicKeyOf } from '../../src/core/wireguard.js';
import { ExitCode } from '../../src/lib/errors.js';
import { runAudit, type AuditOptions } from '../../src/services/audit.js';
import type { Context } from '../../src/services/context.js';
import { addKeys, listKeys, removeKey } from '../../src/services/keys.js';
import { editMember, offboardMember, showMember } from '../../src/services/members.js';
import { render } from '../../src/services/render.js';
import { joinVpn, leaveVpn } from '../../src/services/vpn.js';
import { seededRandom, testContext } from '../helpers/context.js';
import { copyExample } from '../helpers/example.js';
import { requireTool } from '../helpers/real-tools.js';
import { baseConfig, ed25519Line, makeRegistry, memberData, updateMember } from '../helpers/registry-fixture.js';
import { rejection } from '../helpers/thrown.js';

/** The example registry's dates are written for this day (dana's old laptop expired a month before). */
const TODAY = '2026-11-29';
const codes = (findings: readonly Finding[]) => [...new Set(findings.map((f) => f.code))].sort();
const about = (findings: readonly Finding[], code: string, subject: string) => findings.filter((f) => f.code === code && f.subject === subject);
const example = async (today = TODAY) => testContext({ root: await copyExample(), today });

describe('runAudit: bad input, each refused before anything is read', () => {
  const cases: Array<[string, AuditOptions, number, RegExp]> = [
    ['--as-of not a date', { asOf: 'yesterday' }, ExitCode.invalid, /--as-of "yesterday" is not a date/],
    ['--as-of a day that does not exist', { asOf: '2026-02-30' }, ExitCode.invalid, /--as-of "2026-02-30" is not a date/],
    ['--fail-on not a severity', { failOn: 'critical' }, ExitCode.invalid, /--fail-on "critical" is not a severity \(low, medium or high\)/],
    ['--format unknown', { format: 'html' }, ExitCode.invalid, /--format "html" is not one of table, markdown, json/],
    ['--since a date that does not exist', { since: '2026-13-01' }, ExitCode.invalid, /--since "2026-13-01" is neither a date/],
    ['--since empty', { since: '' }, ExitCode.invalid, /--since "" is neither a date/],
    ['--limit without --live', { limit: 'bbb1' }, ExitCode.usage, /--limit .* needs --live/],
    ['--env not in infra.yml', { env: 'prod' }, ExitCode.invalid, /no environment "prod" in infra.yml \(known: production, staging\)/],
  ];
  it.each(cases)('%s', async (_name, options, code, message) => {
    const ctx = await example();
    let asked = false;
    const e = await rejection(runAudit(ctx, options, async () => ((asked = true), { live: [], dumps: [] })));
    expect(e.exitCode).toBe(code);
    expect(e.message).toMatch(message);
    expect(e.hint).toMatch(/^infra audit|pass a date|YYYY-MM-DD/);
    expect(asked).toBe(false);
  });

  it('--since on a registry that is not a git repository: exit 3 saying so, with the commands that make it one', async () => {
    const root = await makeRegistry({ config: baseConfig(), files: { 'inventories/production/hosts.yml': 'all:\n  hosts: {web1: {}}\n' } });
    const e = await rejection(runAudit(testContext({ root, today: TODAY }), { since: '2026-01-01' }));
    expect(e.exitCode).toBe(ExitCode.invalid);
    expect(e.message).toContain('is not a git repository');
    expect(e.hint).toContain('git -C');
  });

  it('--wg-dump with a truncated line: exit 3 naming the line', async () => {
    const ctx = testContext({ root: await copyExample(), today: TODAY, stdin: 'meet\tabc\n' });
    const e = await rejection(runAudit(ctx, { wgDump: '-' }));
    expect(e.exitCode).toBe(ExitCode.invalid);
    expect(e.message).toMatch(/^wg dump line 1/);
  });
});

describe('runAudit: the report', () => {
  it('on the example registry: at least eight codes, the access matrix, sorted findings and a summary that counts them', async () => {
    const r = await runAudit(await example());
    expect(r.as_of).toBe(TODAY);
    expect(codes(r.findings)).toEqual(
      expect.arrayContaining(['expired-key', 'weak-key', 'old-key', 'key-expiring', 'vpn-bypass', 'single-member-host', 'token-overdue', 'token-due-soon', 'stale-render']),
    );
    expect(r.access).toContainEqual(expect.objectContaining({ environment: 'production', host: 'bbb1', user: 'sysadmin', members: ['alice', 'bob', 'dana', 'erin', 'frank'], vpn_only: false }));
    const rank = { high: 0, medium: 1, low: 2 };
    const order = r.findings.map((f) => `${rank[f.severity]} ${f.code} ${f.subject}`);
    expect(order).toEqual([...order].sort());
    expect(r.summary).toEqual({
      high: r.findings.filter((f) => f.severity === 'high').length,
      medium: r.findings.filter((f) => f.severity === 'medium').length,
      low: r.findings.filter((f) => f.severity === 'low').length,
    });
    expect(r.format).toBe('table');
    expect(r.failed).toBe(false);
    expect(r.changes).toBeUndefined();
  });

  it('--as-of moves every date judgement, and nothing else reads the clock', async () => {
    const before = await runAudit(await example(), { asOf: '2026-10-01' });
    expect(about(before.findings, 'expired-key', 'dana/old-laptop')).toEqual([]);
    expect(about(before.findings, 'key-expiring', 'dana/old-laptop')).toHaveLength(1);
    const fixedClock = await runAudit(await example('2030-01-01'), { asOf: '2026-10-01' });
    expect(fixedClock.findings).toEqual(before.findings);
  });

  it('--fail-on: failed when a finding is that severe or worse', async () => {
    // Only medium findings: bus factor (one member reaches the host) and nothing else.
    const root = await makeRegistry({
      config: baseConfig({ access: [{ groups: ['ops'], hosts: 'all', user: 'root' }] }),
      members: { ann: memberData('ann', { groups: ['ops'], ssh_keys: [{ name: 'laptop', key: ed25519Line('ann'), added: '2026-11-01' }] }) },
      files: { 'inventories/production/hosts.yml': 'all:\n  hosts: {web1: {}}\n' },
    });
    await render(testContext({ root, today: TODAY }), {});
    const audit = (failOn?: string) => runAudit(testContext({ root, today: TODAY }), { failOn });
    const base = await audit();
    expect(codes(base.findings)).toEqual(['single-member-host']);
    expect(base.failed).toBe(false);
    expect((await audit('high')).failed).toBe(false);
    expect((await audit('medium')).failed).toBe(true);
    expect((await audit('low')).failed).toBe(true);
  });

  it('--format is passed through once validated', async () => {
    for (const format of ['table', 'markdown', 'json']) expect((await runAudit(await example(), { format })).format).toBe(format);
  });

  it('--env audits one environment: its hosts and rendered files only', async () => {
    const r = await runAudit(await example(), { env: 'staging' });
    expect([...new Set(r.access.map((a) => a.environment))]).toEqual(['staging']);
    const stale = r.findings.filter((f) => f.code === 'stale-render').map((f) => f.subject);
    expect(stale.length).toBeGreaterThan(0);
    expect(stale.every((s) => s.startsWith('inventories/staging/'))).toBe(true);
    expect(r.findings.filter((f) => f.code === 'vpn-bypass')).toEqual([]); // the BBB rule is about production
  });
});

describe('runAudit: an invalid registry still gets a report', () => {
  it('a member file that does not parse and a grant that selects nothing: each an invalid-registry finding, the rest audited on what loads', async () => {
    const ctx = await example();
    await fs.writeFile(path.join(ctx.cwd, 'keys/frank/member.yml'), 'name: [unclosed\n');
    const config = await fs.readFile(path.join(ctx.cwd, 'infra.yml'), 'utf8');
    await fs.writeFile(path.join(ctx.cwd, 'infra.yml'), config.replace('hosts: monitoring', 'hosts: monitorin'));
    const r = await runAudit(ctx);
    const invalid = r.findings.filter((f) => f.code === 'invalid-registry');
    expect(invalid.map((f) => f.subject)).toEqual(expect.arrayContaining([expect.stringMatching(/^keys\/frank\/member\.yml:1 /), expect.stringMatching(/^infra\.yml:\d+ access\[3\]\.hosts/)]));
    expect(invalid.every((f) => f.severity === 'high' && /infra check/.test(f.fix))).toBe(true);
    // What loads is still audited: erin's weak key, dana's expired one, roobot's overdue token.
    expect(codes(r.findings)).toEqual(expect.arrayContaining(['weak-key', 'expired-key', 'token-overdue']));
    // Render refuses an invalid registry: what it would write is judged on what loads, said so, and its fix waits for the registry's.
    expect(r.findings.some((x) => x.code === 'stale-render')).toBe(true);
    for (const f of r.findings.filter((x) => x.code === 'stale-render')) {
      expect(f.detail).toContain('judged on the parts of the registry that load');
      expect(f.fix).toBe('after fixing the registry until `infra check` passes: infra render');
    }
  });

  it('infra.yml itself invalid: a report of invalid-registry findings, not a stack trace', async () => {
    const ctx = await example();
    await fs.writeFile(path.join(ctx.cwd, 'infra.yml'), 'org: [\n');
    const r = await runAudit(ctx, { failOn: 'high' });
    expect(codes(r.findings)).toEqual(['invalid-registry']);
    expect(r.findings[0].subject).toMatch(/^infra\.yml:1 /);
    expect(r.access).toEqual([]);
    expect(r.failed).toBe(true);
  });
});

const HAS_GIT = requireTool('git', 'git');
(HAS_GIT ? describe : describe.skip)('runAudit --since on a real git repository', () => {
  const git = (dir: string, args: string[], date: string) =>
    execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.org', '-c', 'commit.gpgsign=false', '-C', dir, ...args], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, GIT_CONFIG_NOSYSTEM: '1', HOME: dir },
    });
  const commit = (dir: string, date: string) => {
    git(dir, ['add', '-A'], date);
    git(dir, ['commit', '-q', '-m', `change of ${date}`], date);
    return git(dir, ['rev-parse', '--short', 'HEAD'], date).trim();
  };

  it('lists the access changes made through infra commands, with date and commit; a ref that does not exist is exit 3', async () => {
    const ctx = await example();
    const root = ctx.cwd;
    git(root, ['init', '-q', '-b', 'main'], '2026-11-01T12:00:00+00:00');
    const first = commit(root, '2026-11-01T12:00:00+00:00');
    await offboardMember(ctx, 'erin', '2026-11-10');
    const offboarded = commit(root, '2026-11-10T12:00:00+00:00');
    await removeKey(ctx, 'dana', 'old-laptop');
    const removed = commit(root, '2026-11-20T12:00:00+00:00');

    const sinceRef = await runAudit(ctx, { since: first });
    expect(sinceRef.since).toBe(first);
    expect(sinceRef.changes).toEqual([
      expect.objectContaining({ date: '2026-11-10', commit: offboarded, kind: 'member-offboarded', subject: 'erin' }),
      expect.objectContaining({ date: '2026-11-20', commit: removed, kind: 'key-removed', subject: 'dana/old-laptop' }),
    ]);
    const sinceDate = await runAudit(ctx, { since: '2026-11-15' });
    expect(sinceDate.changes).toEqual([expect.objectContaining({ commit: removed, kind: 'key-removed' })]);

    const e = await rejection(runAudit(ctx, { since: 'no-such-branch' }));
    expect(e.exitCode).toBe(ExitCode.invalid);
    expect(e.message).toContain('--since "no-such-branch": no such commit, branch or tag');
  });
});

describe('runAudit --wg-dump and --live', () => {
  const server = ['meet', generatePrivateKey(seededRandom('server')), publicKeyOf(generatePrivateKey(seededRandom('server'))), '51820', 'off'].join('\t');
  const peer = (key: string, ips: string) => ['meet', key, '(none)', '(none)', ips, '0', '0', '0', 'off'].join('\t');
  const CAROL = 'YzyG/4db4x9mvcy2PFz1aFYp9A/sMfCN/uwavSHdTQA=';
  const stranger = publicKeyOf(generatePrivateKey(seededRandom('stranger')));

  it('--wg-dump -: a departed member\'s peer and a stranger on the server', async () => {
    const ctx = testContext({ root: await copyExample(), today: TODAY, stdin: [server, peer(CAROL, '10.77.0.4/32'), peer(stranger, '10.77.0.99/32'), ''].join('\n') });
    const r = await runAudit(ctx, { wgDump: '-' });
    // the example's committed render predates carol's departure too: her device is found there and in the dump
    const device = about(r.findings, 'departed-access', 'carol/laptop').filter((f) => f.detail.includes('their device'));
    expect(device).toHaveLength(1);
    expect(device[0].detail).toContain('the WireGuard dump on stdin');
    expect(r.findings.filter((f) => f.code === 'unknown-peer').map((f) => f.subject)).toEqual([`stdin:meet/${stranger}`]);
  });

  it('--live asks the collector per environment (inventory path, users per host, VPN servers, --limit); progress only on a terminal', async () => {
    const seen: LiveRequest[][] = [];
    const fake: LiveCollector = async (requests, progress) => {
      seen.push(requests);
      progress('bbb1: ok');
      return {
        live: [{ environment: 'production', host: 'bbb1', authorizedKeys: { sysadmin: `${ed25519Line('intruder')}\n` } }, { environment: 'production', host: 'mon1', unreachable: 'connection refused' }],
        dumps: [{ source: 'vpn1', dump: { interfaces: [], peers: [] } }],
      };
    };
    const root = await copyExample();
    const onTerminal = testContext({ root, today: TODAY, terminal: true });
    const r = await runAudit(onTerminal, { live: true, limit: 'production' }, fake);
    const [requests] = seen;
    expect(requests.map((q) => q.environment)).toEqual(['production', 'staging']);
    const production = requests[0];
    expect(production.inventoryPath).toBe(path.join(root, 'inventories/production'));
    expect(production.limit).toBe('production');
    expect(production.vpnServers).toEqual(['vpn1']);
    expect(production.targets).toContainEqual({ host: 'mon1', users: expect.arrayContaining(['prometheus', 'sysadmin']), addresses: { prometheus: '192.0.2.1', sysadmin: '192.0.2.1' } }); // no grant there is VPN-only: asked as from the internet
    expect(requests[1].inventoryPath).toBe(path.join(root, 'inventories/staging'));
    expect(onTerminal.output.stderr).toBe('bbb1: ok\n');
    expect(codes(r.findings)).toEqual(expect.arrayContaining(['unknown-key', 'missing-key', 'unreachable-host']));
    expect(about(r.findings, 'unreachable-host', 'production/mon1')).toHaveLength(1);

    const piped = testContext({ root, today: TODAY, terminal: false });
    await runAudit(piped, { live: true }, fake);
    expect(piped.output.stderr).toBe('');
  });
});

describe('runAudit: the vars files beside the generated ones', () => {
  it('an infra_* variable in group_vars/ or another host_vars file is shadowed-render, and so is a whole-file vault (it could hide one); a README and the generated file are not', async () => {
    const ctx = await example();
    await render(ctx, {});
    const files: Record<string, string> = {
      'inventories/production/group_vars/all.yml': 'infra_authorized_keys:\n  sysadmin: [ssh-ed25519 AAAA]\nntp: pool.example\n',
      'inventories/production/host_vars/bbb1/zz-local.yml': 'infra_wireguard_peers: []\n',
      'inventories/production/group_vars/bots/vault': '$ANSIBLE_VAULT;1.1;AES256\n6162\n',
      'inventories/production/group_vars/README.md': 'infra_authorized_keys: notes about it\n',
      'inventories/production/host_vars/web1.yml': 'http_port: 8080\n',
    };
    for (const [rel, text] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(ctx.cwd, rel)), { recursive: true });
      await fs.writeFile(path.join(ctx.cwd, rel), text);
    }
    const r = await runAudit(ctx);
    expect(r.findings.filter((f) => f.code === 'shadowed-render').map((f) => f.subject)).toEqual([
      'inventories/production/group_vars/all.yml',
      'inventories/production/group_vars/bots/vault',
      'inventories/production/host_vars/bbb1/zz-local.yml',
    ]);
  });

  it('sees what Ansible sees: a merge key, a file only PyYAML reads, 150 aliases (no crash), each reported once', async () => {
    const ctx = await example();
    await render(ctx, {});
    const files: Record<string, string> = {
      'inventories/production/host_vars/bbb1/zz-tuning.yml': "<<: {infra_authorized_keys: {sysadmin: ['ssh-ed25519 AAAA mallory/laptop']}}\nbbb_tuning: 1\n",
      'inventories/production/host_vars/bbb2/rooms.yml': 'infra_authorized_keys: {}\nbbb_rooms: [1]#max\n',
      'inventories/production/group_vars/all/x.yml': `x: &x 1\n${Array.from({ length: 150 }, (_, i) => `v${i}: *x`).join('\n')}\n`,
    };
    for (const [rel, text] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(ctx.cwd, rel)), { recursive: true });
      await fs.writeFile(path.join(ctx.cwd, rel), text);
    }
    const r = await runAudit(ctx);
    const shadowed = r.findings.filter((f) => f.code === 'shadowed-render');
    expect(shadowed.map((f) => f.subject)).toEqual(['inventories/production/host_vars/bbb1/zz-tuning.yml', 'inventories/production/host_vars/bbb2/rooms.yml']);
    expect(shadowed[0].detail).toContain('infra_authorized_keys');
    expect(shadowed[1].detail).toMatch(/^inventories\/production\/host_vars\/bbb2\/rooms\.yml:2 is not YAML infra can read/);
  });
});

// ------------------------------------------------------------------ fixes, run

/**
 * Runs every `infra ...` command a finding's fix names, through the services, as the user would type it.
 * A placeholder file (NEW_KEY.pub) is made first; commands in `skip` (nothing to do with this finding) are left out.
 */
async function runFix(ctx: Context, finding: Finding, skip: readonly string[] = []): Promise<string[]> {
  const commands = [...finding.fix.matchAll(/infra [a-z]+(?: [^\s`;,()]+)*/g)].map((m) => m[0]).filter((c) => !skip.includes(c));
  if (!commands.length) throw new Error(`no infra command in the fix: ${finding.fix}`);
  for (const command of commands) {
    const [, topic, verb, ...rest] = command.split(' ');
    const flag = (name: string) => {
      const i = rest.indexOf(`--${name}`);
      return i >= 0 ? rest[i + 1] : undefined;
    };
    if (topic === 'render' && verb === undefined) await render(ctx, {});
    else if (topic === 'keys' && verb === 'remove') await removeKey(ctx, rest[0], rest[1]);
    else if (topic === 'keys' && verb === 'add') {
      await fs.writeFile(path.join(ctx.cwd, rest[1]), `${ed25519Line(`new-${rest[0]}`, `${rest[0]}@new`)}\n`);
      await addKeys(ctx, { handle: rest[0], file: rest[1], name: 'new' });
    } else if (topic === 'members' && verb === 'edit') await editMember(ctx, { handle: rest[0], pgp: flag('pgp') });
    else if (topic === 'vpn' && verb === 'leave') await leaveVpn(ctx, { handle: rest[0], device: flag('device'), network: flag('network') });
    else if (topic === 'vpn' && verb === 'join') await joinVpn({ ...ctx, json: true }, { handle: rest[0], device: flag('device'), network: flag('network') });
    else throw new Error(`the test cannot run: ${command}`);
  }
  return commands;
}

describe('the fix a finding names, run, makes the finding go', () => {
  const fixes: Array<[string, string]> = [
    ['weak-key', 'erin/old-thinkpad'],
    ['expired-key', 'dana/old-laptop'],
    ['old-key', 'erin/desktop'],
    ['key-expiring', 'alice/workstation'],
  ];
  it.each(fixes)('%s %s', async (code, subject) => {
    const ctx = await example();
    const [found] = about((await runAudit(ctx)).findings, code, subject);
    expect(found).toBeDefined();
    const ran = await runFix(ctx, found);
    expect(ran.some((c) => c.startsWith('infra keys remove'))).toBe(true);
    const after = await runAudit(ctx);
    expect(about(after.findings, code, subject)).toEqual([]);
    // and the fix brought no new key finding of its own (the replacement key is fine)
    expect(after.findings.filter((f) => /key/.test(f.code) && f.subject.endsWith('/new'))).toEqual([]);
  });

  it('stale-render: `infra render`', async () => {
    const ctx = await example();
    const stale = (await runAudit(ctx)).findings.filter((f) => f.code === 'stale-render');
    expect(stale.length).toBeGreaterThan(0);
    expect(await runFix(ctx, stale[0])).toEqual(['infra render']);
    expect((await runAudit(ctx)).findings.filter((f) => f.code === 'stale-render')).toEqual([]);
    // A hand edit to a generated file is stale again, and named.
    const file = stale[0].subject;
    await fs.appendFile(path.join(ctx.cwd, file), '# edited by hand\n');
    expect((await runAudit(ctx)).findings.filter((f) => f.code === 'stale-render').map((f) => f.subject)).toEqual([file]);
  });

  it('departed-access in a rendered inventory: offboarding then `infra render`', async () => {
    const ctx = await example();
    await updateMember(ctx.cwd, 'carol', { status: 'active', departed: undefined });
    await render(ctx, {});
    expect((await runAudit(ctx)).findings.filter((f) => f.code === 'departed-access')).toEqual([]);
    await offboardMember(ctx, 'carol', '2026-11-20');
    const departed = (await runAudit(ctx)).findings.filter((f) => f.code === 'departed-access');
    expect(departed.length).toBeGreaterThan(0);
    expect(departed.every((f) => f.subject === 'carol/laptop')).toBe(true); // her key, and her VPN peer on vpn1
    expect(departed.map((f) => f.detail).join('\n')).toMatch(/host_vars\/bbb1\/infra\.generated\.yml \(infra_authorized_keys\)/);
    expect(await runFix(ctx, departed[0])).toEqual(['infra render']);
    expect((await runAudit(ctx)).findings.filter((f) => f.code === 'departed-access')).toEqual([]);
  });

  it('admin-without-pgp: `infra members edit bob --pgp bob.asc`', async () => {
    const ctx = await example();
    await fs.rename(path.join(ctx.cwd, 'keys/bob/pgp.asc'), path.join(ctx.cwd, 'bob.asc'));
    const [found] = about((await runAudit(ctx)).findings, 'admin-without-pgp', 'bob');
    expect(found).toBeDefined();
    // `infra tokens reencrypt` then re-encrypts existing token values; bob's key is there once the edit is made.
    expect(await runFix(ctx, found, ['infra tokens reencrypt'])).toEqual(['infra members edit bob --pgp bob.asc']);
    expect(about((await runAudit(ctx)).findings, 'admin-without-pgp', 'bob')).toEqual([]);
  });

  // A duplicate key and a shared or reserved VPN address are problems between files: an edit may start on
  // such a registry (it is how they get fixed), as long as it adds no problem.
  it('duplicate-key: its fix, `infra keys remove frank laptop`, runs on the invalid registry and the finding goes', async () => {
    const ctx = await example();
    const alice = await fs.readFile(path.join(ctx.cwd, 'keys/alice/member.yml'), 'utf8');
    const laptop = /key: (ssh-ed25519 \S+)/.exec(alice)![1];
    // `infra keys add` refuses a key another principal holds; two pull requests merged together can still do it.
    await updateMember(ctx.cwd, 'frank', { ssh_keys: [{ name: 'laptop', key: laptop, added: '2026-06-01' }] });
    const found = (await runAudit(ctx)).findings.filter((f) => f.code === 'duplicate-key');
    expect(found).toEqual([expect.objectContaining({ severity: 'high', fix: 'infra keys remove frank laptop' })]);
    await runFix(ctx, found[0]);
    expect(about((await runAudit(ctx)).findings, 'duplicate-key', found[0].subject)).toEqual([]);
  });

  it('vpn-address-conflict: its fix, `infra vpn leave` then `infra vpn join`, runs and the finding goes', async () => {
    const ctx = await example();
    const dana = await fs.readFile(path.join(ctx.cwd, 'keys/dana/member.yml'), 'utf8');
    await fs.writeFile(path.join(ctx.cwd, 'keys/dana/member.yml'), dana.replace('10.77.0.5/32', '10.77.0.1/32')); // the server's own address
    const found = (await runAudit(ctx)).findings.filter((f) => f.code === 'vpn-address-conflict');
    expect(found.map((f) => [f.subject, f.fix])).toEqual([['meet/10.77.0.1', 'infra vpn leave dana --device laptop --network meet, then `infra vpn join dana --device laptop --network meet` (a new key and a free address)']]);
    await runFix(ctx, found[0]);
    expect((await runAudit(ctx)).findings.filter((f) => f.code === 'vpn-address-conflict')).toEqual([]);
  });
});

describe("keys list and members show mark what the audit reports, with the audit's judgements", () => {
  it('keys list: expired, expiring and old keys; none on departed members\' keys', async () => {
    const ctx = await example();
    const { keys } = await listKeys(ctx);
    const marks = (id: string) => keys.find((k) => `${k.member}/${k.name}` === id)!.marks;
    expect(marks('dana/old-laptop')).toEqual([{ code: 'expired-key', severity: 'high', note: 'expired 2026-10-31' }]);
    expect(marks('alice/workstation')).toEqual([{ code: 'key-expiring', severity: 'low', note: 'expires in 11 days' }]);
    expect(marks('erin/desktop')).toEqual([{ code: 'old-key', severity: 'medium', note: 'old: over 730 days' }]);
    expect(marks('alice/laptop')).toEqual([]);
    expect(marks('carol/laptop')).toEqual([]); // departed: it grants nothing, the audit does not judge it
    // the same keys, the same codes as the audit's findings
    const audit = await runAudit(ctx);
    const judged = keys.flatMap((k) => k.marks.map((m) => `${m.code} ${k.member}/${k.name}`)).sort();
    const reported = audit.findings.filter((f) => ['expired-key', 'key-expiring', 'old-key'].includes(f.code)).map((f) => `${f.code} ${f.subject}`).sort();
    expect(judged).toEqual(reported);
  });

  it('members show: key marks and token marks (overdue, due soon)', async () => {
    const ctx = await example();
    const dana = await showMember(ctx, 'dana');
    expect(dana.keys.find((k) => k.name === 'old-laptop')!.marks.map((m) => m.code)).toEqual(['expired-key']);
    const roobot = await showMember(ctx, 'roobot');
    const mark = (name: string) => roobot.tokens.find((t) => t.name === name)!.mark;
    expect(mark('github')).toEqual({ code: 'token-overdue', severity: 'high', note: 'overdue by 61 days' });
    expect(mark('matrix')).toEqual({ code: 'token-due-soon', severity: 'low', note: 'due in 1 day' });
    expect(mark('webhook-secret')).toBeUndefined();
  });
});

it('a registry with nothing wrong: no findings', async () => {
  const key = (label: string) => [{ name: 'laptop', key: ed25519Line(label), added: '2026-11-01' }];
  const root = await makeRegistry({
    config: baseConfig({ access: [{ groups: ['ops'], hosts: 'all', user: 'root' }] }),
    members: { ann: memberData('ann', { groups: ['ops'], ssh_keys: key('ann') }), ben: memberData('ben', { groups: ['ops'], ssh_keys: key('ben') }) },
    files: { 'inventories/production/hosts.yml': 'all:\n  hosts: {web1: {}}\n' },
  });
  const ctx = testContext({ root, today: TODAY });
  await render(ctx, {});
  const r = await runAudit(ctx, { failOn: 'low' });
  expect(r.findings).toEqual([]);
  expect(r.failed).toBe(false);
  expect(r.access).toEqual([expect.objectContaining({ host: 'web1', user: 'root', members: ['ann', 'ben'] })]);
});
