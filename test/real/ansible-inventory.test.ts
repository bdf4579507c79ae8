/**
 * The real `ansible-inventory --list` reads what render writes, over the repository's example registry
 * (a YAML inventory for production, an INI `hosts` file for staging): every rendered host shows the
 * variables, with the same values as the file, next to the hand-written ones.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { inspectInventories, previousRenders } from '../../src/adapters/inventories.js';
import { loadRegistry } from '../../src/adapters/registry-load.js';
import { writeFileAtomic } from '../../src/adapters/atomic-write.js';
import { planRender } from '../../src/core/render.js';
import { runSync } from '../helpers/program.js';
import { requireTool } from '../helpers/real-tools.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const d = requireTool('ansible-inventory', 'ansible') ? describe : describe.skip;

d('ansible-inventory reads rendered inventories', () => {
  let root: string;
  let files: Map<string, string>;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-ansinv-'));
    for (const part of ['infra.yml', 'keys', 'inventories']) await fs.cp(path.join(REPO, part), path.join(root, part), { recursive: true });
    // start from nothing generated, whatever the checkout holds
    for (const env of ['production', 'staging']) await fs.rm(path.join(root, 'inventories', env, 'host_vars'), { recursive: true, force: true });
    const loaded = await loadRegistry(root);
    const { inventories, folders, problems } = await inspectInventories(loaded);
    expect(problems).toEqual([]);
    const plan = planRender(loaded.registry, inventories, await previousRenders(root, Object.values(loaded.registry.config.environments)), { inventoryFolders: folders });
    for (const [rel, text] of plan.files) await writeFileAtomic(path.join(root, rel), text);
    files = plan.files;
  });

  afterAll(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const list = (env: string) => {
    const r = runSync('ansible-inventory', ['-i', path.join(root, 'inventories', env), '--list'], { env: { ...process.env, ANSIBLE_NOCOLOR: '1' }, timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout)._meta.hostvars as Record<string, Record<string, unknown>>;
  };

  it.each(['production', 'staging'])('%s: every rendered host shows the variables of its file', (env) => {
    const hostvars = list(env);
    const rendered = [...files.keys()].filter((f) => f.startsWith(`inventories/${env}/`));
    expect(rendered.length).toBeGreaterThan(0);
    for (const rel of rendered) {
      const host = rel.split('/')[3];
      const expected = parse(files.get(rel)!);
      for (const [k, v] of Object.entries(expected)) expect([host, k, hostvars[host]?.[k]]).toEqual([host, k, v]);
    }
  });

  it('production (YAML): what Ansible sees matches the grants, and hand-written vars stay', () => {
    const bbb1 = list('production').bbb1 as Record<string, any>;
    expect(bbb1.ansible_host).toBe('192.0.2.11');
    const lines: string[] = bbb1.infra_authorized_keys.sysadmin;
    expect(lines.some((l) => l.endsWith(' alice/laptop'))).toBe(true);
    // the BBB team only from the VPN on production
    expect(lines.filter((l) => l.endsWith(' bob/laptop'))).toEqual([expect.stringMatching(/^from="10\.77\.0\.0\/24,fd77:77::\/64" /)]);
    expect(bbb1.infra_revoked_keys.sysadmin.some((l: string) => l.endsWith(' carol/laptop'))).toBe(true);
    const vpn1 = list('production').vpn1 as Record<string, any>;
    const peers = vpn1.infra_wireguard_peers.meet.map((p: { name: string }) => p.name);
    expect(peers).toContain('alice/laptop');
    expect(peers).not.toContain('carol/laptop'); // departed
  });

  it('staging (INI): bbb-staging1 and 2 from the range get the staging grant without from=', () => {
    const hostvars = list('staging');
    for (const host of ['bbb-staging1', 'bbb-staging2']) {
      const lines: string[] = (hostvars[host] as any).infra_authorized_keys.sysadmin;
      expect(lines.filter((l) => l.endsWith(' bob/laptop'))).toEqual([expect.stringMatching(/^ssh-/)]);
    }
    expect((hostvars['vpn-staging'] as any).ansible_host).toBe('192.0.2.102');
  });

  it('staging named by its INI file (environments.staging: inventories/staging/hosts): `-i` that file sees the same variables', async () => {
    const fileRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-ansinv-file-'));
    try {
      for (const part of ['infra.yml', 'keys', 'inventories']) await fs.cp(path.join(root, part), path.join(fileRoot, part), { recursive: true });
      await fs.rm(path.join(fileRoot, 'inventories', 'staging', 'host_vars'), { recursive: true, force: true });
      const yml = await fs.readFile(path.join(fileRoot, 'infra.yml'), 'utf8');
      const pointed = yml.replace(/^( {2}staging: )inventories\/staging\b/m, '$1inventories/staging/hosts');
      expect(pointed).not.toBe(yml);
      await fs.writeFile(path.join(fileRoot, 'infra.yml'), pointed);

      const loaded = await loadRegistry(fileRoot);
      const { inventories, folders, problems } = await inspectInventories(loaded);
      expect(problems).toEqual([]);
      expect(folders.staging).toBe('inventories/staging');
      const plan = planRender(loaded.registry, inventories, await previousRenders(fileRoot, ['inventories/staging/hosts']), { environments: ['staging'], inventoryFolders: folders });
      for (const [rel, text] of plan.files) await writeFileAtomic(path.join(fileRoot, rel), text);
      // the same files as when staging names its folder
      const viaFolder = [...files].filter(([rel]) => rel.startsWith('inventories/staging/'));
      expect([...plan.files]).toEqual(viaFolder);

      const r = runSync('ansible-inventory', ['-i', path.join(fileRoot, 'inventories/staging/hosts'), '--list'], { env: { ...process.env, ANSIBLE_NOCOLOR: '1' }, timeoutMs: 60_000 });
      expect(r.code).toBe(0);
      const hostvars = JSON.parse(r.stdout)._meta.hostvars as Record<string, Record<string, unknown>>;
      for (const [rel, text] of plan.files) {
        const host = rel.split('/')[3];
        for (const [k, v] of Object.entries(parse(text))) expect([host, k, hostvars[host]?.[k]]).toEqual([host, k, v]);
      }
      // re-rendering over what was written changes nothing
      const again = planRender(loaded.registry, inventories, await previousRenders(fileRoot, ['inventories/staging/hosts']), { environments: ['staging'], inventoryFolders: folders });
      expect(again.unchanged).toBe(plan.files.size);
      expect(again.remove).toEqual([]);
    } finally {
      await fs.rm(fileRoot, { recursive: true, force: true });
    }
  });
});
