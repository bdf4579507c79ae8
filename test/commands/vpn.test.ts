/**
 * `infra vpn join / leave / rekey / list / status` through the built CLI (run `npm run build` first):
 * flags only, --json, and prompted through a fake prompter; every refusal leaves the registry untouched.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as openpgp from 'openpgp';
import QRCode from 'qrcode';
import { parse } from 'yaml';
import { generatePrivateKey, publicKeyOf } from '../../src/core/wireguard.js';
import { run, spawnCli } from '../helpers/cli.js';
import { copyExample, tempDir, treeDigest } from '../helpers/example.js';
import { baseConfig, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { requireTool } from '../helpers/real-tools.js';
import { configFields } from '../helpers/wg-config.js';


const newKey = () => publicKeyOf(generatePrivateKey(randomBytes));
const SERVER_KEY = newKey();

const meet = (over: Record<string, unknown> = {}) => ({
  ipv4: '10.77.0.0/24',
  ipv6: 'fd77:77::/64',
  endpoint: 'vpn.meet.example:51820',
  server_public_key: SERVER_KEY,
  reserved: ['10.77.0.1', 'fd77:77::1'],
  dns: ['10.77.0.1'],
  allowed_ips: ['10.77.0.0/24', 'fd77:77::/64'],
  keepalive: 25,
  servers: 'vpn',
  ...over,
});

const INVENTORY = 'all:\n  children:\n    vpn:\n      hosts:\n        vpn1:\n';
// A comment and an unusual key order in member.yml: edits in place must keep both.
const ALICE_YML = `# Alice's file: keep this comment
status: active
name: Alice Moreau
kind: human
org: hypha
email: alice@example.org
groups: [infra]
ssh_keys: []
`;

async function registry(vpn: Record<string, unknown> = { meet: meet() }, extra: Record<string, string> = {}): Promise<string> {
  return makeRegistry({
    config: baseConfig({ vpn }),
    members: { alice: ALICE_YML, carol: memberData('carol', { status: 'departed', departed: '2026-02-01' }) },
    files: { 'inventories/production/hosts.yml': INVENTORY, ...extra },
  });
}

const memberYml = async (dir: string, handle = 'alice') => fs.readFile(path.join(dir, `keys/${handle}/member.yml`), 'utf8');
const peersOf = async (dir: string, handle = 'alice') => (parse(await memberYml(dir, handle)).vpn_peers ?? []) as Array<{ device: string; network: string; public_key: string; addresses: string[]; added: string }>;

describe('infra vpn join', () => {
  it('flags only: records the peer in place and prints a config whose private key matches it', async () => {
    const dir = await registry();
    const r = await run(['vpn', 'join', 'alice', '--device', 'laptop', '--dir', dir]);
    expect(r.code).toBe(0);
    const peers = await peersOf(dir);
    expect(peers).toEqual([{ device: 'laptop', network: 'meet', public_key: expect.any(String), addresses: ['10.77.0.2/32', 'fd77:77::2/128'], added: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) }]);
    const text = await memberYml(dir);
    expect(text.startsWith("# Alice's file: keep this comment\nstatus: active\nname: Alice Moreau")).toBe(true);
    expect(text).not.toMatch(/PrivateKey|private/i);
    const f = configFields(r.stdout);
    expect(publicKeyOf(f['Interface.PrivateKey'])).toBe(peers[0].public_key);
    expect(f).toMatchObject({
      'Interface.Address': '10.77.0.2/32, fd77:77::2/128',
      'Interface.DNS': '10.77.0.1',
      'Peer.PublicKey': SERVER_KEY,
      'Peer.Endpoint': 'vpn.meet.example:51820',
      'Peer.AllowedIPs': '10.77.0.0/24, fd77:77::/64',
      'Peer.PersistentKeepalive': '25',
    });
    expect(r.stderr).toContain('infra render');
  });

  it('--json: the documented shape, one document on stdout', async () => {
    const dir = await registry();
    const r = await run(['vpn', 'join', 'alice', '--device', 'phone', '--dir', dir, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const [peer] = await peersOf(dir);
    expect(out).toMatchObject({ member: 'alice', device: 'phone', network: 'meet', addresses: peer.addresses, public_key: peer.public_key, private_key_included: true });
    expect(publicKeyOf(configFields(out.config)['Interface.PrivateKey'])).toBe(peer.public_key);
  });


  it('--no-input (or not a terminal): a missing --device is a usage error naming the flag', async () => {
    const dir = await registry();
    const before = await treeDigest(dir);
    const r = await run(['vpn', 'join', 'alice', '--dir', dir, '--no-input']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing --device');
    expect(await treeDigest(dir)).toBe(before);
  });

  it('--public-key: the config has no private key, and the registry holds the given key', async () => {
    const dir = await registry();
    const key = newKey();
    const r = await run(['vpn', 'join', 'alice', '--device', 'router', '--public-key', key, '--dir', dir, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.private_key_included).toBe(false);
    expect(out.config).not.toMatch(/^PrivateKey/m);
    expect((await peersOf(dir))[0].public_key).toBe(key);
  });


  it('--out: creates the file with mode 0600, refuses to overwrite without --force, overwrites with it', async () => {
    const dir = await registry();
    const out = path.join(await tempDir(), 'alice-laptop.conf');
    const r = await run(['vpn', 'join', 'alice', '--device', 'laptop', '--out', out, '--dir', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect((await fs.stat(out)).mode & 0o777).toBe(0o600);
    const first = await fs.readFile(out, 'utf8');
    expect(publicKeyOf(configFields(first)['Interface.PrivateKey'])).toBe((await peersOf(dir))[0].public_key);

    const before = await treeDigest(dir);
    const refused = await run(['vpn', 'join', 'alice', '--device', 'phone', '--out', out, '--dir', dir]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/exists.*--force/s);
    expect(await fs.readFile(out, 'utf8')).toBe(first);
    expect(await treeDigest(dir)).toBe(before);

    const forced = await run(['vpn', 'join', 'alice', '--device', 'phone', '--out', out, '--force', '--dir', dir]);
    expect(forced.code).toBe(0);
    const second = await fs.readFile(out, 'utf8');
    expect(configFields(second)['Interface.Address']).toBe('10.77.0.3/32, fd77:77::3/128');
    expect((await fs.stat(out)).mode & 0o777).toBe(0o600);
  });

  it('--qr onto a pipe is refused (a private key as escape codes); nothing written', async () => {
    const dir = await registry();
    const before = await treeDigest(dir);
    const r = await spawnCli(['vpn', 'join', 'alice', '--device', 'phone', '--qr', '--dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--qr: stdout is not a terminal/);
    expect(r.stderr).toMatch(/^hint: .*--force/m);
    expect(r.stdout).toBe('');
    expect(await treeDigest(dir)).toBe(before);
  });

  it('--qr --force onto a pipe: a QR code of exactly the config (module by module), without colour', async () => {
    const dir = await registry();
    const out = path.join(await tempDir(), 'phone.conf');
    // A real process: stdout is a pipe whatever runs the tests, and NO_COLOR is set (spawnCli).
    const r = await spawnCli(['vpn', 'join', 'alice', '--device', 'phone', '--qr', '--force', '--out', out, '--dir', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('\u001b');
    const config = await fs.readFile(out, 'utf8');
    // Half blocks: each character is two modules, top and bottom. Without colour the light modules are
    // drawn (for light-on-dark terminals), around the symbol a quiet zone of two modules.
    const rows = r.stdout.split('\n').filter((l) => l.length);
    const light: boolean[][] = [];
    for (const line of rows) {
      const chars = [...line];
      light.push(chars.map((c) => c === '█' || c === '▀'));
      light.push(chars.map((c) => c === '█' || c === '▄'));
    }
    const symbol = QRCode.create(config, { errorCorrectionLevel: 'M' });
    const size = symbol.modules.size;
    expect([...rows[0]].length).toBe(size + 4);
    expect(light[0].every(Boolean)).toBe(true); // quiet zone above
    const mismatches: string[] = [];
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (light[y + 2][x + 2] === Boolean(symbol.modules.get(y, x))) mismatches.push(`${y},${x}`);
    expect(mismatches).toEqual([]);
    expect(r.stderr).toMatch(/QR code holds the device's private key/);
  });

  it('--qr with --json is a usage error (a QR code is for a terminal); nothing written', async () => {
    const dir = await registry();
    const before = await treeDigest(dir);
    const r = await run(['vpn', 'join', 'alice', '--device', 'phone', '--qr', '--json', '--dir', dir]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.message).toContain('--qr');
    expect(await treeDigest(dir)).toBe(before);
  });

  it('--encrypt without the member having an OpenPGP key: the fix, and nothing written', async () => {
    const dir = await registry();
    const before = await treeDigest(dir);
    const r = await run(['vpn', 'join', 'alice', '--device', 'laptop', '--encrypt', '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('alice has no OpenPGP key (keys/alice/pgp.asc)');
    expect(r.stderr).toContain('gpg --export --armor alice@example.org > alice.asc && infra members edit alice --pgp alice.asc');
    expect(await treeDigest(dir)).toBe(before);
  });

  (requireTool('gpg', 'gnupg') ? it : it.skip)('--encrypt: gpg decrypts the armored config with the member key', async () => {
    const gnupg = await tempDir('infra-gnupg-');
    await fs.chmod(gnupg, 0o700);
    const env = { ...process.env, GNUPGHOME: gnupg };
    const gpg = (args: string[], input?: string) => spawnSync('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { env, input, encoding: 'utf8' });
    expect(gpg(['--quick-gen-key', 'Alice <alice@example.org>', 'future-default', 'default', 'never']).status).toBe(0);
    const armored = gpg(['--armor', '--export', 'alice@example.org']).stdout;
    const dir = await registry(undefined, { 'keys/alice/pgp.asc': armored });
    const r = await run(['vpn', 'join', 'alice', '--device', 'laptop', '--encrypt', '--dir', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    expect(r.stdout).not.toContain('PrivateKey');
    const decrypted = gpg(['--decrypt'], r.stdout);
    expect(decrypted.status).toBe(0);
    expect(publicKeyOf(configFields(decrypted.stdout)['Interface.PrivateKey'])).toBe((await peersOf(dir))[0].public_key);
    await fs.rm(gnupg, { recursive: true, force: true });
  });

  describe('--encrypt with a pgp.asc that cannot encrypt: refused before the registry changes, with the fix', () => {
    const generated = (subkeys?: []) => openpgp.generateKey({ userIDs: [{ email: 'alice@example.org' }], format: 'armored', ...(subkeys ? { subkeys } : {}) });
    const keys: Array<[string, () => Promise<string>, RegExp, RegExp]> = [
      ['garbage', async () => 'this is not a key\n', /keys\/alice\/pgp\.asc: not an OpenPGP public key/, /gpg --export --armor alice@example\.org > keys\/alice\/pgp\.asc/],
      ['a private key', async () => (await generated()).privateKey, /keys\/alice\/pgp\.asc: this is a PRIVATE key/, /gpg --export --armor alice@example\.org > keys\/alice\/pgp\.asc/],
      ['a key with no encryption subkey', async () => (await generated([])).publicKey, /keys\/alice\/pgp\.asc \([0-9A-F]{40}\) has no usable encryption subkey/, /encryption subkey.*gpg --export --armor alice@example\.org > keys\/alice\/pgp\.asc/],
    ];
    const cases = (['join', 'rekey'] as const).flatMap((command) => keys.map(([label, make, message, hint]) => [command, label, make, message, hint] as const));

    it.each(cases)('vpn %s, %s', async (command, _label, make, message, hint) => {
      const pgp = await make();
      const dir = await registry(undefined, { 'keys/alice/pgp.asc': pgp });
      if (command === 'rekey') expect((await run(['vpn', 'join', 'alice', '--device', 'laptop', '--public-key', newKey(), '--dir', dir])).code).toBe(0);
      const before = await treeDigest(dir);
      const r = await run(['vpn', command, 'alice', '--device', 'laptop', '--encrypt', '--dir', dir]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/nothing was changed/);
      expect(r.stderr).toMatch(new RegExp(`^hint: .*${hint.source}`, 'm'));
      expect(r.stdout).toBe('');
      // Nothing of the file is echoed (a private key above all): no line of its armored body appears.
      for (const line of pgp.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) expect(r.stderr).not.toContain(line);
      expect(await treeDigest(dir)).toBe(before);
    });
  });

  it('does not hand out an address a rendered inventory still lists', async () => {
    const rendered = `# Generated by \`infra render\`\ninfra_authorized_keys: {}\ninfra_revoked_keys: {}\ninfra_wireguard_peers:\n  meet:\n    - {name: bob/phone, public_key: '${newKey()}', allowed_ips: [10.77.0.2/32, 'fd77:77::2/128']}\n`;
    const dir = await registry(undefined, { 'inventories/production/host_vars/vpn1/infra.generated.yml': rendered });
    const r = await run(['vpn', 'join', 'alice', '--device', 'laptop', '--dir', dir, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).addresses).toEqual(['10.77.0.3/32', 'fd77:77::3/128']);
  });
});

describe('bad input: a clear error, exit 3, nothing written', () => {
  const bent = () => {
    const key = newKey();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    return `${key.slice(0, 42)}${alphabet[alphabet.indexOf(key[42]) | 1]}=`;
  };
  const fullSlash30 = { meet: meet({ ipv4: '10.9.9.0/30', ipv6: undefined, reserved: ['10.9.9.1'], dns: undefined, allowed_ips: ['10.9.9.0/30'] }) };

  it.each<[string, () => Promise<{ dir: string; args: string[] }>, RegExp]>([
    ['a public key of 31 bytes', async () => ({ dir: await registry(), args: ['--device', 'x', '--public-key', Buffer.alloc(31, 1).toString('base64')] }), /--public-key: not a WireGuard key/],
    ['a public key that is not canonical base64', async () => ({ dir: await registry(), args: ['--device', 'x', '--public-key', bent()] }), /--public-key: not a WireGuard key \(not canonical base64 of 32 bytes/],
    ['a device name with a space', async () => ({ dir: await registry(), args: ['--device', 'my laptop'] }), /not a device name.*no spaces or \//],
    ['a device name with /', async () => ({ dir: await registry(), args: ['--device', '../laptop'] }), /not a device name/],
    ['an unknown network', async () => ({ dir: await registry({ meet: meet(), ops: meet({ ipv4: '10.78.0.0/24', ipv6: undefined, reserved: [], dns: undefined, allowed_ips: ['10.78.0.0/24'] }) }), args: ['--device', 'x', '--network', 'mete'] }), /no VPN network "mete" in infra.yml \(known: meet, ops\)/],
    ['a departed member', async () => ({ dir: await registry(), args: ['--device', 'x'], handle: 'carol' }), /carol departed on 2026-02-01/],
    ['an endpoint without a port', async () => ({ dir: await registry({ meet: meet({ endpoint: 'vpn.meet.example' }) }), args: ['--device', 'x'] }), /infra.yml:\d+: vpn.meet.endpoint: endpoint "vpn.meet.example": no port/],
    ['a malformed IPv6 literal endpoint', async () => ({ dir: await registry({ meet: meet({ endpoint: '[2001:db8::g]:51820' }) }), args: ['--device', 'x'] }), /infra.yml:\d+: vpn.meet.endpoint: .*not an IPv6 address inside \[ \]/],
    ['an IPv6 endpoint without brackets', async () => ({ dir: await registry({ meet: meet({ endpoint: '2001:db8::1:51820' }) }), args: ['--device', 'x'] }), /infra.yml:\d+: vpn.meet.endpoint: .*must be written in brackets/],
    ['overlapping network ranges', async () => ({ dir: await registry({ meet: meet(), ops: meet({ ipv4: '10.77.0.128/25', ipv6: undefined, reserved: [], dns: undefined, allowed_ips: ['10.77.0.128/25'] }) }), args: ['--device', 'x', '--network', 'meet'] }), /infra.yml:\d+: vpn\.\w+\.ipv4: .*overlaps/],
  ])('%s', async (_label, setup, message) => {
    const { dir, args, handle } = (await setup()) as { dir: string; args: string[]; handle?: string };
    const before = await treeDigest(dir);
    const r = await run(['vpn', 'join', handle ?? 'alice', ...args, '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^hint: /m);
    expect(await treeDigest(dir)).toBe(before);
  });

  it('joining the same device twice names vpn rekey and vpn leave', async () => {
    const dir = await registry();
    expect((await run(['vpn', 'join', 'alice', '--device', 'laptop', '--public-key', newKey(), '--dir', dir])).code).toBe(0);
    const before = await treeDigest(dir);
    const r = await run(['vpn', 'join', 'alice', '--device', 'laptop', '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('alice already has a device "laptop" in network meet');
    expect(r.stderr).toMatch(/infra vpn rekey alice --device laptop.*infra vpn leave alice --device laptop/);
    expect(await treeDigest(dir)).toBe(before);
  });

  it('a full /30 (its one free address taken) is refused with the fix', async () => {
    const dir = await registry(fullSlash30);
    const first = await run(['vpn', 'join', 'alice', '--device', 'a', '--public-key', newKey(), '--dir', dir, '--json']);
    expect(JSON.parse(first.stdout).addresses).toEqual(['10.9.9.2/32']);
    const before = await treeDigest(dir);
    const r = await run(['vpn', 'join', 'alice', '--device', 'b', '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('network meet (10.9.9.0/30) is full: 2 of 2 addresses in use');
    expect(r.stderr).toMatch(/hint: .*infra vpn leave/);
    expect(await treeDigest(dir)).toBe(before);
  });

  it('--json errors are one JSON document with code and hint', async () => {
    const dir = await registry();
    const r = await run(['vpn', 'join', 'alice', '--device', 'a b', '--dir', dir, '--json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 3, message: expect.stringContaining('not a device name'), hint: expect.any(String) } });
  });
});

describe('infra vpn leave / rekey / list', () => {
  async function enrolled(): Promise<string> {
    const dir = await registry();
    for (const device of ['laptop', 'phone']) expect((await run(['vpn', 'join', 'alice', '--device', device, '--public-key', newKey(), '--dir', dir])).code).toBe(0);
    return dir;
  }

  it('leave: removes the peer and tells to render and apply', async () => {
    const dir = await enrolled();
    const [laptop] = await peersOf(dir);
    const r = await run(['vpn', 'leave', 'alice', '--device', 'laptop', '--dir', dir, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ member: 'alice', device: 'laptop', network: 'meet', addresses: laptop.addresses, public_key: laptop.public_key });
    expect((await peersOf(dir)).map((p) => p.device)).toEqual(['phone']);
    const text = await run(['vpn', 'leave', 'alice', '--device', 'phone', '--dir', dir]);
    expect(text.stderr).toMatch(/infra render.*ansible\/wireguard\.yml/s);
    expect(await peersOf(dir)).toEqual([]);
  });

  it('leave: an unknown device lists the enrolled ones; nothing written', async () => {
    const dir = await enrolled();
    const before = await treeDigest(dir);
    const r = await run(['vpn', 'leave', 'alice', '--device', 'tablet', '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('alice has no device "tablet" (enrolled: laptop (meet), phone (meet))');
    expect(await treeDigest(dir)).toBe(before);
  });


  it('rekey: a new key pair, the same addresses; the config matches the new key', async () => {
    const dir = await enrolled();
    const [laptop] = await peersOf(dir);
    const r = await run(['vpn', 'rekey', 'alice', '--device', 'laptop', '--dir', dir, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const [after] = await peersOf(dir);
    expect(after).toEqual({ ...laptop, public_key: out.public_key });
    expect(out.public_key).not.toBe(laptop.public_key);
    expect(publicKeyOf(configFields(out.config)['Interface.PrivateKey'])).toBe(after.public_key);
    expect(configFields(out.config)['Interface.Address']).toBe(laptop.addresses.join(', '));
  });

  it('rekey --public-key: refuses a key another device has', async () => {
    const dir = await enrolled();
    const [, phone] = await peersOf(dir);
    const before = await treeDigest(dir);
    const r = await run(['vpn', 'rekey', 'alice', '--device', 'laptop', '--public-key', phone.public_key, '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('already used by alice/phone');
    expect(await treeDigest(dir)).toBe(before);
  });

  it('list: a table on stdout, and --json with member status', async () => {
    const dir = await enrolled();
    await fs.writeFile(
      path.join(dir, 'keys/carol/member.yml'),
      (await memberYml(dir, 'carol')) + `vpn_peers:\n  - {device: old, network: meet, public_key: '${newKey()}', addresses: [10.77.0.9/32, 'fd77:77::9/128'], added: 2025-01-01}\n`,
    );
    const table = await run(['vpn', 'list', '--dir', dir]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^NETWORK\s+MEMBER\s+DEVICE\s+ADDRESSES\s+STATUS/);
    expect(table.stdout).toMatch(/meet\s+carol\s+old\s+10\.77\.0\.9\/32, fd77:77::9\/128\s+departed/);
    const json = JSON.parse((await run(['vpn', 'list', '--network', 'meet', '--dir', dir, '--json'])).stdout);
    expect(json.peers.map((p: { member: string; device: string; member_status: string }) => `${p.member}/${p.device}:${p.member_status}`)).toEqual(['alice/laptop:active', 'alice/phone:active', 'carol/old:departed']);
    const unknown = await run(['vpn', 'list', '--network', 'nope', '--dir', dir]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('(known: meet)');
  });
});

describe('infra vpn list fits the terminal', () => {
  it.each([80, 100])('COLUMNS=%s: no line is wider; --json keeps every public key whole', async (columns) => {
    const dir = await copyExample();
    const r = await spawnCli(['vpn', 'list', '--dir', dir], { env: { COLUMNS: String(columns) } });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    // a header and six peers, each starting its own row; an address that does not fit goes whole onto the next line
    expect(lines.filter((l) => /^meet\s/.test(l))).toHaveLength(6);
    expect(lines.filter((l) => [...l].length > columns)).toEqual([]);
    for (const address of ['10.77.0.2/32', 'fd77:77::2/128', 'fd77:77::7/128']) expect(lines.some((l) => l.split(/[\s,]+/).includes(address))).toBe(true);
    expect(lines[1]).toMatch(/^meet\s+alice\s+laptop\s+10\.77\.0\.2\/32/);
    const json = JSON.parse((await spawnCli(['vpn', 'list', '--dir', dir, '--json'], { env: { COLUMNS: String(columns) } })).stdout);
    expect(json.peers[0].public_key).toBe('S1240y2EcZQzU3bYNbcIs8IbU0s5CqN9dxWsyf6VZAI=');
  });
});

describe('infra vpn status', () => {
  const iface = () => ['wg0', generatePrivateKey(randomBytes), SERVER_KEY, '51820', 'off'].join('\t');
  const peer = (key: string, ips: string, handshake: number, rx: number, tx: number) => ['wg0', key, '(none)', '198.51.100.7:41000', ips, String(handshake), String(rx), String(tx), '25'].join('\t');

  it('joins a dump file with the registry; --json has peers, unknown peers and findings', async () => {
    const dir = await registry();
    expect((await run(['vpn', 'join', 'alice', '--device', 'laptop', '--public-key', newKey(), '--dir', dir])).code).toBe(0);
    const [laptop] = await peersOf(dir);
    const stranger = newKey();
    const now = Math.floor(Date.now() / 1000);
    const dump = path.join(await tempDir(), 'dump.txt');
    await fs.writeFile(dump, [iface(), peer(laptop.public_key, laptop.addresses.join(','), now - 3 * 86400 - 100, 4096, 2048), peer(stranger, '10.77.0.200/32', 0, 0, 0), ''].join('\n'));
    const r = await run(['vpn', 'status', dump, '--dir', dir, '--json']);
    expect(r.code).toBe(4); // the unknown peer is a high finding
    const s = JSON.parse(r.stdout);
    expect(s.peers).toEqual([expect.objectContaining({ member: 'alice', device: 'laptop', network: 'meet', handshake: '3 days ago', rx_bytes: 4096, tx_bytes: 2048, endpoint: '198.51.100.7:41000' })]);
    expect(s.unknown).toEqual([expect.objectContaining({ public_key: stranger, handshake: 'never', allowed_ips: ['10.77.0.200/32'] })]);
    expect(s.findings).toEqual([expect.objectContaining({ code: 'unknown-peer', severity: 'high', subject: `wg0/${stranger}` })]);

    const text = await run(['vpn', 'status', dump, '--dir', dir]);
    expect(text.code).toBe(4);
    expect(text.stdout).toMatch(/meet\s+alice\s+laptop\s+wg0\s+3 days ago\s+4\.0 KiB\s+2\.0 KiB/);
    expect(text.stdout).toContain('Unknown peers');
    expect(text.stderr).toContain('unknown-peer');
  });

  it('exit 0 when no finding is high: only known peers on the interface', async () => {
    const dir = await registry();
    const key = newKey();
    expect((await run(['vpn', 'join', 'alice', '--device', 'laptop', '--public-key', key, '--dir', dir])).code).toBe(0);
    const r = await spawnCli(['vpn', 'status', '-', '--dir', dir], { input: `${iface()}\n${peer(key, '10.77.0.2/32', 0, 0, 0)}\n` });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/meet\s+alice\s+laptop\s+wg0\s+never/);
  });

  it('reads the dump from stdin with -', async () => {
    const dir = await registry();
    const r = await spawnCli(['vpn', 'status', '-', '--dir', dir, '--json'], { input: `${iface()}\n${peer(newKey(), '10.77.0.5/32', 0, 0, 0)}\n` });
    expect(r.code).toBe(4);
    expect(JSON.parse(r.stdout).unknown).toHaveLength(1);
  });

  it('an interface name holding a terminal escape is printed with the escape replaced', async () => {
    const dir = await registry();
    const stranger = newKey();
    const name = 'wg\u001b]0;owned\u0007\u001b[2J0';
    const dump = [[name, generatePrivateKey(randomBytes), SERVER_KEY, '51820', 'off'].join('\t'), [name, stranger, '(none)', '(none)', '10.77.0.200/32', '0', '0', '0', 'off'].join('\t'), ''].join('\n');
    // A real process: the in-process capture strips ANSI sequences, which would hide the bug.
    const r = await spawnCli(['vpn', 'status', '-', '--dir', dir], { input: dump });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('unknown-peer');
    expect(r.stderr).toContain(stranger);
    expect(r.stdout).toContain(stranger);
    for (const stream of [r.stdout, r.stderr]) {
      expect(stream).not.toContain('\u001b');
      expect(stream).not.toContain('\u0007');
    }
    expect(r.stderr).toContain('wg\uFFFD]0;owned\uFFFD\uFFFD[2J0');
  });

  it('a dump with a truncated line: exit 3 naming the line', async () => {
    const dir = await registry();
    const dump = path.join(await tempDir(), 'dump.txt');
    const cut = peer(newKey(), '10.77.0.5/32', 0, 0, 0).split('\t').slice(0, 7).join('\t');
    await fs.writeFile(dump, `${iface()}\n${cut}\n`);
    const r = await run(['vpn', 'status', dump, '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('wg dump line 2: 7 tab-separated fields');
  });
});
