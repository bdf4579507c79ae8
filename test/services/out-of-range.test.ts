/**
 * Numbers and dates out of range, through the services: what used to crash (exit 1, "Invalid time value")
 * is a problem `check` names with its line, an invalid-registry finding in `audit`, or a clear refusal
 * (exit 3); and dates of things done that lie after today (`added: 2099-05-10`, which silenced old-key) are
 * problems judged by the context's clock, or audit's --as-of.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readCollector } from '../../src/core/live-collect.js';
import { ExitCode, InfraError } from '../../src/lib/errors.js';
import { runAudit } from '../../src/services/audit.js';
import { showMember } from '../../src/services/members.js';
import { checkRegistry } from '../../src/services/registry.js';
import { listTokens, rotateDue, showToken } from '../../src/services/tokens.js';
import { vpnStatus } from '../../src/services/vpn.js';
import { testContext } from '../helpers/context.js';
import { copyExample } from '../helpers/example.js';

const TODAY = '2026-12-01';
const ctx = (root: string, today = TODAY) => testContext({ root, today, json: true });

async function edit(root: string, rel: string, from: string, to: string): Promise<void> {
  const file = path.join(root, rel);
  const text = await fs.readFile(file, 'utf8');
  expect(text).toContain(from);
  await fs.writeFile(file, text.replace(from, to));
}

/** What a reader did: answered, or refused with a clear exit code (never exit 1, a crash). */
async function outcome(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return 'answered';
  } catch (e) {
    if (e instanceof InfraError) return `exit ${e.exitCode}`;
    throw e;
  }
}

const readers = (root: string): Array<[string, () => Promise<unknown>]> => [
  ['audit', () => runAudit(ctx(root), { asOf: TODAY, format: 'json' })],
  ['tokens list', () => listTokens(ctx(root))],
  ['tokens show', () => showToken(ctx(root), { ref: 'roobot/github' })],
  ['members show', () => showMember(ctx(root), 'roobot')],
  ['tokens rotate --due --dry-run', () => rotateDue(ctx(root), { dryRun: true })],
];

describe('rotate_every_days: 100000000', () => {
  it.each([
    ['in infra.yml policy', 'infra.yml', '    rotate_every_days: 90       # for tokens that set none', '    rotate_every_days: 100000000', 'policy.tokens.rotate_every_days'],
    ['on a token', 'keys/roobot/member.yml', '    rotate_every_days: 90', '    rotate_every_days: 100000000', 'tokens[0].rotate_every_days'],
  ])('%s: check names it with its line; every reader answers or refuses clearly', async (_where, rel, from, to, field) => {
    const root = await copyExample();
    await edit(root, rel, from, to);
    const checked = await checkRegistry(ctx(root));
    const problem = checked.problems.find((p) => p.field === field);
    expect(problem).toMatchObject({ file: rel, line: expect.any(Number), message: 'must be at most 36500, got 100000000' });
    for (const [name, run] of readers(root)) expect([name, await outcome(run)]).toEqual([name, expect.stringMatching(/^answered$|^exit 3$/)]);
    const audit = await runAudit(ctx(root), { asOf: TODAY, format: 'json' });
    expect(audit.findings.some((f) => f.code === 'invalid-registry' && f.detail.includes('must be at most 36500'))).toBe(true);
  });
});

