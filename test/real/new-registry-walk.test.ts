/**
 * From an empty folder to a host that Ansible sees with the member's key, with no hand edit: init → env →
 * member → admin → grant → network → key → device → render → check → audit, then the real
 * `ansible-inventory --host` reads the rendered inventory.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { spawnCli } from '../helpers/cli.js';
import { REPO_ROOT, tempDir } from '../helpers/example.js';
import { ed25519Line } from '../helpers/keys.js';
import { requireTool } from '../helpers/real-tools.js';

const SERVER_KEY = 'QsYq4yARL4YyaJLcm/zwkAnSSm5p+SQ/AE3KJduyGlo=';
const withAnsible = requireTool('ansible-inventory', 'ansible') ? describe : describe.skip;

function ansibleHost(inventory: string, host: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile('ansible-inventory', ['-i', inventory, '--host', host], { timeout: 60_000, killSignal: 'SIGKILL', env: { ...process.env, ANSIBLE_NOCOLOR: '1' } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`ansible-inventory --host ${host}: ${stderr || error.message}`));
      else resolve(JSON.parse(stdout) as Record<string, unknown>);
    });
  });
}

withAnsible('a new registry, by commands only', () => {
  it('ends with a host whose Ansible variables hold the member’s key, and an audit with no no-access', async () => {
    const outside = await tempDir('infra-walk-outside-');
    const dir = path.join(await tempDir('infra-walk-'), 'access');
    const key = ed25519Line('gina@laptop');
    await fs.writeFile(path.join(outside, 'gina.pub'), `${key}\n`);
    const infra = async (...args: string[]) => {
      const r = await spawnCli([...args, '--dir', dir], { cwd: outside });
      if (r.code !== 0) throw new Error(`infra ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
      return r;
    };
    await infra('init', '--org', 'Walk Co-op', '--no-input');
    await infra('env', 'add', 'production', 'inventories/production', '--host', 'bbb1=192.0.2.10', '--host', 'vpn1=192.0.2.11');
    await infra('members', 'add', 'gina', '--name', 'Gina Rossi', '--org', 'agaric', '--email', 'gina@agaric.example', '--groups', 'infra', '--pgp', path.join(REPO_ROOT, 'keys/alice/pgp.asc'));
    await infra('admins', 'add', 'gina');
    await infra('grants', 'add', '--groups', 'infra', '--hosts', 'all', '--user', 'sysadmin');
    await infra('vpn', 'network', 'add', 'meet', '--ipv4', '10.77.0.0/24', '--endpoint', 'vpn.example.org:51820', '--servers', 'vpn1', '--server-public-key', SERVER_KEY);
    await infra('keys', 'add', 'gina', path.join(outside, 'gina.pub'), '--name', 'laptop');
    await infra('vpn', 'join', 'gina', '--device', 'laptop', '--out', path.join(outside, 'gina-laptop.conf'));
    await infra('render');
    await infra('check');

    const audit = JSON.parse((await spawnCli(['audit', '--format', 'json', '--dir', dir], { cwd: outside })).stdout);
    expect(audit.findings.filter((f: { code: string }) => ['no-access', 'invalid-registry', 'stale-render'].includes(f.code))).toEqual([]);
    expect(audit.access).toContainEqual(expect.objectContaining({ environment: 'production', host: 'bbb1', user: 'sysadmin', members: ['gina'] }));

    const bbb1 = await ansibleHost(path.join(dir, 'inventories/production'), 'bbb1');
    const lines = (bbb1.infra_authorized_keys as Record<string, string[]>).sysadmin;
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(key.split(' ').slice(0, 2).join(' '));
    const vpn1 = await ansibleHost(path.join(dir, 'inventories/production'), 'vpn1');
    expect((vpn1.infra_wireguard_peers as Record<string, Array<{ name: string }>>).meet.map((p) => p.name)).toEqual(['gina/laptop']);

    // every step was a command: infra.yml holds what they wrote, and the device's private key stayed outside
    const config = parse(await fs.readFile(path.join(dir, 'infra.yml'), 'utf8'));
    expect(config.admins).toEqual(['gina']);
    expect(config.access).toEqual([{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }]);
    expect(Object.keys(config.vpn)).toEqual(['meet']);
    expect((await fs.stat(path.join(outside, 'gina-laptop.conf'))).mode & 0o777).toBe(0o600);
  }, 300_000); // a dozen CLI processes and two Ansible runs, one after another
});
