/**
 * `audit --live` sees what sshd sees, proved against real programs: a farm of real sshd hosts (each its own
 * sshd_config, host key and /home, test/helpers/sshd-farm.ts), the built `infra` (render, audit --live),
 * real Ansible with host-key checking on, and the shipped playbook. One farm, one audit before the apply,
 * one playbook run, one audit after, for the whole file (beforeAll); each test reads what was recorded.
 *
 * Hosts (three, to keep the file's one playbook run short on a shared machine): `base` (what render wrote,
 * nothing planted); `keys`, with the ways in that live in files the apply manages: a key in
 * ~/.ssh/authorized_keys2, a key after a stray `---- BEGIN SSH2 PUBLIC KEY ----` line, alice's VPN-only
 * from= dropped, bob's line made cert-authority (a certificate bob's key signs logs in); `conf`, with the
 * ways in that live in sshd_config: PasswordAuthentication yes (shown by sshd -T), an AuthorizedKeysCommand
 * that answers a stranger's key, TrustedUserCAKeys naming a CA the registry does not know. Each way in is
 * first shown to let a real `ssh` in. A `silent` inventory host accepts TCP and never speaks.
 */
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mustRun, runSync } from '../helpers/program.js';
import { isRoot, requireTool } from '../helpers/real-tools.js';
import { baseConfig, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { canLogin, createUser, removeUser, sshKeygen } from '../helpers/sshd.js';
import { startFarm, type Farm } from '../helpers/sshd-farm.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PLAYBOOK = path.join(REPO, 'ansible', 'apply-access.yml');

const ready =
  [
    requireTool('/usr/sbin/sshd', 'openssh-server'),
    requireTool('ssh', 'openssh-client'),
    requireTool('ssh-keygen', 'openssh-client'),
    requireTool('ansible', 'ansible'),
    requireTool('ansible-playbook', 'ansible'),
    requireTool('unshare', 'util-linux'),
    requireTool('useradd', 'passwd'),
  ].every(Boolean) && isRoot();
const d = ready ? describe : describe.skip;

const HOSTS = ['base', 'keys', 'conf'] as const;
type Host = (typeof HOSTS)[number];
const LIVE_CODES = new Set(['unknown-key', 'missing-key', 'unreachable-host', 'unmanaged-auth', 'altered-key', 'host-sshd-policy', 'departed-access', 'unknown-ca']);

interface Finding {
  code: string;
  severity: string;
  subject: string;
  detail: string;
  fix: string;
}

d('audit --live against a farm of real sshd hosts', () => {
  const suffix = randomBytes(3).toString('hex');
  const user = `infra-lv-${suffix}`;
  const runDir = `/run/infra-lv-${suffix}`; // the AuthorizedKeysCommand must sit in root-owned folders only
  let tmp: string;
  let root: string;
  let farm: Farm | undefined;
  let silent: net.Server | undefined;
  const silentSockets = new Set<net.Socket>();
  let userCreated = false;
  const keys: Record<string, { privateKey: string; publicLine: string }> = {};
  const before: Record<string, { ok: boolean; stderr: string }> = {};
  const after: Record<string, { ok: boolean; stderr: string }> = {};
  let passwordSetting = '';
  let firstAudit: { code: number; findings: Finding[]; stderr: string };
  let secondAudit: { code: number; findings: Finding[]; stderr: string };
  let apply: { code: number; stdout: string };
  const filesAfter: Record<string, string | null> = {};

  const port = (h: Host) => farm!.hosts.find((x) => x.name === h)!.port;
  const env = () => ({
    ...process.env,
    NO_COLOR: '1',
    ANSIBLE_HOME: path.join(tmp, 'ansible-home'),
    ANSIBLE_LOCAL_TEMP: path.join(tmp, 'ansible-tmp'),
    ANSIBLE_SSH_ARGS: '-o ControlMaster=no', // no control connections outlive the test
    ANSIBLE_HOST_KEY_CHECKING: 'False', // the caller's setting: --live must not honour it (the inventory's known_hosts holds every key)
  });
  const infra = (...args: string[]) => runSync(process.execPath, [path.join(REPO, 'bin', 'run.js'), ...args, '--dir', root], { env: env(), timeoutMs: 180_000 });
  const audit = () => {
    // A generous deadline: a shared, loaded machine may take long to run a module; the silent host has its own (ansible_timeout).
    const r = infra('audit', '--live', '--json', '--timeout', '90', '--as-of', '2026-06-01');
    let findings: Finding[] = [];
    try {
      findings = (JSON.parse(r.stdout) as { findings: Finding[] }).findings;
    } catch {
      throw new Error(`audit --live printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    }
    return { code: r.code, findings: findings.filter((f) => LIVE_CODES.has(f.code)), stderr: r.stderr };
  };
  const on = (findings: Finding[], host: string) => findings.filter((f) => f.subject.startsWith(`test/${host} `) || f.subject === `test/${host}` || f.subject.includes(` test/${host} `));
  const keysFile = (h: Host, name = 'authorized_keys') => path.join(farm!.hosts.find((x) => x.name === h)!.home(user), '.ssh', name);
  const readOrNull = (file: string) => fs.readFile(file, 'utf8').catch(() => null);
  const plant = async (h: Host, name: string, text: string) => {
    const file = keysFile(h, name);
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await fs.writeFile(file, text, { mode: 0o600 });
    mustRun('chown', ['-R', `${user}:`, path.dirname(file)]);
  };
  /** Every way in is tried before the audit, and again after the apply. */
  const logins = (into: Record<string, { ok: boolean; stderr: string }>) => {
    into.base = canLogin(user, port('base'), keys.bob.privateKey);
    into.keys2 = canLogin(user, port('keys'), keys.intruder.privateKey);
    into.begin = canLogin(user, port('keys'), keys.sneak.privateKey);
    into.from = canLogin(user, port('keys'), keys.alice.privateKey);
    into.ca = canLogin(user, port('keys'), keys.minted.privateKey);
    into.akc = canLogin(user, port('conf'), keys.commanded.privateKey);
    into.tuca = canLogin(user, port('conf'), keys.foreign.privateKey);
    into.baseAlice = canLogin(user, port('base'), keys.alice.privateKey); // from= keeps her out of 127.0.0.1
  };

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-lv-'));
    await fs.chmod(tmp, 0o755);
    createUser(user, () => (userCreated = true));
    for (const name of ['ansible', 'alice', 'bob', 'intruder', 'sneak', 'minted', 'commanded', 'foreign', 'foreign-ca']) keys[name] = await sshKeygen(tmp, name);
    // A certificate for `minted` signed by bob's key (what a cert-authority line on bob's key trusts) and one
    // for `foreign` signed by a CA nobody registered (what TrustedUserCAKeys trusts on `tuca`).
    mustRun('ssh-keygen', ['-q', '-s', keys.bob.privateKey, '-I', 'minted', '-n', user, '-V', '-5m:+1h', `${keys.minted.privateKey}.pub`]);
    mustRun('ssh-keygen', ['-q', '-s', keys['foreign-ca'].privateKey, '-I', 'foreign', '-n', user, '-V', '-5m:+1h', `${keys.foreign.privateKey}.pub`]);
    await fs.mkdir(runDir, { mode: 0o755 });
    const akc = path.join(runDir, 'keys-command');
    await fs.writeFile(akc, `#!/bin/sh\necho '${keys.commanded.publicLine}'\n`, { mode: 0o755 });
    const caFile = path.join(tmp, 'foreign-ca.pub');
    await fs.writeFile(caFile, `${keys['foreign-ca'].publicLine}\n`, { mode: 0o644 });

    farm = await startFarm({
      dir: path.join(tmp, 'farm'),
      names: HOSTS,
      users: [user],
      rootKey: keys.ansible,
      extraConfig: { conf: ['PasswordAuthentication yes', `AuthorizedKeysCommand ${akc} %u`, 'AuthorizedKeysCommandUser nobody', `TrustedUserCAKeys ${caFile}`] },
    });
    silent = net.createServer((socket) => {
      silentSockets.add(socket);
      socket.on('close', () => silentSockets.delete(socket));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as net.AddressInfo).port;

    const serverWg = Buffer.from(generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString('base64');
    root = await makeRegistry(
      {
        config: baseConfig({
          environments: { test: 'inventories/test' },
          access: [
            { groups: ['ops'], hosts: 'farm', user },
            { groups: ['meet'], hosts: 'farm', user, vpn_only: true },
          ],
          vpn: { meet: { ipv4: '10.77.0.0/24', endpoint: 'vpn.example.org:51820', server_public_key: serverWg, reserved: ['10.77.0.1'], allowed_ips: ['10.77.0.0/24'], servers: 'vpnservers' } },
        }),
        members: {
          alice: memberData('alice', { groups: ['meet'], ssh_keys: [{ name: 'laptop', key: keys.alice.publicLine, added: '2026-01-01' }] }),
          bob: memberData('bob', { groups: ['ops'], ssh_keys: [{ name: 'laptop', key: keys.bob.publicLine, added: '2026-01-01' }] }),
        },
        files: {
          'inventories/test/hosts.yml': [
            'all:',
            '  children:',
            '    farm:',
            '      hosts:',
            ...farm.inventoryLines().map((l) => `    ${l}`),
            '        silent:',
            '          ansible_host: 127.0.0.1',
            `          ansible_port: ${silentPort}`,
            '          ansible_timeout: 3',
            '          ansible_user: root',
            `          ansible_ssh_common_args: "-o UserKnownHostsFile=${farm.knownHosts} -o GlobalKnownHostsFile=/dev/null"`,
            '    vpnservers:',
            '      hosts: {}',
            '',
          ].join('\n'),
        },
      },
      path.join(tmp, 'registry'),
    );
    const rendered = infra('render', '--json');
    if (rendered.code !== 0) throw new Error(`infra render failed (${rendered.code}): ${rendered.stdout}${rendered.stderr}`);
    // What render wrote, as the apply would write it: each host's authorized_keys holds exactly the rendered lines.
    const generated = await fs.readFile(path.join(root, 'inventories', 'test', 'host_vars', 'base', 'infra.generated.yml'), 'utf8');
    const lines = [...generated.matchAll(/^\s+- '(.*)'$/gm)].map((m) => m[1].replace(/''/g, "'")).filter((l) => / ssh-ed25519 |^ssh-ed25519 /.test(l));
    const aliceLine = lines.find((l) => l.endsWith(' alice/laptop'))!;
    const bobLine = lines.find((l) => l.endsWith(' bob/laptop'))!;
    if (!aliceLine?.startsWith('from="10.77.0.0/24" ') || !bobLine?.startsWith('ssh-ed25519 ')) throw new Error(`unexpected rendered lines:\n${generated}`);
    const renderedText = `${aliceLine}\n${bobLine}\n`;
    for (const h of HOSTS) await plant(h, 'authorized_keys', renderedText);
    await plant('keys', 'authorized_keys2', `${keys.intruder.publicLine}\n`);
    // line 1: alice without from=; line 2: bob's as cert-authority; line 3: a stray BEGIN; line 4: a key after it
    await plant('keys', 'authorized_keys', `${aliceLine.replace(/^from="[^"]*" /, '')}\ncert-authority ${bobLine}\n---- BEGIN SSH2 PUBLIC KEY ----\nrestrict,pty ${keys.sneak.publicLine}\n`);

    logins(before);
    passwordSetting = mustRun('/usr/sbin/sshd', ['-T', '-f', farm.hosts.find((h) => h.name === 'conf')!.config, '-C', `user=${user},host=192.0.2.1,addr=192.0.2.1`]);

    firstAudit = audit();
    const run = runSync('ansible-playbook', ['-i', path.join(root, 'inventories', 'test'), PLAYBOOK, '--tags', 'ssh', '--limit', 'farm:!silent', '--forks', '10'], {
      env: { ...env(), ANSIBLE_HOST_KEY_CHECKING: 'True', ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: 'False', ANSIBLE_PIPELINING: 'True' },
      cwd: tmp,
      timeoutMs: 300_000,
    });
    apply = { code: run.code, stdout: `${run.stdout}\n${run.stderr}` };
    for (const h of HOSTS) for (const name of ['authorized_keys', 'authorized_keys2']) filesAfter[`${h}/${name}`] = await readOrNull(keysFile(h, name));
    logins(after);
    secondAudit = audit();
  }, 600_000);

  afterAll(async () => {
    await farm?.stop();
    for (const socket of silentSockets) socket.destroy();
    await new Promise((resolve) => (silent ? silent.close(resolve) : resolve(undefined)));
    if (userCreated) removeUser(user);
    await fs.rm(runDir, { recursive: true, force: true });
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  }, 60_000);

  it('every planted way in lets a real ssh in before the audit (and the baseline lets bob in, alice only from the VPN)', () => {
    expect(before.base.ok).toBe(true);
    expect(before.baseAlice.ok).toBe(false);
    for (const way of ['keys2', 'begin', 'from', 'ca', 'akc', 'tuca']) expect([way, before[way].ok, before[way].ok ? '' : before[way].stderr]).toEqual([way, true, '']);
    expect(passwordSetting).toMatch(/^passwordauthentication yes$/m);
  });

  it('the baseline host (rendered, nothing planted) has no live finding, before and after the apply', () => {
    expect(on(firstAudit.findings, 'base')).toEqual([]);
    expect(on(secondAudit.findings, 'base')).toEqual([]);
  });

  it('each planted way in is reported with its code, on its host', () => {
    const found = on(firstAudit.findings, 'keys').map((f) => [f.code, f.severity, f.subject.replace(/SHA256:\S+/, 'SHA256:…')]);
    expect(found.sort()).toEqual(
      [
        ['altered-key', 'high', `alice/laptop test/keys ${user}`], // from= dropped
        ['altered-key', 'high', `bob/laptop test/keys ${user}`], // cert-authority added
        ['unknown-key', 'high', `test/keys ${user} SHA256:…`], // the key after the BEGIN line
        ['unmanaged-auth', 'high', `test/keys ${user} SHA256:…`], // the key in authorized_keys2
      ].sort(),
    );
    const detail = (code: string, needle: string) => on(firstAudit.findings, 'keys').find((f) => f.code === code && f.subject.includes(needle))?.detail;
    expect(detail('altered-key', 'alice/laptop')).toMatch(/authorized_keys line 1 .*from= removed \(rendered from="10\.77\.0\.0\/24"\)/);
    expect(detail('altered-key', 'bob/laptop')).toMatch(/authorized_keys line 2 .*cert-authority added/);
    expect(detail('unknown-key', 'SHA256')).toMatch(/authorized_keys line 4 holds a ssh-ed25519 key the registry does not know/);
    expect(detail('unmanaged-auth', 'SHA256')).toMatch(/authorized_keys2 line 1 \(AuthorizedKeysFile\) holds a ssh-ed25519 key the registry does not know/);

    const conf = on(firstAudit.findings, 'conf').map((f) => [f.code, f.severity, f.subject.replace(/SHA256:\S+/, 'SHA256:…')]);
    expect(conf.sort()).toEqual(
      [
        ['host-sshd-policy', 'medium', 'test/conf PasswordAuthentication'],
        ['unmanaged-auth', 'high', 'test/conf AuthorizedKeysCommand'],
        ['unknown-ca', 'high', 'test/conf TrustedUserCAKeys SHA256:…'],
      ].sort(),
    );
    expect(on(firstAudit.findings, 'conf').find((f) => f.code === 'host-sshd-policy')!.detail).toContain('`PasswordAuthentication yes`');
    expect(on(firstAudit.findings, 'conf').find((f) => f.subject.endsWith('AuthorizedKeysCommand'))!.detail).toContain('keys-command %u');
  });

  it('a host that accepts TCP and never answers is unreachable-host, not a crash', () => {
    expect(firstAudit.findings.filter((f) => f.subject === 'test/silent').map((f) => f.code)).toEqual(['unreachable-host']);
    expect(firstAudit.code).toBe(0);
  });

  it('the apply removes what it manages (authorized_keys2 emptied, the BEGIN key gone, from= and bob\'s line restored)', () => {
    expect(apply.code).toBe(0);
    expect(filesAfter['keys/authorized_keys2']).toBe('');
    expect(filesAfter['keys/authorized_keys']).not.toContain(keys.sneak.publicLine.split(' ')[1]);
    expect(filesAfter['keys/authorized_keys']).toMatch(/^from="10\.77\.0\.0\/24" ssh-ed25519 /m);
    expect(filesAfter['keys/authorized_keys']).not.toContain('cert-authority');
    for (const way of ['keys2', 'begin', 'from', 'ca']) expect([way, after[way].ok]).toEqual([way, false]);
    expect(after.base.ok).toBe(true);
  });

  it('after the apply only what sshd_config holds is still reported', () => {
    const left = secondAudit.findings.filter((f) => f.subject !== 'test/silent').map((f) => [f.code, f.subject.replace(/SHA256:\S+/, 'SHA256:…')]);
    expect(left.sort()).toEqual(
      [
        ['host-sshd-policy', 'test/conf PasswordAuthentication'],
        ['unmanaged-auth', 'test/conf AuthorizedKeysCommand'],
        ['unknown-ca', 'test/conf TrustedUserCAKeys SHA256:…'],
      ].sort(),
    );
    expect([after.akc.ok, after.tuca.ok]).toEqual([true, true]); // the apply does not manage sshd_config
  });
});
