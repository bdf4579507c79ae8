import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { copyExample, treeDigest } from '../helpers/example.js';
import { run, spawnCli } from '../helpers/cli.js';


describe('infra members add', () => {
  it('flags only: writes a valid member.yml', async () => {
    const dir = await copyExample();
    const r = await run(['members', 'add', 'gina', '--dir', dir, '--name', 'Gina Rossi', '--org', 'agaric', '--email', 'gina@agaric.example', '--groups', 'infra,meet-tech', '--github', 'gina-r']);
    expect(r.code).toBe(0);
    const doc = parse(await fs.readFile(path.join(dir, 'keys/gina/member.yml'), 'utf8'));
    expect(doc).toEqual({ name: 'Gina Rossi', kind: 'human', org: 'agaric', email: 'gina@agaric.example', github: 'gina-r', status: 'active', groups: ['infra', 'meet-tech'], ssh_keys: [], vpn_peers: [] });
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('infra keys add gina');
  });

  it('--json: one JSON document on stdout', async () => {
    const dir = await copyExample();
    const r = await run(['members', 'add', 'roobot2', '--dir', dir, '--bot', '--name', 'Roobot Two', '--org', 'example-coop', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ handle: 'roobot2', kind: 'bot', written: ['keys/roobot2/member.yml'] });
  });

  it('--no-input: a missing value names the flag (exit 2), nothing written', async () => {
    const dir = await copyExample();
    const digest = await treeDigest(dir);
    const r = await run(['members', 'add', 'ivan', '--dir', dir, '--no-input', '--org', 'hypha']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing --name, --email');
    expect(await treeDigest(dir)).toBe(digest);
  });

  it.each([
    ['a handle with ../', ['../etc'], 'not valid'],
    ['a capitalised handle', ['Alice'], 'not valid'],
    ['an existing handle', ['alice'], 'already exists'],
    ['a name with a newline', ['jo', '--name', 'Jo\nadmins: [jo]'], 'newlines'],
    ['a name with terminal escapes', ['jo', '--name', 'Jo \u001b[31mRed'], 'control characters'],
    ['a bad group', ['jo', '--groups', 'infra,Wheel Users'], 'not a group name'],
    ['a bad email', ['jo', '--email', 'not-an-email'], 'email'],
  ])('refuses %s with exit 3 and leaves every file as it was', async (_what, extra, message) => {
    const dir = await copyExample();
    const digest = await treeDigest(dir);
    const [handle, ...rest] = extra;
    const base = { '--name': 'Jo', '--org': 'hypha', '--email': 'jo@hypha.example' } as Record<string, string>;
    for (let i = 0; i < rest.length; i += 2) base[rest[i]] = rest[i + 1];
    const r = await run(['members', 'add', handle, '--dir', dir, ...Object.entries(base).flat()]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain('\u001b[31mRed');
    expect(await treeDigest(dir)).toBe(digest);
  });

  it('keeps YAML-special names as plain data', async () => {
    const dir = await copyExample();
    const name = `yes: "no" # 'quoted' - [x]`;
    const r = await run(['members', 'add', 'kit', '--dir', dir, '--name', name, '--org', 'hypha', '--email', 'kit@hypha.example']);
    expect(r.code).toBe(0);
    const doc = parse(await fs.readFile(path.join(dir, 'keys/kit/member.yml'), 'utf8'));
    expect(doc.name).toBe(name);
    expect(Object.keys(doc)).not.toContain('yes');
  });

  it('accepts an OpenPGP public key exported by gpg and refuses a private one without echoing it', async () => {
    const dir = await copyExample();
    const r = await run(['members', 'add', 'lee', '--dir', dir, '--name', 'Lee', '--org', 'hypha', '--email', 'lee@hypha.example', '--pgp', path.join(dir, 'keys/alice/pgp.asc'), '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).pgp_fingerprint).toMatch(/^[0-9A-F]{40}$/);
    const priv = path.join(dir, 'private.asc');
    const secret = 'c2VjcmV0LWtleS1tYXRlcmlhbC1kby1ub3QtZWNobw==';
    await fs.writeFile(priv, `-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n${secret}\n-----END PGP PRIVATE KEY BLOCK-----\n`);
    const bad = await run(['members', 'add', 'mo', '--dir', dir, '--name', 'Mo', '--org', 'hypha', '--email', 'mo@hypha.example', '--pgp', priv]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('PRIVATE key');
    expect(bad.stderr + bad.stdout).not.toContain(secret);
  });
});

describe('infra members list / show', () => {
  it('lists the example registry as a table and as JSON of the documented shape', async () => {
    const dir = await copyExample();
    const table = await run(['members', 'list', '--dir', dir]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^HANDLE\s+NAME\s+KIND\s+ORG\s+STATUS/);
    expect(table.stdout).toMatch(/carol\s+Carol Nguyen\s+human\s+hypha\s+departed/);
    const json = JSON.parse((await run(['members', 'list', '--dir', dir, '--json'])).stdout);
    expect(json.members).toHaveLength(7);
    expect(json.members.find((m: { handle: string }) => m.handle === 'roobot')).toMatchObject({ handle: 'roobot', kind: 'bot', status: 'active', ssh_keys: 0, vpn_peers: 0 });
    expect(json.members.find((m: { handle: string }) => m.handle === 'alice')).toMatchObject({ groups: ['infra', 'meet-tech'], admin: true });
  });

  it('show: where a member gets in, per environment, host and user; a departed member reaches nothing', async () => {
    const dir = await copyExample();
    const frank = JSON.parse((await run(['members', 'show', 'frank', '--dir', dir, '--json'])).stdout);
    // frank is only in meet-tech: production bbb hosts from the VPN only (grant 2), staging bbb hosts from anywhere (grant 3)
    expect(frank.reaches.map((r: { environment: string; host: string; user: string; vpn_only: boolean }) => `${r.environment}/${r.host}/${r.user}/${r.vpn_only}`).sort()).toEqual([
      'production/bbb1/sysadmin/true',
      'production/bbb2/sysadmin/true',
      'production/bbb3/sysadmin/true',
      'staging/bbb-staging1/sysadmin/false',
      'staging/bbb-staging2/sysadmin/false',
    ]);
    expect(frank.keys[0]).toMatchObject({ name: 'laptop', type: 'ecdsa-sha2-nistp521', bits: 521 });
    const carol = JSON.parse((await run(['members', 'show', 'carol', '--dir', dir, '--json'])).stdout);
    expect(carol.reaches).toEqual([]);
    const human = await run(['members', 'show', 'carol', '--dir', dir]);
    expect(human.stdout).toContain('nothing (departed)');
  });

  it('exits 3 with a one-line error outside any registry', async () => {
    const r = await spawnCli(['members', 'list'], { cwd: '/', env: { INFRA_DIR: '' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no registry found.*\nhint: run `infra init`/);
  });
});

describe('infra members offboard', () => {
  it('marks departed, drops admin rights, lists tokens to rotate and the checklist', async () => {
    const dir = await copyExample();
    const r = await run(['members', 'offboard', 'alice', '--dir', dir, '--date', '2026-11-20', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const roobot = parse(await fs.readFile(path.join(dir, 'keys/roobot/member.yml'), 'utf8'));
    const everyToken = roobot.tokens.map((t: { name: string }) => `roobot/${t.name}`);
    expect(everyToken.length).toBeGreaterThan(0);
    expect(out).toMatchObject({ handle: 'alice', departed: '2026-11-20', removed_from_admins: true, tokens_to_rotate: everyToken });
    expect(out.checklist.join('\n')).toMatch(/infra render[\s\S]*Rotate the token value roobot\/github/);
    // every secret alice could read, by kind, from the ciphertexts' recipients
    expect(out.secrets_to_rotate.map((s: { subject: string }) => s.subject)).toContain('roobot/github');
    // the checklist names the token commands, and ends with the audit, which finds what is left
    expect(out.checklist.join('\n')).toContain('`infra tokens reencrypt --key YOUR-KEY.asc`');
    expect(out.checklist.join('\n')).toContain('`infra tokens rotate roobot/github`');
    expect(out.checklist.at(-1)).toMatch(/`infra audit`.*departed-access for alice/);
    const alice = await fs.readFile(path.join(dir, 'keys/alice/member.yml'), 'utf8');
    expect(parse(alice)).toMatchObject({ status: 'departed', departed: '2026-11-20' });
    expect(parse(await fs.readFile(path.join(dir, 'infra.yml'), 'utf8')).admins).toEqual(['bob']);
    expect(await fs.readFile(path.join(dir, 'infra.yml'), 'utf8')).toContain('# Admins may decrypt bot tokens');
  });

  it('prints the checklist to stdout for people', async () => {
    const dir = await copyExample();
    const r = await run(['members', 'offboard', 'frank', '--dir', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Follow-up checklist:\n {2}\[ \] Render and apply/);
    expect(r.stderr).toMatch(/frank marked departed on \d{4}-\d{2}-\d{2}/);
  });

  it('refuses an unknown member and a bad date, changing nothing', async () => {
    const dir = await copyExample();
    const digest = await treeDigest(dir);
    expect((await run(['members', 'offboard', 'zed', '--dir', dir])).code).toBe(3);
    expect((await run(['members', 'offboard', 'frank', '--dir', dir, '--date', '2026-02-30'])).code).toBe(3);
    expect(await treeDigest(dir)).toBe(digest);
  });
});
