/**
 * hole 2 and docs/reference.md, "Render", with the real programs:
 *  - a `{{ lookup('pipe', 'touch ...') }}` planted in a host's generated file (as a line, a user name, a
 *    WireGuard peer name) is never run by the shipped playbooks (the real `ansible-playbook` stops the host
 *    before any use), while a copy of the same playbook without its first check does run it (so this test
 *    can fail); and `infra render` drops what was planted, after which the playbook applies cleanly;
 *  - a host no grant reaches any more keeps a file listing the keys under infra_revoked_keys only, and the
 *    playbook really removes the key there: a real sshd lets the member in before and refuses after.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { mustRun, runSync } from '../helpers/program.js';
import { isRoot, requireTool } from '../helpers/real-tools.js';
import { baseConfig, keyBody, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { canLogin, createUser, removeUser, sshKeygen, startSshd, type Sshd } from '../helpers/sshd.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const ansibleEnv = { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'False', ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_RETRY_FILES_ENABLED: 'False' };

const haveAnsible = [requireTool('ansible-playbook', 'ansible'), requireTool('ansible-inventory', 'ansible')].every(Boolean);
const haveSshd = haveAnsible && [requireTool('/usr/sbin/sshd', 'openssh-server'), requireTool('ssh', 'openssh-client'), requireTool('ssh-keygen', 'openssh-client'), requireTool('useradd', 'passwd')].every(Boolean) && isRoot();

function infra(root: string, ...args: string[]) {
  return runSync(process.execPath, [path.join(REPO, 'bin', 'run.js'), ...args, '--dir', root], { env: { ...process.env, NO_COLOR: '1' }, timeoutMs: 60_000 });
}

const HOSTS = ['all:', '  hosts:', '    testhost:', '      ansible_connection: local', '      ansible_python_interpreter: /usr/bin/python3', ''].join('\n');
const GEN = 'inventories/test/host_vars/testhost/infra.generated.yml';
const yamlQuote = (s: string) => `'${s.replace(/'/g, "''")}'`;

(haveAnsible ? describe : describe.skip)('planted templates in a generated file are never run by the playbooks', () => {
  let tmp: string;
  let root: string;
  const marker = (what: string) => path.join(tmp, `pwned-${what}`);
  const plant = (what: string) => `{{ lookup('pipe', 'touch ${marker(what)}') }}`;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-trust-'));
    const key = (await sshKeygen(tmp, 'alice')).publicLine;
    root = await makeRegistry(
      {
        config: baseConfig({ environments: { test: 'inventories/test' }, access: [{ groups: ['infra'], hosts: 'all', user: 'nobody' }] }),
        members: { alice: memberData('alice', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key, added: '2026-01-01' }] }) },
        files: { 'inventories/test/hosts.yml': HOSTS },
      },
      path.join(tmp, 'registry'),
    );
    const r = infra(root, 'render');
    if (r.code !== 0) throw new Error(`infra render failed: ${r.stdout}${r.stderr}`);
    // the playbooks, and a copy of each without the first task (the raw check), as the control
    await fs.mkdir(path.join(tmp, 'unguarded'));
    for (const name of ['apply-access.yml', 'wireguard.yml']) {
      const plays = parse(await fs.readFile(path.join(REPO, 'ansible', name), 'utf8'));
      for (const play of plays) if (play.tasks?.[0]?.name?.startsWith('Check the rendered')) play.tasks.shift();
      await fs.writeFile(path.join(tmp, 'unguarded', name), stringify(plays, { lineWidth: 0 }));
    }
  }, 120_000);

  afterAll(async () => {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  const plantFile = async () => {
    const clean = await fs.readFile(path.join(root, GEN), 'utf8');
    const planted = [
      clean.trimEnd().replace(/^infra_revoked_keys: \{\}.*$/m, `infra_revoked_keys:\n  ${yamlQuote(plant('user'))}:\n    - 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x/y'\n  nobody:\n    - ${yamlQuote(plant('line'))}`),
      `infra_wireguard_peers:\n  meet:\n    - {name: ${yamlQuote(plant('peer'))}, public_key: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', allowed_ips: ['10.77.0.5/32']}`,
      '',
    ].join('\n');
    expect(planted).toContain('infra_revoked_keys:\n  ');
    await fs.writeFile(path.join(root, GEN), planted);
  };
  // --check: every task is evaluated (templates and all), nothing is written to the machine running the test
  const playbook = (file: string) =>
    runSync('ansible-playbook', ['-i', path.join(root, 'inventories', 'test'), file, '--check', '-e', 'infra_become=false', '-e', `infra_wireguard_dir=${tmp}`], { env: ansibleEnv, cwd: tmp, timeoutMs: 180_000 });
  const markers = () => ['user', 'line', 'peer'].filter((w) => existsSync(marker(w)));

  it('control: the same playbooks without their raw check do run a planted template (the hazard is real)', async () => {
    await plantFile();
    playbook(path.join(tmp, 'unguarded', 'apply-access.yml'));
    playbook(path.join(tmp, 'unguarded', 'wireguard.yml'));
    expect(markers().length).toBeGreaterThan(0);
    for (const w of markers()) await fs.rm(marker(w));
  }, 400_000);

  it('the shipped apply-access.yml and wireguard.yml stop the host and run nothing planted', async () => {
    await plantFile();
    const access = playbook(path.join(REPO, 'ansible', 'apply-access.yml'));
    expect(access.code).not.toBe(0);
    expect(access.stdout).toContain('not in the form `infra render` writes');
    const wg = playbook(path.join(REPO, 'ansible', 'wireguard.yml'));
    expect(wg.code).not.toBe(0);
    expect(wg.stdout).toContain('infra_wireguard_peers on this host is not in the form');
    expect(markers()).toEqual([]);
  }, 400_000);

  it('infra render drops what was planted (warning on stderr), and then the playbook applies cleanly', async () => {
    await plantFile();
    const check = infra(root, 'render', '--check');
    expect(check.code).toBe(4);
    expect(check.stdout).toContain(GEN);
    const r = infra(root, 'render');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*testhost\/infra\.generated\.yml: dropped the remote user/);
    expect(await fs.readFile(path.join(root, GEN), 'utf8')).not.toMatch(/\{[{%#]/);
    const inv = JSON.parse(mustRun('ansible-inventory', ['-i', path.join(root, 'inventories', 'test'), '--list'], { env: ansibleEnv, timeoutMs: 60_000 }));
    // both planted entries are gone, and alice is still granted: nothing is left to revoke
    expect(inv._meta.hostvars.testhost.infra_revoked_keys).toEqual({});
    expect(inv._meta.hostvars.testhost.infra_authorized_keys.nobody).toHaveLength(1);
    const access = playbook(path.join(REPO, 'ansible', 'apply-access.yml'));
    expect(access.code).toBe(0);
    expect(markers()).toEqual([]);
  }, 400_000);
});

(haveSshd ? describe : describe.skip)('a host no grant reaches any more: its keys really leave (real sshd)', () => {
  const user = `infra-rev-${randomBytes(3).toString('hex')}`;
  let tmp: string;
  let root: string;
  let sshd: Sshd | undefined;
  const created: string[] = [];
  let alice: { privateKey: string; publicLine: string };

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-rev-'));
    createUser(user, () => created.push(user));
    alice = await sshKeygen(tmp, 'alice');
    root = await makeRegistry(
      {
        config: baseConfig({ environments: { test: 'inventories/test' }, access: [{ groups: ['infra'], hosts: 'testhost', user }] }),
        members: { alice: memberData('alice', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: alice.publicLine, added: '2026-01-01' }] }) },
        files: { 'inventories/test/hosts.yml': HOSTS },
      },
      path.join(tmp, 'registry'),
    );
    sshd = await startSshd([user]);
  }, 120_000);

  afterAll(async () => {
    await sshd?.stop();
    for (const name of created) removeUser(name);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  const apply = () =>
    mustRun('ansible-playbook', ['-i', path.join(root, 'inventories', 'test'), path.join(REPO, 'ansible', 'apply-access.yml'), '--tags', 'ssh', '-e', 'infra_become=false'], { env: ansibleEnv, cwd: tmp, timeoutMs: 180_000 });

  it('granted: in; grant removed, render, playbook: the file lists the key under infra_revoked_keys only, and sshd refuses it', async () => {
    expect(infra(root, 'render').code).toBe(0);
    apply();
    expect(canLogin(user, sshd!.port, alice.privateKey).ok).toBe(true);

    const config = parse(await fs.readFile(path.join(root, 'infra.yml'), 'utf8'));
    config.access = [];
    await fs.writeFile(path.join(root, 'infra.yml'), stringify(config));
    const r = infra(root, 'render', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ written: [GEN], removed: [] });
    const hostvars = JSON.parse(mustRun('ansible-inventory', ['-i', path.join(root, 'inventories', 'test'), '--list'], { env: ansibleEnv, timeoutMs: 60_000 }))._meta.hostvars.testhost;
    expect(hostvars.infra_revoked_keys).toEqual({ [user]: [`${keyBody(alice.publicLine)} alice/laptop`] });
    expect(hostvars).not.toHaveProperty('infra_authorized_keys');

    apply();
    expect(canLogin(user, sshd!.port, alice.privateKey).ok).toBe(false);
    expect(infra(root, 'render', '--check').code).toBe(0); // stable
  }, 400_000);
});
