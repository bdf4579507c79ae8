/**
 * `audit --live` lists, before Ansible runs, the connection settings in the inventories that run a command on
 * this machine (a group_vars ProxyCommand, even behind a merge key; an inventory's own ansible_connection:
 * local), on stderr and as medium live-runs-local-command findings; without --live nothing is listed.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LiveCollector } from '../../src/adapters/ansible-live.js';
import { runAudit } from '../../src/services/audit.js';
import { copyExample } from '../helpers/example.js';
import { testContext } from '../helpers/context.js';

const TODAY = '2026-11-29';
const GROUP_VARS = 'inventories/production/group_vars/all/connection.yml';

async function exampleWith(files: Record<string, string>): Promise<string> {
  const root = await copyExample();
  for (const [rel, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fs.writeFile(path.join(root, rel), text);
  }
  return root;
}

describe('audit --live: connection settings that run a local command', () => {
  it('are listed on stderr before the collector runs, and are medium findings', async () => {
    const root = await exampleWith({ [GROUP_VARS]: `<<: {ansible_ssh_common_args: '-o ProxyCommand="touch /tmp/pwned-%h"'}\nntp: x\n` });
    const stagingHosts = path.join(root, 'inventories/staging/hosts');
    await fs.appendFile(stagingHosts, '\n[all:vars]\nansible_connection=local\n');
    const ctx = testContext({ root, today: TODAY });
    let stderrWhenCollecting: string | undefined;
    const fake: LiveCollector = async () => {
      stderrWhenCollecting = ctx.output.stderr;
      return { live: [], dumps: [] };
    };
    const r = await runAudit(ctx, { live: true }, fake);
    expect(stderrWhenCollecting).toContain(`${GROUP_VARS}: ansible_ssh_common_args: -o ProxyCommand="touch /tmp/pwned-%h" (ssh option ProxyCommand runs a command on the controller)`);
    expect(stderrWhenCollecting).toContain('inventories/staging (group all): ansible_connection: local');
    const found = r.findings.filter((f) => f.code === 'live-runs-local-command');
    expect(found.map((f) => [f.severity, f.subject])).toEqual([
      ['medium', `production: ${GROUP_VARS}: ansible_ssh_common_args`],
      ['medium', 'staging: inventories/staging (group all): ansible_connection'],
    ]);
    expect(r.summary.medium).toBeGreaterThanOrEqual(2);
  });

  it('without --live: not listed (nothing runs)', async () => {
    const root = await exampleWith({ [GROUP_VARS]: 'ansible_ssh_executable: /tmp/fake-ssh\n' });
    const ctx = testContext({ root, today: TODAY });
    const r = await runAudit(ctx, {});
    expect(r.findings.filter((f) => f.code === 'live-runs-local-command')).toEqual([]);
    expect(ctx.output.stderr).not.toContain('ansible_ssh_executable');
  });
});
