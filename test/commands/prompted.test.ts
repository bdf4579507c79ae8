/** Prompted mode through the real CLI on a pseudo-terminal: what is missing is asked for, then done. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { copyExample } from '../helpers/example.js';
import { ed25519Line } from '../helpers/keys.js';
import { runOnTerminal } from '../helpers/pty.js';

const member = async (dir: string, handle: string) => parse(await fs.readFile(path.join(dir, `keys/${handle}/member.yml`), 'utf8'));

describe('on a terminal', () => {
  it('members add asks for the name, organisation and email', async () => {
    const dir = await copyExample();
    const r = await runOnTerminal(['members', 'add', 'gina', '--dir', dir], [
      [/Full name/, 'Gina Rossi'],
      [/Organisation id/, 'agaric'],
      [/Email/, 'gina@agaric.example'],
    ]);
    expect(r.code).toBe(0);
    expect(await member(dir, 'gina')).toMatchObject({ name: 'Gina Rossi', org: 'agaric', email: 'gina@agaric.example' });
  });

  it('keys add takes a pasted key', async () => {
    const dir = await copyExample();
    const line = ed25519Line('erin@pi');
    const r = await runOnTerminal(['keys', 'add', 'erin', '--name', 'pi', '--dir', dir], [[/Paste the public key/, line]]);
    expect(r.code).toBe(0);
    expect((await member(dir, 'erin')).ssh_keys.find((k: { name: string }) => k.name === 'pi').key).toBe(line);
  });

  it('vpn join asks for the device, and warns that the config holds a private key', async () => {
    const dir = await copyExample();
    const r = await runOnTerminal(['vpn', 'join', 'frank', '--dir', dir], [[/Device name/, 'tablet']]);
    expect(r.code).toBe(0);
    expect(r.screen).toMatch(/private key/);
    expect((await member(dir, 'frank')).vpn_peers.map((p: { device: string }) => p.device)).toContain('tablet');
  });

  it('--no-input never prompts, even on a terminal: every missing flag is named', async () => {
    const dir = await copyExample();
    const r = await runOnTerminal(['members', 'add', 'ivan', '--no-input', '--org', 'hypha', '--dir', dir], []);
    expect(r.code).toBe(2);
    expect(r.screen).toContain('missing --name, --email');
  });

  it('init asks for the organisation, then the first admin, environment and grant, and makes a registry check accepts', async () => {
    const { REPO_ROOT, tempDir } = await import('../helpers/example.js');
    const dir = path.join(await tempDir('infra-u20a-pty-'), 'access');
    const r = await runOnTerminal(['init', '--dir', dir], [
      [/Organisation name/, 'Example Meet Co-op'],
      [/First admin/, 'alice'],
      [/OpenPGP public key/, path.join(REPO_ROOT, 'keys/alice/pgp.asc')],
      [/alice's groups/, ''],
      [/Full name/, 'Alice Moreau'],
      [/Organisation id/, 'hypha'],
      [/Email/, 'alice@hypha.example'],
      [/First environment/, 'production'],
      [/Inventory folder of production/, ''],
      [/Hosts of production/, 'bbb1=192.0.2.10'],
      [/First grant/, ''],
      [/On which hosts/, ''],
      [/As which remote user/, 'sysadmin'],
      [/Only from the VPN/, 'n'],
    ], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(r.screen).toContain('infra keys add alice');
    expect(parse(await fs.readFile(path.join(dir, 'infra.yml'), 'utf8'))).toMatchObject({ org: 'Example Meet Co-op', admins: ['alice'], access: [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }] });
    expect(await fs.readFile(path.join(dir, 'inventories/production/hosts.yml'), 'utf8')).toContain('bbb1');
    expect(await member(dir, 'alice')).toMatchObject({ name: 'Alice Moreau', groups: ['infra'] });
  });

  it('init --no-input on a terminal keeps the empty scaffold: no prompt', async () => {
    const { tempDir } = await import('../helpers/example.js');
    const dir = path.join(await tempDir('infra-u20a-pty-'), 'access');
    const r = await runOnTerminal(['init', '--dir', dir, '--org', 'Co-op', '--no-input'], []);
    expect(r.code).toBe(0);
    expect(r.screen).not.toContain('First admin');
    expect(parse(await fs.readFile(path.join(dir, 'infra.yml'), 'utf8'))).toMatchObject({ admins: [], access: [] });
  });
});
