import { promises as fs } from 'node:fs';
import path from 'node:path';
import { copyExample, tempDir, treeDigest } from '../helpers/example.js';
import { run } from '../helpers/cli.js';

describe('infra init', () => {
  it('scaffolds a registry that validates, with schemas for editors', async () => {
    const dir = path.join(await tempDir(), 'access');
    const r = await run(['init', '--dir', dir, '--org', 'Test Co-op', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).created.sort()).toEqual(['.gitignore', 'ansible/apply-access.yml', 'ansible/ssh-certificates.yml', 'ansible/wireguard.yml', 'infra.yml', 'inventories/production/hosts.yml', 'keys/.gitkeep', 'schema/infra.schema.json', 'schema/member.schema.json']);
    // private material a user might create beside the registry is ignored by git from the start
    const ignored = (await fs.readFile(path.join(dir, '.gitignore'), 'utf8')).split('\n');
    for (const pattern of ['*.conf', '*.key', '*.sec.asc', '.infra.lock']) expect(ignored).toContain(pattern);
    const check = await run(['check', '--dir', dir, '--json']);
    expect(JSON.parse(check.stdout)).toEqual({ ok: true, members: 0, problems: [] });
    const add = await run(['members', 'add', 'ana', '--dir', dir, '--name', 'Ana', '--org', 'test', '--email', 'ana@test.example']);
    expect(add.code).toBe(0);
  });

  it('refuses to scaffold over an existing registry, and asks for --org under --no-input', async () => {
    const dir = await copyExample();
    const digest = await treeDigest(dir);
    const again = await run(['init', '--dir', dir, '--org', 'X']);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('already exists');
    expect(await treeDigest(dir)).toBe(digest);
    const noOrg = await run(['init', '--dir', await tempDir(), '--no-input']);
    expect(noOrg.code).toBe(2);
    expect(noOrg.stderr).toContain('--org');
  });
});

describe('infra check', () => {
  it("reports the example's weak key with file, line and field (exit 3)", async () => {
    const dir = await copyExample();
    const r = await run(['check', '--dir', dir]);
    expect(r.code).toBe(3);
    const erin = (await fs.readFile(path.join(dir, 'keys/erin/member.yml'), 'utf8')).split('\n');
    const keyLine = erin.findIndex((l) => l.includes('ssh-rsa')) + 1;
    expect(r.stdout.trim()).toMatch(new RegExp(`^keys/erin/member\\.yml:${keyLine}: ssh_keys\\[\\d\\]\\.key: RSA key of 2048 bits`));
  });

  it('reports every problem in every file at once', async () => {
    const dir = await copyExample();
    await fs.writeFile(path.join(dir, 'keys/bob/member.yml'), 'name: Bob\nkind: human\norg: webarchitects\nstatus: active\ncolour: blue\n');
    await fs.writeFile(path.join(dir, 'keys/dana/member.yml'), 'name: Dana\n\tkind: human\n');
    const cfg = path.join(dir, 'infra.yml');
    await fs.writeFile(cfg, (await fs.readFile(cfg, 'utf8')).replace('min_rsa_bits: 3072', 'min_rsa_bits: lots'));
    const r = await run(['check', '--dir', dir, '--json']);
    expect(r.code).toBe(3);
    const files = JSON.parse(r.stdout).problems.map((p: { file: string; field: string }) => `${p.file} ${p.field}`);
    expect(files).toEqual(expect.arrayContaining(['infra.yml policy.ssh.min_rsa_bits', 'keys/bob/member.yml colour', 'keys/dana/member.yml (yaml)']));
  });

  it('a syntax error in one member file does not hide the policy, cross-file and inventory problems elsewhere', async () => {
    const dir = await copyExample();
    await fs.writeFile(path.join(dir, 'keys/alice/member.yml'), 'name: Alice\nkind: human\nkind: bot\n');
    const cfg = path.join(dir, 'infra.yml');
    await fs.writeFile(cfg, (await fs.readFile(cfg, 'utf8')).replace('hosts: monitoring', 'hosts: monitorin'));
    const r = await run(['check', '--dir', dir, '--json']);
    expect(r.code).toBe(3);
    const problems = JSON.parse(r.stdout).problems as Array<{ file: string; field: string; message: string }>;
    expect(problems.map((p) => `${p.file} ${p.field}`)).toEqual(
      expect.arrayContaining(['keys/alice/member.yml (yaml)', 'keys/erin/member.yml ssh_keys[0].key', 'infra.yml access[3].hosts']),
    );
    // alice is an admin whose file is broken: that is one problem, not also "no member alice"
    expect(problems.filter((p) => p.field.startsWith('admins'))).toEqual([]);
  });

  it('refuses a pgp.asc that is not a usable public key, without echoing a private one', async () => {
    const dir = await copyExample();
    const secret = 'bm90LWEtcmVhbC1rZXktYnV0LXNlY3JldC1sb29raW5n';
    await fs.writeFile(path.join(dir, 'keys/bob/pgp.asc'), `-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n${secret}\n-----END PGP PRIVATE KEY BLOCK-----\n`);
    await fs.writeFile(path.join(dir, 'keys/alice/pgp.asc'), 'garbage\n');
    const r = await run(['check', '--dir', dir, '--json']);
    expect(r.code).toBe(3);
    const problems = JSON.parse(r.stdout).problems as Array<{ file: string; message: string }>;
    expect(problems.find((p) => p.file === 'keys/bob/pgp.asc')?.message).toContain('PRIVATE key');
    expect(problems.find((p) => p.file === 'keys/alice/pgp.asc')?.message).toContain('not an OpenPGP public key');
    expect(r.stdout + r.stderr).not.toContain(secret);
  });

  it('a grant naming a group no inventory has: the error lists the closest existing names', async () => {
    const dir = await copyExample();
    const cfg = path.join(dir, 'infra.yml');
    await fs.writeFile(cfg, (await fs.readFile(cfg, 'utf8')).replace('hosts: monitoring', 'hosts: monitorin'));
    const r = await run(['check', '--dir', dir, '--json']);
    expect(r.code).toBe(3);
    const problem = JSON.parse(r.stdout).problems.find((p: { field: string }) => /^access\[3\]/.test(p.field));
    expect(problem.file).toBe('infra.yml');
    expect(problem.line).toBe((await fs.readFile(cfg, 'utf8')).split('\n').findIndex((l) => l.includes('hosts: monitorin')) + 1);
    expect(problem.message).toContain('monitoring');
  });
});
