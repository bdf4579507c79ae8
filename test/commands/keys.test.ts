import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { startFakeForge } from '../helpers/fake-forge.js';
import { copyExample, tempDir, treeDigest } from '../helpers/example.js';
import { run, spawnCli } from '../helpers/cli.js';
import { ed25519Line, FAKE_PRIVATE_KEY, rsaLine } from '../helpers/keys.js';


const memberDoc = async (dir: string, handle: string) => parse(await fs.readFile(path.join(dir, `keys/${handle}/member.yml`), 'utf8'));
const writeTemp = async (content: string) => {
  const file = path.join(await tempDir(), 'key.pub');
  await fs.writeFile(file, content);
  return file;
};
/** The fingerprint as ssh-keygen computes it, independently of infra. */
const sshKeygenFingerprint = async (line: string) => execFileSync('ssh-keygen', ['-lf', await writeTemp(line + '\n')], { encoding: 'utf8' }).split(' ')[1];

describe('infra keys add', () => {
  it('adds a key from a file, named, with expiry; the YAML keeps its comments', async () => {
    const dir = await copyExample();
    const line = ed25519Line('frank@phone');
    const r = await run(['keys', 'add', 'frank', await writeTemp(line + '\n'), '--dir', dir, '--name', 'phone', '--expires', '2027-06-01', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.added).toEqual([{ name: 'phone', type: 'ssh-ed25519', bits: 256, fingerprint: await sshKeygenFingerprint(line) }]);
    const frank = await memberDoc(dir, 'frank');
    expect(frank.ssh_keys[1]).toEqual({ name: 'phone', key: line, added: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), expires: '2027-06-01' });
    expect(await fs.readFile(path.join(dir, 'keys/frank/member.yml'), 'utf8')).toMatch(/^# yaml-language-server/);
  });

  it('reads stdin with -, names the key from its comment, and skips a key already present', async () => {
    const dir = await copyExample();
    const line = ed25519Line('dana@tablet');
    const first = await spawnCli(['keys', 'add', 'dana', '-', '--dir', dir], { input: line + '\n' });
    expect(first.code).toBe(0);
    expect((await memberDoc(dir, 'dana')).ssh_keys.map((k: { name: string }) => k.name)).toContain('tablet');
    const again = await spawnCli(['keys', 'add', 'dana', '-', '--dir', dir, '--json'], { input: line + '\n' });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ added: [], skipped: [{ reason: expect.stringContaining('already present as dana/tablet') }] });
  });

  it('without a key and without a terminal: a usage error naming the ways to give one', async () => {
    const dir = await copyExample();
    const r = await run(['keys', 'add', 'erin', '--dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pass FILE, - for stdin, --github USER or --gitlab USER/);
  });

  const hostile: Array<[string, () => string, RegExp]> = [
    ['a comment with a newline that adds a second line', () => `${ed25519Line('x')}\nadmins: [mallory]`, /:2: /],
    ['a truncated base64 blob', () => ed25519Line().slice(0, 60), /truncated|too short|invalid|incomplete/i],
    ['a DSA key', () => 'ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6MPbLm1Vs14E7gB00b/JmYLdrmVClpJ+f6AR7ECLCT7up1/63xhv4O1fnxqimFQ8E+4P208UewwI1VBNaFpEy9nXzrith1yrv8iIDGZ3RSAHHAAAAFQCXYFCPFSMLzLKSuYKi64QL8Fgc9QAAAIEA9+GghdabPd7LvKtcNrhXuXmUr7v6OuqC+VdMCz0HgmdRWVeOutRZT+ZxBxCBgLRJFnEj6EwoFhO3zwkyjMim4TwWeotUfI0o4KOuHiuzpnWRbqN/C/ohNWLx+2J6ASQ7zKTxvqhRkImog9/hWuWfBpKLZl6Ae1UlZAFMO/7PSSoAAACBAKKSU2PFl/qOLxIwmBZPPIcJshVe7bVUpFvyl3BbJDow8rXfskl8wO63OzP/qLmcJM0+JbcRU/53JjhRX1VsKh7+oJU6V9VMSi1Hpq7zAzzC7uFsoNaLaSWc7B62HxVVmQkyGNbUC4bwjEMRfI6ZprJiXhjvWv1CtBtjpXyOO5tO x@y', /dsa|ssh-dss/i],
    ['an RSA key below min_rsa_bits', () => rsaLine(2048, 'x@y'), /2048.*3072/],
    ['a certificate', () => 'ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIA== x', /certificate/i],
    ['a line with options', () => `command="/bin/sh" ${ed25519Line('x')}`, /option/i],
    ['an empty file', () => '', /no public key/],
  ];
  it.each(hostile)('refuses %s (exit 3), every file as it was', async (_what, content, message) => {
    const dir = await copyExample();
    const digest = await treeDigest(dir);
    const r = await run(['keys', 'add', 'frank', await writeTemp(content()), '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(message);
    expect(await treeDigest(dir)).toBe(digest);
  });

  it('lists every bad line of a file on a line of its own', async () => {
    const dir = await copyExample();
    const file = await writeTemp(`${ed25519Line('ok')}\nnot a key\nssh-ed25519 AAAA\n`);
    const r = await run(['keys', 'add', 'frank', file, '--dir', dir]);
    expect(r.code).toBe(3);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe(`infra: ${file} holds lines that are not public keys: 2 problems:`);
    expect(lines[1]).toMatch(new RegExp(`^  ${file}:2: key: not an SSH public key`));
    expect(lines[2]).toMatch(new RegExp(`^  ${file}:3: key: `));
    expect(lines[3]).toMatch(/^hint: /);
  });

  it('refuses a pasted private key without echoing any of it', async () => {
    const dir = await copyExample();
    const digest = await treeDigest(dir);
    const r = await spawnCli(['keys', 'add', 'frank', '-', '--dir', dir], { input: FAKE_PRIVATE_KEY });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('PRIVATE key');
    for (const secretLine of FAKE_PRIVATE_KEY.split('\n').slice(1, -1)) expect(r.stderr + r.stdout).not.toContain(secretLine.slice(10, 40));
    expect(await treeDigest(dir)).toBe(digest);
  });

  it("refuses another member's key, naming its owner", async () => {
    const dir = await copyExample();
    const alice = await memberDoc(dir, 'alice');
    const digest = await treeDigest(dir);
    const r = await run(['keys', 'add', 'frank', await writeTemp(alice.ssh_keys[0].key), '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`already registered as alice/${alice.ssh_keys[0].name}`);
    expect(await treeDigest(dir)).toBe(digest);
  });

  it('strips terminal escapes and quotes from a comment before it is stored', async () => {
    const dir = await copyExample();
    const line = ed25519Line('evil\u001b[2J"quote\'s');
    const r = await run(['keys', 'add', 'frank', await writeTemp(line), '--dir', dir, '--name', 'evil']);
    expect(r.code).toBe(0);
    const stored = (await memberDoc(dir, 'frank')).ssh_keys.find((k: { name: string }) => k.name === 'evil').key as string;
    expect(stored).not.toMatch(/[\u0000-\u001f"]/);
    expect(stored.split(' ').slice(0, 2)).toEqual(line.split(' ').slice(0, 2));
  });

  it('two processes adding at once both land: the lock serialises them', async () => {
    const dir = await copyExample();
    const [a, b] = [ed25519Line('frank@a'), ed25519Line('frank@b')];
    const results = await Promise.all([
      spawnCli(['keys', 'add', 'frank', '-', '--dir', dir, '--name', 'a'], { input: a }),
      spawnCli(['keys', 'add', 'frank', '-', '--dir', dir, '--name', 'b'], { input: b }),
    ]);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const names = (await memberDoc(dir, 'frank')).ssh_keys.map((k: { name: string }) => k.name);
    expect(names).toEqual(expect.arrayContaining(['laptop', 'a', 'b']));
  });

  describe('from GitHub and GitLab (local stand-in server)', () => {
    it('--github --all imports authentication keys with their source, skipping ones present', async () => {
      const dir = await copyExample();
      const existing = (await memberDoc(dir, 'frank')).ssh_keys[0].key.split(' ').slice(0, 2).join(' ');
      const fresh = [ed25519Line(), ed25519Line()];
      const forge = await startFakeForge({ github: { 'frank-o': [{ id: 11, key: existing }, { id: 12, key: fresh[0] }, { id: 13, key: fresh[1] }] } });
      try {
        const r = await spawnCli(['keys', 'add', 'frank', '--github', 'frank-o', '--all', '--dir', dir, '--json'], { env: { INFRA_GITHUB_API_URL: forge.url, GITHUB_TOKEN: '' } });
        expect(r.code).toBe(0);
        const out = JSON.parse(r.stdout);
        expect(out.added.map((k: { source: string }) => k.source)).toEqual(['github:frank-o/12', 'github:frank-o/13']);
        expect(out.skipped).toHaveLength(1);
        const stored = (await memberDoc(dir, 'frank')).ssh_keys;
        expect(stored.slice(1).map((k: { name: string; source: string }) => [k.name, k.source])).toEqual([
          ['github-12', 'github:frank-o/12'],
          ['github-13', 'github:frank-o/13'],
        ]);
      } finally {
        await forge.close();
      }
    });

    it('several new keys without --all and without a terminal: asks for --all, writes nothing', async () => {
      const dir = await copyExample();
      const forge = await startFakeForge({ github: { 'frank-o': [{ id: 1, key: ed25519Line() }, { id: 2, key: ed25519Line() }] } });
      const digest = await treeDigest(dir);
      try {
        const r = await spawnCli(['keys', 'add', 'frank', '--github', 'frank-o', '--dir', dir], { env: { INFRA_GITHUB_API_URL: forge.url } });
        expect(r.code).toBe(2);
        expect(r.stderr).toContain('--all');
        expect(await treeDigest(dir)).toBe(digest);
      } finally {
        await forge.close();
      }
    });

    it('a rate-limited API is exit 5 and nothing is written', async () => {
      const dir = await copyExample();
      const forge = await startFakeForge({ github: { 'frank-o': [{ id: 1, key: ed25519Line() }] } });
      forge.failNext({ status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1893456000' } });
      const digest = await treeDigest(dir);
      try {
        const r = await spawnCli(['keys', 'add', 'frank', '--github', 'frank-o', '--all', '--dir', dir], { env: { INFRA_GITHUB_API_URL: forge.url } });
        expect(r.code).toBe(5);
        expect(r.stderr).toContain(new Date(1893456000 * 1000).toISOString().slice(0, 16));
        expect(await treeDigest(dir)).toBe(digest);
      } finally {
        await forge.close();
      }
    });

    it('--gitlab with --gitlab-url imports auth keys and skips signing keys', async () => {
      const dir = await copyExample();
      const [auth, signing] = [ed25519Line(), ed25519Line()];
      const forge = await startFakeForge({ gitlab: { frank: [{ id: 7, key: auth, title: 'work laptop', usage_type: 'auth' }, { id: 8, key: signing, title: 'signing', usage_type: 'signing' }] } });
      try {
        const r = await spawnCli(['keys', 'add', 'frank', '--gitlab', 'frank', '--gitlab-url', forge.url, '--all', '--dir', dir, '--json']);
        expect(r.code).toBe(0);
        const stored = (await memberDoc(dir, 'frank')).ssh_keys;
        expect(stored).toHaveLength(2);
        expect(stored[1].key.startsWith(auth.split(' ').slice(0, 2).join(' '))).toBe(true);
        expect(stored[1].source).toMatch(/^gitlab:127\.0\.0\.1:\d+\/frank\/7$/);
      } finally {
        await forge.close();
      }
    });
  });
});

describe('infra keys list / remove', () => {
  it('lists keys with the fingerprint ssh-keygen computes', async () => {
    const dir = await copyExample();
    const out = JSON.parse((await run(['keys', 'list', 'alice', '--dir', dir, '--json'])).stdout);
    const alice = await memberDoc(dir, 'alice');
    expect(out.keys.map((k: { name: string }) => k.name)).toEqual(alice.ssh_keys.map((k: { name: string }) => k.name));
    for (const [i, k] of alice.ssh_keys.entries()) expect(out.keys[i].fingerprint).toBe(await sshKeygenFingerprint(k.key));
    const erin = JSON.parse((await run(['keys', 'list', 'erin', '--dir', dir, '--json'])).stdout);
    expect(erin.keys.find((k: { bits: number }) => k.bits === 2048).problems[0]).toMatch(/3072/);
  });

  it('removes by name and by fingerprint; unknown ones list what exists', async () => {
    const dir = await copyExample();
    const alice = await memberDoc(dir, 'alice');
    expect((await run(['keys', 'remove', 'alice', alice.ssh_keys[0].name, '--dir', dir])).code).toBe(0);
    const fp = await sshKeygenFingerprint(alice.ssh_keys[1].key);
    expect((await run(['keys', 'remove', 'alice', fp, '--dir', dir])).code).toBe(0);
    expect((await memberDoc(dir, 'alice')).ssh_keys).toEqual([]);
    const digest = await treeDigest(dir);
    const r = await run(['keys', 'remove', 'bob', 'nope', '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/hint: their keys: /);
    expect(await treeDigest(dir)).toBe(digest);
  });
});

describe('infra keys check', () => {
  it('prints per line what ssh-keygen -l prints, and the documented JSON shape', async () => {
    const ok = ed25519Line('alice laptop');
    const weak = rsaLine(2048, 'old key');
    const text = `# authorized_keys\r\n\r\nfrom="10.0.0.0/8,192.168.0.0/16",no-pty ${ok}\r\n${weak}\nnot a key at all\n`;
    const file = await writeTemp(text);
    const r = await spawnCli(['keys', 'check', file, '--json'], { cwd: await tempDir() });
    expect(r.code).toBe(4);
    const out = JSON.parse(r.stdout);
    expect(out.keys).toEqual([
      { line: 3, type: 'ssh-ed25519', bits: 256, fingerprint: await sshKeygenFingerprint(ok), comment: 'alice laptop', options: ['from="10.0.0.0/8,192.168.0.0/16"', 'no-pty'], ok: true, problems: [] },
      { line: 4, type: 'ssh-rsa', bits: 2048, fingerprint: await sshKeygenFingerprint(weak), comment: 'old key', options: [], ok: false, problems: [expect.stringMatching(/3072/)] },
    ]);
    expect(out.errors).toEqual([{ line: 5, problem: expect.any(String) }]);
    const human = await spawnCli(['keys', 'check', file], { cwd: await tempDir() });
    const keygen = execFileSync('ssh-keygen', ['-lf', await writeTemp(ok)], { encoding: 'utf8' }).trim();
    expect(human.stdout).toContain(`line 3: ${keygen}`);
    expect(human.code).toBe(4);
  });

  it('exits 0 when every line passes, reading stdin', async () => {
    const r = await spawnCli(['keys', 'check', '-'], { input: `${ed25519Line('a')}\n${rsaLine(3072, 'b')}\n`, cwd: await tempDir() });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(2);
  });

  it('survives 10 MB of garbage with a bounded report', async () => {
    const garbage = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919) % 251 === 10 ? 32 : 33 + ((i * 31) % 90);
    const file = await writeTemp(garbage.toString('latin1'));
    const r = await spawnCli(['keys', 'check', file, '--json'], { cwd: await tempDir() });
    expect(r.code).toBe(4);
    const out = JSON.parse(r.stdout);
    expect(out.keys).toEqual([]);
    expect(out.errors.length).toBeGreaterThan(0);
    expect(r.stdout.length).toBeLessThan(1024 * 1024);
  });

  it('a missing file is exit 3 naming it', async () => {
    const r = await spawnCli(['keys', 'check', '/nonexistent/authorized_keys'], { cwd: await tempDir() });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('/nonexistent/authorized_keys: no such file');
  });
});