describe('a WireGuard handshake past any date', () => {
  const dump = (handshake: string) =>
    `wg0\t(none)\tQsYq4yARL4YyaJLcm/zwkAnSSm5p+SQ/AE3KJduyGlo=\t51820\toff\nwg0\tIaWu2wToMjtbRy9LKNHBef8nMfNpounxr65amMcgdi0=\t(none)\t(none)\t10.77.0.7/32\t${handshake}\t0\t0\toff\n`;

  it('vpn status FILE and audit --wg-dump refuse it (exit 3) naming the field; a far but real date is read', async () => {
    const root = await copyExample();
    await fs.writeFile(path.join(root, 'far.dump'), dump('9999999999999'));
    for (const run of [() => vpnStatus(ctx(root), { file: 'far.dump' }), () => runAudit(ctx(root), { asOf: TODAY, wgDump: 'far.dump' })]) {
      const e = await run().then(() => undefined, (err: unknown) => err as InfraError);
      expect([e?.exitCode, e?.message]).toEqual([ExitCode.invalid, expect.stringContaining('latest-handshake 9999999999999 is out of range')]);
    }
    await fs.writeFile(path.join(root, 'year-2286.dump'), dump('9999999999'));
    expect((await vpnStatus(ctx(root), { file: 'year-2286.dump' })).peers.map((p) => p.member)).toEqual(['frank']);
    expect((await runAudit(ctx(root), { asOf: TODAY, wgDump: 'year-2286.dump' })).findings.filter((f) => f.code === 'idle-peer' && f.subject.startsWith('frank'))).toEqual([]);
  });

  it("audit --live: a VPN server's unreadable dump is that host's error, not the end of the audit", () => {
    const hex = (text: string) => `x${Buffer.from(text, 'utf8').toString('hex')}`;
    const answer = (handshake: string) => ['infra-live-collect 1', `hostview 0 ${hex('permitrootlogin no\n')}`, `wg 0 ${hex(dump(handshake))}`, 'end', ''].join('\n');
    const far = readCollector({ status: 'ok', result: { stdout: answer('9999999999999') } }, true);
    expect(far.kind === 'answer' && far.wg).toEqual({ error: expect.stringContaining('latest-handshake 9999999999999 is out of range') });
    const real = readCollector({ status: 'ok', result: { stdout: answer('9999999999') } }, true);
    expect(real.kind === 'answer' && real.wg && 'dump' in real.wg).toBe(true);
  });
});

describe('dates of things done that lie in the future', () => {
  it("erin's key added 2099-05-10: a check problem at its line, an invalid-registry finding, judged by the context's clock and --as-of", async () => {
    const root = await copyExample();
    await edit(root, 'keys/erin/member.yml', 'added: 2023-05-10', 'added: 2099-05-10');
    const checked = await checkRegistry(ctx(root));
    expect(checked.problems.filter((p) => p.message.includes('after today'))).toEqual([
      { file: 'keys/erin/member.yml', line: 16, field: 'ssh_keys[1].added', message: `2099-05-10 is after today (${TODAY}): a key added in the future is never old; write the real date` },
    ]);
    const audit = await runAudit(ctx(root), { asOf: TODAY, format: 'json' });
    expect(audit.findings.filter((f) => f.code === 'invalid-registry' && f.detail.includes('2099-05-10'))).toHaveLength(1);
    // the clock decides, not the machine: on 2099-05-10 itself, and with --as-of past it, nothing is wrong
    expect((await checkRegistry(ctx(root, '2099-05-10'))).problems.filter((p) => p.message.includes('after today'))).toEqual([]);
    expect((await runAudit(ctx(root), { asOf: '2099-06-01', format: 'json' })).findings.filter((f) => f.detail.includes('after today'))).toEqual([]);
  });

  it('rotated_at and departed after today are problems too', async () => {
    const root = await copyExample();
    await edit(root, 'keys/roobot/member.yml', 'rotated_at: 2026-07-01', 'rotated_at: 2030-07-01');
    const fields = (await checkRegistry(ctx(root))).problems.filter((p) => p.message.includes('after today')).map((p) => `${p.file} ${p.field}`);
    expect(fields).toEqual(['keys/roobot/member.yml tokens[0].rotated_at']);
    const carol = await fs.readFile(path.join(root, 'keys/carol/member.yml'), 'utf8');
    const departed = /departed: (\S+)/.exec(carol)![1];
    await edit(root, 'keys/carol/member.yml', `departed: ${departed}`, 'departed: 2031-01-01');
    expect((await checkRegistry(ctx(root))).problems.filter((p) => p.message.includes('after today')).map((p) => p.field).sort()).toEqual(['departed', 'tokens[0].rotated_at']);
  });
});
