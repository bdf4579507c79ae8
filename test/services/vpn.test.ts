/**
 * The VPN services called directly (no build): joinVpn, leaveVpn, rekeyVpn, listVpn, vpnStatus over a
 * copy of the example registry or a small fixture, with a fixed clock, seeded randomness and captured streams.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import QRCode from 'qrcode';
import { parse } from 'yaml';
import { generatePrivateKey, publicKeyOf } from '../../src/core/wireguard.js';
import type { Prompter } from '../../src/lib/prompter.js';
import { runAudit } from '../../src/services/audit.js';
import { joinVpn, leaveVpn, listVpn, rekeyVpn, vpnStatus } from '../../src/services/vpn.js';
import { seededRandom, testContext } from '../helpers/context.js';
import { hunk } from '../helpers/diff.js';
import { rejection } from '../helpers/thrown.js';
import { copyExample, tempDir, treeDigest } from '../helpers/example.js';
import { baseConfig, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { configFields } from '../helpers/wg-config.js';

const TODAY = '2026-06-15';
/** The key a context with the default seed makes first: derived here from the seed, not read from the output. */
const SEEDED_PRIVATE = generatePrivateKey(seededRandom('infra-test'));
const SEEDED_PUBLIC = publicKeyOf(SEEDED_PRIVATE);
const otherKey = (label: string) => publicKeyOf(generatePrivateKey(seededRandom(label)));

const memberFile = (root: string, handle: string) => path.join(root, `keys/${handle}/member.yml`);
const readMember = (root: string, handle: string) => fs.readFile(memberFile(root, handle), 'utf8');



function scriptedPrompter(answers: Record<string, string>): Prompter & { asked: string[] } {
  const asked: string[] = [];
  const answer = (message: string) => {
    asked.push(message);
    const key = Object.keys(answers).find((k) => message.includes(k));
    if (key === undefined) throw new Error(`unexpected prompt: ${message}`);
    return answers[key];
  };
  const never = async () => {
    throw new Error('unexpected prompt');
  };
  return {
    asked,
    input: async ({ message }) => answer(message),
    select: async ({ message, choices }) => {
      const wanted = answer(message);
      return choices.find((c) => c.value === (wanted as unknown))!.value;
    },
    password: never,
    confirm: never,
    checkbox: never,
  };
}

describe('edits change only the bytes they must (example registry)', () => {
  it('joinVpn adds exactly the peer lines at the end of vpn_peers', async () => {
    const root = await copyExample();
    const before = await readMember(root, 'alice');
    const ctx = testContext({ root, today: TODAY });
    const result = await joinVpn(ctx, { handle: 'alice', device: 'tablet' });
    expect(result.public_key).toBe(SEEDED_PUBLIC);
    expect(hunk(before, await readMember(root, 'alice'))).toEqual({
      removed: [],
      added: ['  - device: tablet', '    network: meet', `    public_key: ${SEEDED_PUBLIC}`, '    addresses: [10.77.0.8/32, fd77:77::8/128]', `    added: ${TODAY}`],
    });
    expect(configFields(ctx.output.stdout)['Interface.PrivateKey']).toBe(SEEDED_PRIVATE);
  });

  it('joinVpn on `vpn_peers: []` in the middle of the file: the list opens there, the rest stays', async () => {
    const root = await copyExample();
    const before = await readMember(root, 'roobot');
    await joinVpn(testContext({ root, today: TODAY }), { handle: 'roobot', device: 'ci', publicKey: otherKey('roobot-ci') });
    const after = await readMember(root, 'roobot');
    expect(hunk(before, after)).toEqual({
      removed: ['vpn_peers: []'],
      added: ['vpn_peers:', '  - device: ci', '    network: meet', `    public_key: ${otherKey('roobot-ci')}`, '    addresses: [10.77.0.8/32, fd77:77::8/128]', `    added: ${TODAY}`],
    });
    expect(parse(after).tokens.map((t: { name: string }) => t.name)).toEqual(['github', 'matrix', 'webhook-secret']);
  });

  it('leaveVpn removes exactly the peer lines', async () => {
    const root = await copyExample();
    const before = await readMember(root, 'bob');
    const ctx = testContext({ root, today: TODAY });
    await joinVpn(ctx, { handle: 'bob', device: 'phone', publicKey: otherKey('bob-phone') });
    const joined = await readMember(root, 'bob');
    const result = await leaveVpn(ctx, { handle: 'bob', device: 'laptop' });
    expect(result).toEqual({ member: 'bob', device: 'laptop', network: 'meet', addresses: ['10.77.0.3/32', 'fd77:77::3/128'], public_key: 'xlZNWbjzu6GRrzjaRVgO7L+SDW/DyRvIgFx9NjQ1Mzo=' });
    expect(hunk(joined, await readMember(root, 'bob'))).toEqual({
      removed: ['  - device: laptop', '    network: meet', '    public_key: xlZNWbjzu6GRrzjaRVgO7L+SDW/DyRvIgFx9NjQ1Mzo=', '    addresses: [10.77.0.3/32, "fd77:77::3/128"]', '    added: 2025-06-16'],
      added: [],
    });
    // and leaving the last device gives the empty list back, as `members add` writes it
    await leaveVpn(ctx, { handle: 'bob', device: 'phone' });
    const last = hunk(before, await readMember(root, 'bob'));
    expect(last.added).toEqual(['vpn_peers: []']);
    expect(last.removed[0]).toBe('vpn_peers:');
  });

  it('rekeyVpn changes exactly the one public_key line', async () => {
    const root = await copyExample();
    const before = await readMember(root, 'alice');
    const ctx = testContext({ root, today: TODAY });
    const result = await rekeyVpn(ctx, { handle: 'alice', device: 'laptop' });
    expect(hunk(before, await readMember(root, 'alice'))).toEqual({
      removed: ['    public_key: S1240y2EcZQzU3bYNbcIs8IbU0s5CqN9dxWsyf6VZAI='],
      added: [`    public_key: ${SEEDED_PUBLIC}`],
    });
    expect(result).toMatchObject({ addresses: ['10.77.0.2/32', 'fd77:77::2/128'], private_key_included: true });
    expect(configFields(ctx.output.stdout)).toMatchObject({ 'Interface.PrivateKey': SEEDED_PRIVATE, 'Interface.Address': '10.77.0.2/32, fd77:77::2/128' });
  });
});

