/**
 * Shift access end to end, with real programs: `infra ca init` and `infra certs sign` make the CA and the
 * certificates, `infra render` writes infra_ssh_certificates, the shipped playbook (ansible/ssh-certificates.yml,
 * through apply-access.yml) installs the CA keys, principals files, KRL and sshd drop-in (checked by
 * `sshd -t`/`sshd -T`), and a real sshd on 127.0.0.1 configured by that drop-in decides:
 * a certificate in its window logs in as a granted user; it is refused as a user no grant gives, before
 * --from, after --until, after `certs revoke` + render + apply, after offboarding + render + apply; a
 * vpn_only principal is refused from outside the VPN ranges and let in once a range includes 127.0.0.1.
 * The members' plain keys are not in authorized_keys (the first apply runs the certificate play only), so
 * only a certificate can let them in; and plain keys keep working beside certificates once applied.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { signCertificate } from '../../src/services/certs.js';
import { testContext } from '../helpers/context.js';
import { makeAdmin } from '../helpers/pgp-keys.js';
import { mustRun, runSync } from '../helpers/program.js';
import { isRoot, requireTool } from '../helpers/real-tools.js';
import { baseConfig, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { createUser, removeUser, sshKeygen, startSshd, type Sshd } from '../helpers/sshd.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PLAYBOOK = path.join(REPO, 'ansible', 'apply-access.yml');

const ready =
  [
    requireTool('/usr/sbin/sshd', 'openssh-server'),
    requireTool('ssh', 'openssh-client'),
    requireTool('ssh-keygen', 'openssh-client'),
    requireTool('ansible-playbook', 'ansible'),
    requireTool('useradd', 'passwd'),
  ].every(Boolean) && isRoot();
const d = ready ? describe : describe.skip;

const ansibleEnv = { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'False', ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_RETRY_FILES_ENABLED: 'False' };
/** Each test renders and runs ansible-playbook, slow on a machine shared with other work. */
const SLOW = 900_000;
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16) + 'Z';

