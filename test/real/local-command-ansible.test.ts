/**
 * The connection settings `audit --live` lists (core/local-command-vars.ts) really run a command on the
 * controller under the real Ansible: a group_vars file hiding `ansible_ssh_common_args: -o ProxyCommand=…`
 * behind a merge key, and `ansible_ssh_executable`, each make `ansible -m ping` run a local program (a
 * marker file appears); infra lists exactly those settings, with the hosts they apply to.
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadInventory } from '../../src/adapters/inventory-files.js';
import { connectionSources } from '../../src/adapters/vars-files.js';
import { localCommandSettings } from '../../src/core/local-command-vars.js';
import { runSync } from '../helpers/program.js';
import { requireTool } from '../helpers/real-tools.js';

const haveAnsible = requireTool('ansible', 'ansible');

(haveAnsible ? describe : describe.skip)('connection settings that run a local command, under the real Ansible', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-localcmd-'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it.each([
    ['a ProxyCommand behind a merge key in group_vars', 'group_vars/web/conn.yml', (marker: string) => `<<: {ansible_ssh_common_args: '-o ProxyCommand="touch ${marker}; false"'}\nntp: x\n`, 'ansible_ssh_common_args'],
    ['an ssh executable in host_vars', 'host_vars/web1.yml', (marker: string) => `ansible_ssh_executable: ${marker}.sh\n`, 'ansible_ssh_executable'],
  ])('%s: Ansible runs it, infra lists it', async (name, rel, content, variable) => {
    const inv = path.join(tmp, name.replace(/\W+/g, '-'));
    const marker = path.join(inv, 'ran');
    await fs.mkdir(path.join(inv, path.dirname(rel)), { recursive: true });
    await fs.writeFile(path.join(inv, 'hosts.yml'), 'all:\n  children:\n    web:\n      hosts:\n        web1:\n          ansible_host: 192.0.2.1\n');
    await fs.writeFile(path.join(inv, rel), content(marker));
    await fs.writeFile(`${marker}.sh`, `#!/bin/sh\ntouch ${marker}\nexit 255\n`, { mode: 0o755 });

    const settings = localCommandSettings(await connectionSources(inv, '.', await loadInventory(inv, 'inv'), 'inv'));
    expect(settings.map((s) => [s.where, s.variable, s.hosts])).toEqual([[rel, variable, ['web1']]]);

    expect(existsSync(marker)).toBe(false);
    const env = { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_LOCAL_TEMP: path.join(tmp, 'ansible-tmp'), ANSIBLE_TIMEOUT: '5', ANSIBLE_CONFIG: path.join(tmp, 'none.cfg') };
    const r = runSync('ansible', ['-i', inv, 'web1', '-m', 'ansible.builtin.ping'], { env, cwd: tmp, timeoutMs: 60_000 });
    expect(r.code).not.toBe(0); // it cannot connect: the command ran instead
    expect(existsSync(marker)).toBe(true);
  });
});