const meet = { ipv4: '10.77.0.0/24', endpoint: 'vpn.example.org:51820', server_public_key: otherKey('server'), reserved: ['10.77.0.1'], allowed_ips: ['10.77.0.0/24'], servers: 'vpn' };
const ops = { ...meet, ipv4: '10.78.0.0/24', reserved: [], allowed_ips: ['10.78.0.0/24'] };
const fixture = (vpn: Record<string, unknown> = { meet }) =>
  makeRegistry({
    config: baseConfig({ vpn }),
    members: { alice: memberData('alice'), carol: memberData('carol', { status: 'departed', departed: '2026-02-01' }) },
    files: { 'inventories/production/hosts.yml': 'all:\n  children:\n    vpn:\n      hosts:\n        vpn1:\n' },
  });

describe('joinVpn: asking, refusing, delivering', () => {
  it('on a terminal, asks for the device and the network', async () => {
    const root = await fixture({ meet, ops });
    const prompter = scriptedPrompter({ Device: 'tablet', network: 'ops' });
    const result = await joinVpn(testContext({ root, prompter }), { handle: 'alice', publicKey: otherKey('t') });
    expect(prompter.asked).toEqual([expect.stringContaining('Device'), expect.stringContaining('network')]);
    expect(result).toMatchObject({ device: 'tablet', network: 'ops', addresses: ['10.78.0.1/32'] });
  });

  it('without a prompter a missing device is a usage error naming --device; nothing written', async () => {
    const root = await fixture();
    const before = await treeDigest(root);
    const e = await rejection(joinVpn(testContext({ root }), { handle: 'alice' }));
    expect(e).toMatchObject({ exitCode: 2, message: 'missing --device' });
    expect(await treeDigest(root)).toBe(before);
  });

  it('an unknown handle is the one "no member" error, with the closest handle', async () => {
    const root = await fixture();
    const e = await rejection(joinVpn(testContext({ root }), { handle: 'alise', device: 'x' }));
    expect(e).toMatchObject({ exitCode: 3, message: 'no member "alise" (did you mean "alice"?)' });
  });

  it('the config goes to ctx.stdout; under --json it is only in the result', async () => {
    const root = await fixture();
    const json = testContext({ root, json: true });
    const result = await joinVpn(json, { handle: 'alice', device: 'laptop' });
    expect(json.output).toEqual({ stdout: '', stderr: '' });
    expect(configFields(result.config!)['Interface.PrivateKey']).toBe(SEEDED_PRIVATE);
  });

  describe('--qr', () => {
    const grid = (rows: string[], darkTop: (c: string) => boolean, darkBottom: (c: string) => boolean) =>
      rows.flatMap((line) => [[...line].map(darkTop), [...line].map(darkBottom)]);
    const mismatches = (dark: boolean[][], margin: number, config: string) => {
      const symbol = QRCode.create(config, { errorCorrectionLevel: 'M' });
      const out: string[] = [];
      for (let y = 0; y < symbol.modules.size; y++) for (let x = 0; x < symbol.modules.size; x++) if (dark[y + margin][x + margin] !== Boolean(symbol.modules.get(y, x))) out.push(`${y},${x}`);
      return { out, size: symbol.modules.size };
    };

    it('refused when stdout is not a terminal (it would pipe a private key as escape codes); nothing written', async () => {
      const root = await fixture();
      const before = await treeDigest(root);
      const ctx = testContext({ root });
      const e = await rejection(joinVpn(ctx, { handle: 'alice', device: 'phone', qr: true }));
      expect(e).toMatchObject({ exitCode: 2, message: expect.stringContaining('not a terminal'), hint: expect.stringContaining('--force') });
      expect(ctx.output.stdout).toBe('');
      expect(await treeDigest(root)).toBe(before);
    });

    it('on a terminal: coloured half blocks whose dark modules are the config', async () => {
      const root = await fixture();
      const ctx = testContext({ root, terminal: true });
      const out = path.join(await tempDir(), 'phone.conf');
      await joinVpn(ctx, { handle: 'alice', device: 'phone', qr: true, out });
      expect(ctx.output.stdout).toContain('\u001b[');
      const rows = ctx.output.stdout.replace(/\u001b\[[0-9;]*m/g, '').split('\n').filter((l) => l.length);
      const dark = grid(rows, (c) => c === '█' || c === '▀', (c) => c === '█' || c === '▄');
      const { out: wrong, size } = mismatches(dark, 1, await fs.readFile(out, 'utf8'));
      expect([...rows[0]].length).toBe(size + 2);
      expect(wrong).toEqual([]);
      expect(ctx.output.stderr).toMatch(/QR code holds the device's private key/);
    });

    it.each([
      ['NO_COLOR on a terminal', { terminal: true, env: { NO_COLOR: '1' } }, { qr: true }],
      ['--force onto a pipe', { terminal: false, env: {} }, { qr: true, force: true }],
    ])('%s: no escape codes; the light modules are drawn, with a quiet zone', async (_label, streams, flags) => {
      const root = await fixture();
      const ctx = testContext({ root, ...streams });
      const result = await joinVpn(ctx, { handle: 'alice', device: 'phone', ...flags });
      expect(ctx.output.stdout).not.toContain('\u001b');
      const rows = ctx.output.stdout.split('\n').filter((l) => l.length);
      const light = grid(rows, (c) => c === '█' || c === '▀', (c) => c === '█' || c === '▄');
      const { out, size } = mismatches(light.map((row) => row.map((l) => !l)), 2, result.config!);
      expect([...rows[0]].length).toBe(size + 4);
      expect(light[0].every(Boolean) && light[1].every(Boolean)).toBe(true);
      expect(out).toEqual([]);
    });
  });

  describe('--out', () => {
    it('a dangling symlink is refused before the peer is recorded; with --force the link is replaced by a 0600 file', async () => {
      const root = await fixture();
      const dir = await tempDir();
      const link = path.join(dir, 'alice.conf');
      await fs.symlink(path.join(dir, 'missing', 'target.conf'), link);
      const before = await treeDigest(root);
      const e = await rejection(joinVpn(testContext({ root }), { handle: 'alice', device: 'laptop', out: link }));
      expect(e).toMatchObject({ exitCode: 3, message: expect.stringMatching(/symbolic link .*does not exist.*nothing was changed/) });
      expect(await treeDigest(root)).toBe(before);
      expect((await fs.lstat(link)).isSymbolicLink()).toBe(true);

      const ctx = testContext({ root });
      const result = await joinVpn(ctx, { handle: 'alice', device: 'laptop', out: link, force: true });
      const st = await fs.lstat(link);
      expect({ file: st.isFile(), mode: st.mode & 0o777 }).toEqual({ file: true, mode: 0o600 });
      expect(configFields(await fs.readFile(link, 'utf8'))['Interface.PrivateKey']).toBe(SEEDED_PRIVATE);
      expect(result).toMatchObject({ config: null, out: link });
      expect(ctx.output.stdout).toBe('');
    });

    it('a relative path is taken from ctx.cwd; a folder is refused', async () => {
      const root = await fixture();
      const cwd = await tempDir();
      await fs.mkdir(path.join(cwd, 'configs'));
      const e = await rejection(joinVpn(testContext({ root, cwd }), { handle: 'alice', device: 'laptop', out: 'configs' }));
      expect(e).toMatchObject({ exitCode: 3, message: '--out: configs is a folder; nothing was changed' });
      await joinVpn(testContext({ root, cwd }), { handle: 'alice', device: 'laptop', out: 'configs/laptop.conf' });
      expect((await fs.stat(path.join(cwd, 'configs/laptop.conf'))).mode & 0o777).toBe(0o600);
    });
  });

  describe('--public-key with the bit pattern of a private key', () => {
    // A WireGuard private key is clamped: byte 0 & 7 == 0, byte 31 & 0xc0 == 0x40.
    const withBits = (byte0: number, byte31: number) => {
      const bytes = Buffer.alloc(32, 0x11);
      bytes[0] = byte0;
      bytes[31] = byte31;
      return bytes.toString('base64');
    };

    it.each([
      ['a generated private key', true, SEEDED_PRIVATE],
      ['clamped bits', true, withBits(0x10, 0x55)],
      ['byte 0 has a low bit set', false, withBits(0x11, 0x55)],
      ['byte 31 has bit 7 set', false, withBits(0x10, 0xd5)],
      ['byte 31 lacks bit 6', false, withBits(0x10, 0x15)],
    ])('%s: warned %s (the key is never echoed)', async (_label, warned, key) => {
      const root = await fixture();
      const ctx = testContext({ root, json: true });
      await joinVpn(ctx, { handle: 'alice', device: 'router', publicKey: key as string });
      expect(/PRIVATE key/.test(ctx.output.stderr)).toBe(warned);
      expect(ctx.output.stderr).not.toContain(key);
    });
  });
});

describe('rekeyVpn and leaveVpn', () => {
  it('rekey refuses a key another device has; nothing written', async () => {
    const root = await copyExample();
    const before = await treeDigest(root);
    const e = await rejection(rekeyVpn(testContext({ root }), { handle: 'alice', device: 'laptop', publicKey: 'xlZNWbjzu6GRrzjaRVgO7L+SDW/DyRvIgFx9NjQ1Mzo=' }));
    expect(e).toMatchObject({ exitCode: 3, message: expect.stringContaining('already used by bob/laptop') });
    expect(await treeDigest(root)).toBe(before);
  });

  it('leave asks for the device on a terminal and names the enrolled ones when it is unknown', async () => {
    const root = await copyExample();
    const e = await rejection(leaveVpn(testContext({ root, prompter: scriptedPrompter({ device: 'tablet' }) }), { handle: 'alice' }));
    expect(e).toMatchObject({ exitCode: 3, message: 'alice has no device "tablet" (enrolled: laptop (meet))' });
  });
});

describe('listVpn', () => {
  it('every peer with its member status, sorted; an unknown network names the known ones', async () => {
    const root = await copyExample();
    const { peers } = await listVpn(testContext({ root }), { network: 'meet' });
    expect(peers.map((p) => `${p.member}/${p.device}:${p.member_status}`)).toEqual([
      'alice/laptop:active', 'bob/laptop:active', 'carol/laptop:departed', 'dana/laptop:active', 'erin/desktop:active', 'frank/laptop:active',
    ]);
    expect(peers[0].public_key).toBe('S1240y2EcZQzU3bYNbcIs8IbU0s5CqN9dxWsyf6VZAI=');
    expect(await rejection(listVpn(testContext({ root }), { network: 'mete' }))).toMatchObject({ exitCode: 3, message: expect.stringContaining('(known: meet)') });
  });

  it('says on stderr when there are none', async () => {
    const ctx = testContext({ root: await fixture() });
    expect(await listVpn(ctx)).toEqual({ peers: [] });
    expect(ctx.output.stderr).toContain('no VPN peers');
  });
});

describe('vpnStatus', () => {
  const now = Math.floor(new Date(`${TODAY}T12:00:00`).getTime() / 1000);
  const serverLine = ['wg0', generatePrivateKey(seededRandom('server-private')), otherKey('server'), '51820', 'off'].join('\t');
  const peerLine = (key: string, ips: string, handshake: number) => ['wg0', key, '(none)', '198.51.100.7:41000', ips, String(handshake), '4096', '2048', '25'].join('\t');
  const ALICE = 'S1240y2EcZQzU3bYNbcIs8IbU0s5CqN9dxWsyf6VZAI=';
  const CAROL = 'YzyG/4db4x9mvcy2PFz1aFYp9A/sMfCN/uwavSHdTQA=';

  it('reads `-` from ctx.stdin and judges handshakes by ctx.now; findings are said on stderr', async () => {
    const root = await copyExample();
    const stranger = otherKey('stranger');
    // The stranger first: findings come sorted by severity, code and subject, not in dump order.
    const stdin = [serverLine, peerLine(stranger, '10.77.0.200/32', 0), peerLine(ALICE, '10.77.0.2/32', now - 3 * 86400 - 100), peerLine(CAROL, '10.77.0.4/32', now - 30), ''].join('\n');
    const ctx = testContext({ root, today: TODAY, stdin });
    const status = await vpnStatus(ctx, { file: '-' });
    expect(status.peers.map((p) => [p.member, p.device, p.handshake])).toEqual([
      ['alice', 'laptop', '3 days ago'],
      ['carol', 'laptop', expect.stringMatching(/seconds? ago/)],
    ]);
    expect(status.findings.map((f) => [f.code, f.severity, f.subject])).toEqual([
      ['departed-access', 'high', 'carol/laptop'],
      ['unknown-peer', 'high', `wg0/${stranger}`],
    ]);
    expect(status.absent.map((a) => a.member)).toEqual(['bob', 'dana', 'erin', 'frank']);
    expect(ctx.output.stderr).toMatch(/unknown-peer.*\n {2}fix: /);
    expect(ctx.output.stderr).toContain('departed-access carol/laptop');
    expect(ctx.output.stdout).toBe('');
  });

  it('without a file it asks the wg source; under --json it says nothing', async () => {
    const root = await copyExample();
    const ctx = testContext({ root, today: '2026-03-20', json: true });
    const status = await vpnStatus(ctx, {}, { showDump: async () => `${serverLine}\n${peerLine(ALICE, '10.77.0.2/32', 0)}\n` });
    expect(status.peers).toEqual([expect.objectContaining({ member: 'alice', handshake: 'never', latest_handshake: null })]);
    expect(status.findings).toEqual([]); // enrolled on 2026-03-02: 18 days without a handshake is not idle yet
    expect(ctx.output).toEqual({ stdout: '', stderr: '' });
  });

  it("shares the audit's VPN findings: a peer idle for policy.vpn.idle_days is idle-peer (low), as `infra audit --wg-dump` says", async () => {
    const root = await copyExample();
    const ctx = testContext({ root, today: TODAY, json: true }); // 2026-06-15: alice/laptop enrolled 2026-03-02, 105 days ago
    const status = await vpnStatus(ctx, {}, { showDump: async () => `${serverLine}\n${peerLine(ALICE, '10.77.0.2/32', 0)}\n` });
    expect(status.findings).toEqual([expect.objectContaining({ code: 'idle-peer', severity: 'low', subject: 'alice/laptop', fix: 'if the device is gone: infra vpn leave alice --device laptop --network meet' })]);
    const audit = await runAudit(testContext({ root, today: TODAY, stdin: `${serverLine}\n${peerLine(ALICE, '10.77.0.2/32', 0)}\n` }), { wgDump: '-' });
    const judged = (fs: Array<{ code: string; severity: string; subject: string; fix: string }>) => fs.map((f) => [f.code, f.severity, f.subject, f.fix]);
    expect(judged(audit.findings.filter((f) => f.code === 'idle-peer'))).toEqual(judged(status.findings));
  });
});

describe('vpnStatus on a machine without WireGuard', () => {
  it.each([
    ['`wg show all dump` printing nothing', undefined, /no WireGuard interface here/],
    ['an empty saved dump', '-', /the dump names no WireGuard interface/],
  ])('%s says so once instead of listing every device as absent', async (_what, file, said) => {
    const root = await copyExample();
    const ctx = testContext({ root, today: '2026-03-20', stdin: '' });
    const status = await vpnStatus(ctx, file === undefined ? {} : { file }, { showDump: async () => '' });
    expect(status.peers).toEqual([]);
    expect(status.findings).toEqual([]);
    expect(ctx.output.stderr).toMatch(said);
    expect(ctx.output.stderr).not.toMatch(/not on these interfaces/);
    expect(ctx.output.stderr.trim().split('\n')).toHaveLength(1);
  });
});