d('certificates: render + ssh-certificates.yml + a real sshd', () => {
  const granted = `infra-crt-${randomBytes(3).toString('hex')}`; // alice (infra), carol (meet-tech, vpn_only), dave (infra)
  const other = `infra-crx-${randomBytes(3).toString('hex')}`; // bob only
  let tmp: string;
  let root: string;
  let sshd: Sshd | undefined;
  const users: string[] = [];
  const keys: Record<string, { privateKey: string; publicLine: string }> = {};
  let env: NodeJS.ProcessEnv;

  const infra = (...args: string[]) => runSync(process.execPath, [path.join(REPO, 'bin', 'run.js'), ...args, '--dir', root], { env, cwd: tmp, timeoutMs: 60_000 });
  const must = (...args: string[]) => {
    const r = infra(...args);
    if (r.code !== 0) throw new Error(`infra ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const etc = () => path.join(tmp, 'etc-ssh-infra');
  /** The certificate play only (tag `certificates`) unless `all`: each ansible-playbook start is slow on a busy machine. */
  const apply = (all = false) =>
    mustRun(
      'ansible-playbook',
      ['-i', path.join(root, 'inventories', 'test'), PLAYBOOK, ...(all ? [] : ['--tags', 'certificates']), '--limit', 'testhost', '-e', 'infra_become=false', '-e', `infra_ssh_dir=${etc()}`, '-e', `infra_sshd_dropin=${path.join(tmp, 'sshd_config.d', '50-infra-certificates.conf')}`, '-e', `infra_sshd_config=${path.join(sshd!.dir, 'sshd_config')}`, '-e', 'infra_sshd_reload=false'],
      { env: ansibleEnv, cwd: tmp, timeoutMs: 420_000 },
    );
  /** Sign through the CLI; the certificate lands beside nothing: -o writes it to a file of its own. */
  const sign = (handle: string, label: string, ...window: string[]) => {
    const file = path.join(tmp, `${label}-cert.pub`);
    const out = JSON.parse(must('certs', 'sign', handle, ...window, '--ca-key', path.join(tmp, 'alice.sec.asc'), '-o', file, '--json'));
    return { file, serial: out.serial as number };
  };
  /** A login with the key and its certificate: with no plain key in authorized_keys, only the certificate can let it in. */
  const certLogin = (user: string, who: string, certFile?: string) => {
    const r = runSync(
      'ssh',
      ['-F', '/dev/null', '-i', keys[who].privateKey, ...(certFile ? ['-o', `CertificateFile=${certFile}`] : []), '-p', String(sshd!.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'PreferredAuthentications=publickey', '-o', 'ConnectTimeout=90', `${user}@127.0.0.1`, 'true'],
      { timeoutMs: 120_000 }, // generous: a machine shared with other work can take long over a key exchange
    );
    return r.code === 0;
  };
  const renderAndApply = () => {
    must('render');
    apply();
  };

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-certs-e2e-'));
    await fs.chmod(tmp, 0o755); // sshd opens a principals file as the user logging in: the path must be traversable
    createUser(granted, () => users.push(granted));
    createUser(other, () => users.push(other));
    for (const name of ['alice', 'bob', 'carol', 'dave']) keys[name] = await sshKeygen(tmp, name);
    const admin = await makeAdmin('alice');
    await fs.writeFile(path.join(tmp, 'alice.sec.asc'), admin.privateKey, { mode: 0o600 });
    root = await makeRegistry(
      {
        config: baseConfig({
          admins: ['alice'],
          environments: { test: 'inventories/test' },
          access: [
            { groups: ['infra'], hosts: 'all', user: granted },
            { groups: ['meet-tech'], hosts: 'testhost', user: granted, vpn_only: true },
            { groups: ['ops'], hosts: 'testhost', user: other },
          ],
          vpn: { meet: { ipv4: '10.77.0.0/24', endpoint: 'vpn.example.org:51820', server_public_key: Buffer.alloc(32, 7).toString('base64'), reserved: ['10.77.0.1'], servers: 'vpnhost' } },
        }),
        members: {
          alice: memberData('alice', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: keys.alice.publicLine, added: '2026-01-01' }] }),
          bob: memberData('bob', { groups: ['ops'], ssh_keys: [{ name: 'laptop', key: keys.bob.publicLine, added: '2026-01-01' }] }),
          carol: memberData('carol', { groups: ['meet-tech'], ssh_keys: [{ name: 'laptop', key: keys.carol.publicLine, added: '2026-01-01' }] }),
          dave: memberData('dave', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: keys.dave.publicLine, added: '2026-01-01' }] }),
        },
        files: {
          'keys/alice/pgp.asc': admin.publicKey,
          'inventories/test/hosts.yml': ['all:', '  hosts:', '    testhost:', '      ansible_connection: local', '      ansible_python_interpreter: /usr/bin/python3', '    vpnhost:', '      ansible_connection: local', ''].join('\n'),
        },
      },
      path.join(tmp, 'registry'),
    );
    env = { ...process.env, NO_COLOR: '1', INFRA_PGP_PASSPHRASE: '' };
    must('ca', 'init');
    must('render');
    // sshd reads the drop-in when it starts: the first apply (checked by sshd -t against this sshd's config)
    // comes first, then the sshd that tests log in to starts with the same config.
    const include = [`Include ${path.join(tmp, 'sshd_config.d')}/*.conf`];
    sshd = await startSshd([granted, other], include);
    apply();
    await sshd.stop();
    sshd = await startSshd([granted, other], include);
  }, SLOW);

  afterAll(async () => {
    await sshd?.stop();
    for (const u of users) removeUser(u);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  }, SLOW);

  it('the playbook installs the CA keys, principals and KRL, and the drop-in is in effect (sshd -T)', async () => {
    const caLine = (await fs.readFile(path.join(root, 'ca/user_ca.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
    expect(await fs.readFile(path.join(etc(), 'user_ca_keys'), 'utf8')).toBe(`${caLine} infra-user-ca\n`);
    expect(await fs.readFile(path.join(etc(), 'principals', granted), 'utf8')).toMatch(/^alice\n(?:.*\n)*from="10\.77\.0\.0\/24" carol\n/);
    expect(await fs.readFile(path.join(etc(), 'principals', other), 'utf8')).toMatch(/^(bob\n)?$/);
    const effective = mustRun('/usr/sbin/sshd', ['-T', '-f', path.join(sshd!.dir, 'sshd_config')]);
    expect(effective).toContain(`trustedusercakeys ${etc()}/user_ca_keys`);
    expect(effective).toContain(`authorizedprincipalsfile ${etc()}/principals/%u`);
    expect(effective).toContain(`revokedkeys ${etc()}/revoked_keys.krl`);
  }, SLOW);

  it('a certificate in its window logs in as a granted user, and not as a user no grant gives it', async () => {
    const cert = sign('alice', 'alice-now', '--hours', '1');
    expect(certLogin(granted, 'alice', cert.file)).toBe(true);
    // sshd's log arrives on its own pipe: waited for, not read at once
    expect(await sshd!.waitForLog(new RegExp(`Accepted publickey for ${granted} from 127\\.0\\.0\\.1 .*ED25519-CERT.*ID alice/laptop#${cert.serial} \\(serial ${cert.serial}\\)`), 30_000)).toBe(true);
    expect(certLogin(other, 'alice', cert.file)).toBe(false);
  }, SLOW);

  it('a certificate is refused before --from and after --until', async () => {
    const soon = Date.now() + 2 * 3600_000;
    const future = sign('alice', 'alice-future', '--from', iso(soon), '--until', iso(soon + 3600_000));
    expect(certLogin(granted, 'alice', future.file)).toBe(false);
    // signed yesterday for an hour (the service with yesterday's clock): its window is over now
    const yesterday = new Date(Date.now() - 86_400_000);
    const day = `${yesterday.getFullYear()}-${String(yesterday.getMonth() + 1).padStart(2, '0')}-${String(yesterday.getDate()).padStart(2, '0')}`;
    const past = await signCertificate(testContext({ root, today: day, cwd: tmp, env: { INFRA_PGP_PASSPHRASE: '' } }), { handle: 'alice', hours: '1', caKey: 'alice.sec.asc', out: 'alice-past-cert.pub' });
    expect(past.valid_before < new Date().toISOString()).toBe(true);
    expect(certLogin(granted, 'alice', path.join(tmp, 'alice-past-cert.pub'))).toBe(false);
    // the same key with a certificate in force still gets in: the refusals were the windows
    expect(certLogin(granted, 'alice', sign('alice', 'alice-control', '--hours', '1').file)).toBe(true);
  }, SLOW);

  it('after certs revoke + render + apply the certificate is refused; another of the same key still works; ssh-keygen -Q agrees', () => {
    const revoked = sign('alice', 'alice-revoked', '--hours', '2');
    const kept = sign('alice', 'alice-kept', '--hours', '2');
    expect(certLogin(granted, 'alice', revoked.file)).toBe(true);
    must('certs', 'revoke', String(revoked.serial));
    renderAndApply();
    expect(certLogin(granted, 'alice', revoked.file)).toBe(false);
    expect(certLogin(granted, 'alice', kept.file)).toBe(true);
    const krl = path.join(etc(), 'revoked_keys.krl');
    const q = (file: string) => runSync('ssh-keygen', ['-Q', '-f', krl, file]);
    expect(q(revoked.file)).toMatchObject({ code: 1, stdout: expect.stringContaining('REVOKED') });
    expect(q(kept.file)).toMatchObject({ code: 0, stdout: expect.stringContaining(': ok') });
    expect(q(`${keys.alice.privateKey}.pub`).code).toBe(0);
  }, SLOW);

  it('after offboarding + render + apply an unexpired certificate is refused, and the KRL holds the departed key', () => {
    const cert = sign('dave', 'dave-shift', '--hours', '4');
    expect(certLogin(granted, 'dave', cert.file)).toBe(true);
    must('members', 'offboard', 'dave');
    renderAndApply();
    expect(certLogin(granted, 'dave', cert.file)).toBe(false);
    const krl = path.join(etc(), 'revoked_keys.krl');
    expect(runSync('ssh-keygen', ['-Q', '-f', krl, `${keys.dave.privateKey}.pub`]).stdout).toContain('REVOKED');
    expect(runSync('ssh-keygen', ['-Q', '-f', krl, cert.file]).stdout).toContain('REVOKED');
  }, SLOW);

  it('a vpn_only principal is refused from outside the VPN ranges, and let in once a range includes 127.0.0.1', async () => {
    const cert = sign('carol', 'carol-shift', '--hours', '2');
    renderAndApply();
    expect(certLogin(granted, 'carol', cert.file)).toBe(false);
    // the principals line's from= is a key option: auth_authorise_keyopts logs it as a host not permitted
    expect(await sshd!.waitForLog(/with correct key but not from a permitted host \(host=[^,]*, ip=127\.0\.0\.1, required=10\.77\.0\.0\/24\)/, 30_000)).toBe(true);
    const config = path.join(root, 'infra.yml');
    const before = await fs.readFile(config, 'utf8');
    try {
      // the network moves to 127.0.0.0/24 (its range, allowed_ips and reserved server address, however the YAML spells them)
      await fs.writeFile(config, before.replace(/10\.77\.0\.0\/24/g, '127.0.0.0/24').replace(/10\.77\.0\.1\b/g, '127.0.0.254'));
      renderAndApply();
      expect(await fs.readFile(path.join(etc(), 'principals', granted), 'utf8')).toContain('from="127.0.0.0/24" carol');
      expect(certLogin(granted, 'carol', cert.file)).toBe(true);
    } finally {
      await fs.writeFile(config, before);
      renderAndApply();
    }
  }, SLOW);

  it('keys in authorized_keys keep working beside certificates', async () => {
    must('render');
    apply(true);
    try {
      expect(certLogin(granted, 'alice')).toBe(true);
    } finally {
      // the other tests prove certificates alone: no plain key may stand in for one
      await fs.writeFile(path.join('/home', granted, '.ssh', 'authorized_keys'), '');
    }
  }, SLOW);
});
