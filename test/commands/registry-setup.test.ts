/**
 * The parts of infra.yml a new registry needs, by command: admins, grants, environments, VPN networks.
 * Each mode once (flags only, --json, a missing flag without a terminal), every hostile input refused with
 * nothing written, and each edit the minimal diff: every other byte of infra.yml stays.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { copyExample, treeDigest } from '../helpers/example.js';
import { run } from '../helpers/cli.js';

const SERVER_KEY = 'QsYq4yARL4YyaJLcm/zwkAnSSm5p+SQ/AE3KJduyGlo=';
const config = async (dir: string) => fs.readFile(path.join(dir, 'infra.yml'), 'utf8');

/** The lines of `after` that are not in `before`, and those of `before` gone from `after` (a multiset diff). */
function lineDiff(before: string, after: string): { added: string[]; removed: string[] } {
  const count = (text: string) => text.split('\n').reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
  const b = count(before);
  const a = count(after);
  const added = [...a].flatMap(([l, n]) => Array(Math.max(0, n - (b.get(l) ?? 0))).fill(l));
  const removed = [...b].flatMap(([l, n]) => Array(Math.max(0, n - (a.get(l) ?? 0))).fill(l));
  return { added, removed };
}

describe('infra grants', () => {
  it('add: appends one grant as people write it, and says which hosts it reaches', async () => {
    const dir = await copyExample();
    const before = await config(dir);
    const r = await run(['grants', 'add', '--dir', dir, '--groups', 'monitoring', '--hosts', 'web', '--user', 'monitor']);
    expect(r.code).toBe(0);
    expect(lineDiff(before, await config(dir))).toEqual({ added: ['  - groups: [monitoring]', '    hosts: web', '    user: monitor'], removed: [] });
    expect(r.stderr).toMatch(/Grant \d+: monitoring → monitor@web/);
    expect(r.stderr).toContain('infra render');
    const check = await run(['check', '--dir', dir, '--json']);
    expect(JSON.parse(check.stdout).problems.filter((p: { file: string }) => p.file === 'infra.yml')).toEqual([]);
  });

  it('add --json --vpn-only --env: one JSON document; the grant reaches what ansible --list-hosts would', async () => {
    const dir = await copyExample();
    const r = await run(['grants', 'add', '--dir', dir, '--groups', 'monitoring', '--hosts', 'bbb:&production', '--user', 'monitor', '--vpn-only', '--env', 'production', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const doc = parse(await config(dir));
    expect(doc.access[out.grant.number - 1]).toEqual({ groups: ['monitoring'], hosts: 'bbb:&production', user: 'monitor', vpn_only: true, environments: ['production'] });
    expect(Object.keys(out.grant.reaches)).toEqual(['production']);
    expect(out.grant.reaches.production.length).toBeGreaterThan(0);
    expect(out.written).toEqual(['infra.yml']);
  });

  it('list numbers the grants as remove takes them; remove N takes exactly that grant out', async () => {
    const dir = await copyExample();
    const list = JSON.parse((await run(['grants', 'list', '--dir', dir, '--json'])).stdout);
    const doc = parse(await config(dir));
    expect(list.grants.map((g: { number: number; hosts: string }) => [g.number, g.hosts])).toEqual(doc.access.map((g: { hosts: string }, i: number) => [i + 1, g.hosts]));
    const r = await run(['grants', 'remove', '2', '--dir', dir, '--json']);
    expect(r.code).toBe(0);
    const after = parse(await config(dir));
    expect(after.access).toEqual(doc.access.filter((_: unknown, i: number) => i !== 1));
  });

  it.each([
    ['a pattern that selects no host', ['--groups', 'infra', '--hosts', 'nosuchhost', '--user', 'sysadmin'], 3, 'selects no host'],
    ['a user that is not a Unix user name', ['--groups', 'infra', '--hosts', 'all', '--user', 'root;rm'], 3, 'not a Unix user name'],
    ['a group with ../', ['--groups', '../infra', '--hosts', 'all', '--user', 'sysadmin'], 3, 'not a group name'],
    ['a pattern with a newline', ['--groups', 'infra', '--hosts', 'all\nadmins: [mallory]', '--user', 'sysadmin'], 3, 'one line'],
    ['an unknown environment', ['--groups', 'infra', '--hosts', 'all', '--user', 'sysadmin', '--env', 'nowhere'], 3, 'no environment "nowhere"'],
    ['a grant that exists already', ['--groups', 'infra', '--hosts', 'all', '--user', 'sysadmin'], 3, 'already exactly this grant'],
    ['missing flags', ['--groups', 'infra', '--no-input'], 2, 'missing --hosts, --user'],
  ])('add refuses %s, and nothing is written', async (_what, flags, code, message) => {
    const dir = await copyExample();
    const digest = await treeDigest(dir);
    const r = await run(['grants', 'add', '--dir', dir, ...flags]);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(message);
    expect(await treeDigest(dir)).toBe(digest);
  });

  it('remove refuses a number that is no grant, and nothing is written', async () => {
    const dir = await copyExample();
    const digest = await treeDigest(dir);
    const r = await run(['grants', 'remove', '99', '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no grant 99');
    expect(r.stderr).toContain('infra grants list');
    expect(await treeDigest(dir)).toBe(digest);
  });
});

describe('infra admins', () => {
  it('add: one line of infra.yml changes, and the next step is tokens reencrypt', async () => {
    const dir = await copyExample();
    const doc = parse(await config(dir));
    const candidate = (await fs.readdir(path.join(dir, 'keys'))).find((h) => !doc.admins.includes(h) && h !== 'roobot');
    // give the candidate a key that can encrypt: an existing admin's public key file is one
    await fs.copyFile(path.join(dir, 'keys', doc.admins[0], 'pgp.asc'), path.join(dir, 'keys', candidate!, 'pgp.asc'));
    const member = parse(await fs.readFile(path.join(dir, 'keys', candidate!, 'member.yml'), 'utf8'));
    const before = await config(dir);
    const r = await run(['admins', 'add', candidate!, '--dir', dir, '--json']);
    if (member.status !== 'active' || member.kind !== 'human') {
      expect(r.code).toBe(3);
      return;
    }
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.admins).toEqual([...doc.admins, candidate]);
    expect(out.next.join('\n')).toContain('infra tokens reencrypt');
    const diff = lineDiff(before, await config(dir));
    expect(diff.added).toHaveLength(1);
    expect(diff.removed).toHaveLength(1);
  });

  it.each([
    ['a bot', 'roobot', 'is a bot'],
    ['no member', 'nosuch', 'no member'],
    ['a handle with ../', '../alice', 'not valid'],
  ])('add refuses %s, nothing written', async (_what, handle, message) => {
    const dir = await copyExample();
    const digest = await treeDigest(dir);
    const r = await run(['admins', 'add', handle, '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(message);
    expect(await treeDigest(dir)).toBe(digest);
  });

  it('add refuses a member without an OpenPGP key, naming the command that adds one', async () => {
    const dir = await copyExample();
    await run(['members', 'add', 'gina', '--dir', dir, '--name', 'Gina', '--org', 'hypha', '--email', 'gina@hypha.example']);
    const digest = await treeDigest(dir);
    const r = await run(['admins', 'add', 'gina', '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('infra members edit gina --pgp');
    expect(await treeDigest(dir)).toBe(digest);
  });

  it('remove lists every secret encrypted to the admin, each with its rotate command', async () => {
    const dir = await copyExample();
    const doc = parse(await config(dir));
    const admin = doc.admins[0];
    const r = await run(['admins', 'remove', admin, '--dir', dir, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(parse(await config(dir)).admins).toEqual(doc.admins.slice(1));
    // every value stored for the bot, and the vault password: the example encrypts each to both admins
    const stored = (await fs.readdir(path.join(dir, 'keys/roobot/tokens'))).filter((f) => /^[^.]+\.asc$/.test(f)).map((f) => f.replace(/\.asc$/, ''));
    expect(stored.length).toBeGreaterThan(0);
    for (const name of stored) expect(out.could_read).toContainEqual(expect.objectContaining({ kind: 'token', rotate: `infra tokens rotate roobot/${name}` }));
    expect(out.could_read).toContainEqual(expect.objectContaining({ kind: 'vault-password', path: 'vault/password.asc' }));
    expect(out.next.join('\n')).toContain('infra tokens reencrypt');
  });

  it('remove refuses someone who is not an admin', async () => {
    const dir = await copyExample();
    const digest = await treeDigest(dir);
    const r = await run(['admins', 'remove', 'roobot', '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('is not an admin');
    expect(await treeDigest(dir)).toBe(digest);
  });
});

describe('infra vpn network add', () => {
  it('writes a dual-stack network with the server address reserved, lists in flow style', async () => {
    const dir = await copyExample();
    const r = await run(['vpn', 'network', 'add', 'ops', '--dir', dir, '--ipv4', '10.88.0.0/24', '--ipv6', 'fd88::/64', '--endpoint', '[2001:db8::1]:51821', '--servers', 'vpn', '--server-public-key', SERVER_KEY, '--json']);
    expect(r.code).toBe(0);
    const text = await config(dir);
    expect(text).toContain('    reserved: [10.88.0.1, fd88::1]\n');
    expect(parse(text).vpn.ops).toEqual({ ipv4: '10.88.0.0/24', ipv6: 'fd88::/64', endpoint: '[2001:db8::1]:51821', server_public_key: SERVER_KEY, reserved: ['10.88.0.1', 'fd88::1'], allowed_ips: ['10.88.0.0/24', 'fd88::/64'], servers: 'vpn' });
    const check = await run(['check', '--dir', dir, '--json']);
    expect(JSON.parse(check.stdout).problems.filter((p: { file: string }) => p.file === 'infra.yml')).toEqual([]);
  });

  it.each([
    ['a range overlapping another network', ['--ipv4', '10.77.0.0/16'], '--ipv4: overlaps'],
    ['a single-address range', ['--ipv4', '10.88.0.1/32'], 'single address'],
    ['a key that is not a WireGuard key', ['--server-public-key', 'not-a-key'], '--server-public-key'],
    ['an endpoint without a port', ['--endpoint', 'vpn.example.org'], '--endpoint'],
    ['a servers pattern that selects nothing', ['--servers', 'nosuch'], 'selects no host'],
    ['a name that is not an interface name', ['name', 'Bad/Name'], 'not a network name'],
    ['an existing network', ['name', 'meet'], 'already exists'],
  ])('refuses %s, nothing written', async (_what, change, message) => {
    const dir = await copyExample();
    const digest = await treeDigest(dir);
    const flags: Record<string, string> = { '--ipv4': '10.88.0.0/24', '--endpoint': 'vpn.example.org:51820', '--servers': 'vpn', '--server-public-key': SERVER_KEY };
    let name = 'ops';
    if (change[0] === 'name') name = change[1];
    else flags[change[0]] = change[1];
    const r = await run(['vpn', 'network', 'add', name, '--dir', dir, ...Object.entries(flags).flat()]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(message);
    expect(await treeDigest(dir)).toBe(digest);
  });
});

describe('infra env add', () => {
  it('adds an environment and an empty inventory; an existing inventory is never rewritten', async () => {
    const dir = await copyExample();
    const r = await run(['env', 'add', 'lab', 'inventories/lab', '--dir', dir, '--host', 'lab1=192.0.2.7', '--host', 'lab2', '--json']);
    expect(r.code).toBe(0);
    expect(parse(await config(dir)).environments.lab).toBe('inventories/lab');
    expect(parse(await fs.readFile(path.join(dir, 'inventories/lab/hosts.yml'), 'utf8'))).toEqual({ all: { hosts: { lab1: { ansible_host: '192.0.2.7' }, lab2: null } } });
    const digest = await treeDigest(dir);
    const again = await run(['env', 'add', 'lab2', 'inventories/production', '--dir', dir, '--host', 'x']);
    expect(again.code).toBe(3);
    expect(await treeDigest(dir)).toBe(digest);
  });

  it.each([
    ['a path out of the registry', ['lab', '../elsewhere'], 'inside the registry'],
    ['an absolute path', ['lab', '/etc'], 'inside the registry'],
    ['a host with YAML in it', ['lab', 'inventories/lab', '--host', 'a: {b'], 'not HOST or HOST=ADDRESS'],
    ['a host named twice', ['lab', 'inventories/lab', '--host', 'a', '--host', 'a'], 'named twice'],
    ['an environment name with ../', ['../x', 'inventories/x'], 'not an environment name'],
  ])('refuses %s, nothing written', async (_what, args, message) => {
    const dir = await copyExample();
    const digest = await treeDigest(dir);
    const r = await run(['env', 'add', ...args, '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(message);
    expect(await treeDigest(dir)).toBe(digest);
  });
});
