/**
 * The whole path, with real programs: `infra render` writes the inventory, the real `ansible-inventory`
 * reads it, the shipped playbook applied by the real `ansible-playbook` writes a throwaway user's
 * authorized_keys, and a real sshd on 127.0.0.1 decides who gets in:
 * members in, a departed member out after offboard + render + playbook, a vpn_only key refused from
 * outside the VPN ranges (from= honoured), a key past `expires` refused by sshd itself (expiry-time).
 * A second user that exactly one member reaches: after that member is offboarded its list is empty, and
 * the playbook still succeeds, removes the departed key and leaves a key added by hand alone (unless
 * -e infra_allow_empty_users=true, which empties the file).
 * Every test can run alone (`jest -t NAME`): the first render and playbook run are the file's beforeAll, and each
 * later state (alice offboarded; dave offboarded beside a key added by hand) is built by its own describe's
 * beforeAll, one playbook run each, so a test never needs the one before it to have run.
 */
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mustRun, runSync } from '../helpers/program.js';
import { isRoot, requireTool } from '../helpers/real-tools.js';
import { baseConfig, keyBody, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { canLogin, createUser, removeUser, sshKeygen, startSshd, type Sshd } from '../helpers/sshd.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PLAYBOOK = path.join(REPO, 'ansible', 'apply-access.yml');

const ready =
  [
    requireTool('/usr/sbin/sshd', 'openssh-server'),
    requireTool('ssh', 'openssh-client'),
    requireTool('ssh-keygen', 'openssh-client'),
    requireTool('ansible-playbook', 'ansible'),
    requireTool('ansible-inventory', 'ansible'),
    requireTool('useradd', 'passwd'),
  ].every(Boolean) && isRoot();
const d = ready ? describe : describe.skip;

function infra(root: string, ...args: string[]) {
  return runSync(process.execPath, [path.join(REPO, 'bin', 'run.js'), ...args, '--dir', root], { env: { ...process.env, NO_COLOR: '1' }, timeoutMs: 60_000 });
}

const ansibleEnv = { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'False', ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_RETRY_FILES_ENABLED: 'False' };

d('render + apply-access.yml + a real sshd', () => {
  const user = `infra-e2e-${randomBytes(3).toString('hex')}`;
  const soloUser = `infra-solo-${randomBytes(3).toString('hex')}`; // only dave is granted it
  let tmp: string;
  let root: string;
  let home: string;
  let soloHome: string;
  let sshd: Sshd | undefined;
  const createdUsers: string[] = [];
  /** What ansible-inventory read right after the first render (before any later test changed the registry). */
  let firstInventory: ReturnType<typeof runSync>;
  const keys: Record<string, { privateKey: string; publicLine: string }> = {};

  const applyPlaybook = (...extra: string[]) => {
    return mustRun('ansible-playbook', ['-i', path.join(root, 'inventories', 'test'), PLAYBOOK, '--limit', 'testhost', '-e', 'infra_become=false', ...extra], {
      env: ansibleEnv,
      cwd: tmp,
      timeoutMs: 120_000,
    });
  };
  const login = (who: string) => canLogin(user, sshd!.port, keys[who].privateKey);
  const soloLogin = (who: string) => canLogin(soloUser, sshd!.port, keys[who].privateKey);
  const soloKeysFile = () => path.join(soloHome, '.ssh', 'authorized_keys');

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-e2e-'));
    home = createUser(user, () => createdUsers.push(user));
    soloHome = createUser(soloUser, () => createdUsers.push(soloUser));
    for (const name of ['alice', 'bob', 'bob-old', 'carol', 'dave', 'by-hand']) keys[name] = await sshKeygen(tmp, name);
    const wgServerKey = Buffer.from(generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString('base64');
    root = await makeRegistry(
      {
        config: baseConfig({
          environments: { test: 'inventories/test' },
          access: [
            { groups: ['infra'], hosts: 'all', user },
            { groups: ['meet-tech'], hosts: 'testhost', user, vpn_only: true },
            { groups: ['solo'], hosts: 'testhost', user: soloUser },
          ],
          vpn: {
            meet: {
              ipv4: '10.77.0.0/24',
              ipv6: 'fd77:77::/64',
              endpoint: 'vpn.example.org:51820',
              server_public_key: wgServerKey,
              reserved: ['10.77.0.1', 'fd77:77::1'],
              allowed_ips: ['10.77.0.0/24', 'fd77:77::/64'],
              servers: 'vpnhost',
            },
          },
        }),
        members: {
          alice: memberData('alice', { groups: ['infra'], ssh_keys: [{ name: 'laptop', key: keys.alice.publicLine, added: '2026-01-01' }] }),
          bob: memberData('bob', {
            groups: ['infra'],
            ssh_keys: [
              { name: 'laptop', key: keys.bob.publicLine, added: '2026-01-01' },
              { name: 'old', key: keys['bob-old'].publicLine, added: '2019-01-01', expires: '2020-01-01' },
            ],
          }),
          carol: memberData('carol', { groups: ['meet-tech'], ssh_keys: [{ name: 'laptop', key: keys.carol.publicLine, added: '2026-01-01' }] }),
          dave: memberData('dave', { groups: ['solo'], ssh_keys: [{ name: 'laptop', key: keys.dave.publicLine, added: '2026-01-01' }] }),
        },
        files: {
          'inventories/test/hosts.yml': [
            'all:',
            '  hosts:',
            '    testhost:',
            '      ansible_connection: local',
            '      ansible_python_interpreter: /usr/bin/python3',
            '    vpnhost:',
            '      ansible_connection: local',
            '',
          ].join('\n'),
        },
      },
      path.join(tmp, 'registry'),
    );
    sshd = await startSshd([user, soloUser]);
    const rendered = infra(root, 'render', '--json');
    if (rendered.code !== 0) throw new Error(`infra render failed (${rendered.code}): ${rendered.stdout}${rendered.stderr}`);
    firstInventory = runSync('ansible-inventory', ['-i', path.join(root, 'inventories', 'test'), '--list'], { env: ansibleEnv, timeoutMs: 60_000 });
    applyPlaybook();
  }, 240000);

  afterAll(async () => {
    await sshd?.stop();
    for (const name of createdUsers) removeUser(name);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  // Built by hand from docs/reference.md, "Render" and the keys ssh-keygen made: comment handle/key, options infra adds only.
  const expectedLines = () => [
    `${keyBody(keys.alice.publicLine)} alice/laptop`,
    `${keyBody(keys.bob.publicLine)} bob/laptop`,
    `expiry-time="20200101" ${keyBody(keys['bob-old'].publicLine)} bob/old`,
    `from="10.77.0.0/24,fd77:77::/64" ${keyBody(keys.carol.publicLine)} carol/laptop`,
  ];

  it('ansible-inventory reads the rendered variables for each host', () => {
    const r = firstInventory;
    expect(r.code).toBe(0);
    const hostvars = JSON.parse(r.stdout)._meta.hostvars;
    expect(hostvars.testhost.infra_authorized_keys).toEqual({ [user]: expectedLines(), [soloUser]: [`${keyBody(keys.dave.publicLine)} dave/laptop`] });
    expect(hostvars.testhost.infra_revoked_keys).toEqual({});
    expect(hostvars.testhost.ansible_connection).toBe('local'); // hand-written vars are still there
    expect(hostvars.vpnhost.infra_wireguard_peers).toEqual({ meet: [] });
  });

  it('the playbook writes exactly the granted lines, and members get in', async () => {
    const written = (await fs.readFile(path.join(home, '.ssh', 'authorized_keys'), 'utf8')).split('\n').filter(Boolean);
    expect(written.map((l) => /ssh-ed25519 \S+/.exec(l)?.[0]).sort()).toEqual(['alice', 'bob', 'bob-old', 'carol'].map((k) => keyBody(keys[k].publicLine)).sort());
    expect(written.find((l) => l.includes(keyBody(keys.carol.publicLine)))).toMatch(/^from="10\.77\.0\.0\/24,fd77:77::\/64" /);
    expect(written.find((l) => l.includes(keyBody(keys['bob-old'].publicLine)))).toMatch(/^expiry-time="20200101" /);
    expect(login('alice')).toMatchObject({ ok: true });
    expect(login('bob')).toMatchObject({ ok: true });
    expect((await fs.readFile(soloKeysFile(), 'utf8')).split('\n').filter(Boolean)).toEqual([`${keyBody(keys.dave.publicLine)} dave/laptop`]);
    expect(soloLogin('dave')).toMatchObject({ ok: true });
  }, 180000);

  it('a vpn_only key is refused from 127.0.0.1: sshd honours from=', async () => {
    expect(login('carol').ok).toBe(false);
    const because = /correct key but not from a permitted host.*ip=127\.0\.0\.1/;
    expect(await sshd!.waitForLog(because)).toBe(true);
  });

  it('a key past its expires date is refused by sshd (expiry-time)', async () => {
    expect(login('bob-old').ok).toBe(false);
    expect(await sshd!.waitForLog(/entry expired at/)).toBe(true);
  });

  it('rendering again changes nothing', () => {
    const again = infra(root, 'render', '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ written: [], removed: [], unchanged: 2 });
  });

  describe('alice offboarded', () => {
    let off: ReturnType<typeof runSync>;
    let rendered: ReturnType<typeof runSync>;
    beforeAll(() => {
      off = infra(root, 'members', 'offboard', 'alice', '--date', '2026-06-01', '--no-input', '--json');
      rendered = infra(root, 'render', '--json');
      if (off.code === 0 && rendered.code === 0) applyPlaybook();
    }, 180000);

    it('after offboard + render + playbook, the departed member is refused and the others still get in', async () => {
      expect(off.code).toBe(0);
      expect(rendered.code).toBe(0);
      // both hosts: `all` reached them, so alice's key is now revoked on both
      expect(JSON.parse(rendered.stdout).written).toEqual(['inventories/test/host_vars/testhost/infra.generated.yml', 'inventories/test/host_vars/vpnhost/infra.generated.yml']);
      const written = await fs.readFile(path.join(home, '.ssh', 'authorized_keys'), 'utf8');
      expect(written).not.toContain(keyBody(keys.alice.publicLine).split(' ')[1]);
      expect(login('alice').ok).toBe(false);
      expect(login('bob').ok).toBe(true);
      const inv = runSync('ansible-inventory', ['-i', path.join(root, 'inventories', 'test'), '--host', 'testhost'], { env: ansibleEnv, timeoutMs: 60_000 });
      expect(JSON.parse(inv.stdout).infra_revoked_keys).toEqual({ [user]: [`${keyBody(keys.alice.publicLine)} alice/laptop`] });
    }, 180000);
  });

  describe("dave, the solo user's only member, offboarded beside a key added by hand", () => {
    let byHandLine: string;
    let byHandInBefore: boolean;
    let off: ReturnType<typeof runSync>;
    let renderCode: number | null;
    let inv: ReturnType<typeof runSync>;
    beforeAll(async () => {
      // Someone put a key there by hand since the last run; an exclusive call would wipe it.
      byHandLine = keys['by-hand'].publicLine;
      await fs.appendFile(soloKeysFile(), `${byHandLine}\n`);
      byHandInBefore = soloLogin('by-hand').ok;
      off = infra(root, 'members', 'offboard', 'dave', '--date', '2026-06-01', '--no-input', '--json');
      renderCode = infra(root, 'render', '--json').code;
      inv = runSync('ansible-inventory', ['-i', path.join(root, 'inventories', 'test'), '--host', 'testhost'], { env: ansibleEnv, timeoutMs: 60_000 });
      applyPlaybook(); // throws with ansible's output when the run fails
    }, 180000);

    it("offboarding a user's only member: the playbook succeeds, the departed key goes, a key added by hand stays", async () => {
      expect(byHandInBefore).toBe(true);
      expect(off.code).toBe(0);
      expect(renderCode).toBe(0);
      const vars = JSON.parse(inv.stdout);
      expect(vars.infra_authorized_keys[soloUser]).toEqual([]);
      expect(vars.infra_revoked_keys[soloUser]).toEqual([`${keyBody(keys.dave.publicLine)} dave/laptop`]);

      const written = (await fs.readFile(soloKeysFile(), 'utf8')).split('\n').filter(Boolean);
      expect(written).toEqual([byHandLine]);
      expect(soloLogin('dave').ok).toBe(false);
      expect(soloLogin('by-hand').ok).toBe(true);
      expect(login('bob').ok).toBe(true); // the other user's file was still written as before
    }, 180000);

    describe('then the playbook with -e infra_allow_empty_users=true', () => {
      beforeAll(() => {
        applyPlaybook('-e', 'infra_allow_empty_users=true');
      }, 180000);

      it('with -e infra_allow_empty_users=true, the empty list empties that authorized_keys', async () => {
        expect((await fs.readFile(soloKeysFile(), 'utf8')).trim()).toBe('');
        expect(soloLogin('by-hand').ok).toBe(false);
        expect(login('bob').ok).toBe(true);
      }, 180000);
    });
  });
});
