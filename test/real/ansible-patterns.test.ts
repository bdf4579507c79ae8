/**
 * Host patterns and inventory parsing compared with the real Ansible: every expected value here is what
 * `ansible --list-hosts` (all patterns at once through the Ansible call behind it, cross-checked) and
 * `ansible-inventory --list` print for the fixture inventories, never what infra computes.
 * Order is compared exactly (the fixtures keep Ansible's order well defined: see hostsOfGroup).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTool } from '../helpers/real-tools.js';
import { runProgram } from '../../src/adapters/run-program.js';
import { InfraError } from '../../src/lib/errors.js';
import { loadInventory } from '../../src/adapters/inventory-files.js';
import { resolvePattern } from '../../src/core/host-pattern.js';
import type { Inventory } from '../../src/core/inventory.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'inventories');

const INVENTORIES = {
  yaml: 'meet-yaml/hosts.yml', // YAML: nesting three deep, hosts in several groups, ansible_host, a host under all:
  ini: 'hypha-ini/hosts', // INI, Hypha's style: FQDNs, [a:b] ranges, [group:children] declared before its children
  folder: 'merged', // a folder holding both an INI hosts and a hosts.yml, merged as Ansible merges them
} as const;

const PATTERNS = [
  'all',
  '*',
  'bbb',
  'bbb:&production',
  'bbb:&prod',
  'all:!bbb',
  '!bbb',
  'bbb*',
  'web:db:&prod:!web2',
  'web:db:&production:!web2',
  '~bbb[0-9]+',
  'web2',
  'ungrouped',
  'db:web',
  'web,db',
  'staging:bots',
  'monitoring:&bbb',
  'prod:!monitoring',
  'production:&bbb*',
  'bbb_new',
  'b?b',
  '[bw]*',
  'al*',
  'ungr*',
  'bbb[0]',
  'bbb[-1]',
  'bbb[1:]',
  'bbb[0:1]',
  'bbb*[6]',
  'bbb[9]',
  '~.*\\.meet\\.coop',
  'frontends:lonely.example.coop',
  // Ansible applies plain terms, then &, then ! — whatever order they are written in
  '!web2:web',
  'web:!web2:web2',
  '&staging:bbb*:web3',
  'nosuchgroup',
  'web:nosuchgroup',
];

const ansibleEnv = {
  ...process.env,
  ANSIBLE_LOCALHOST_WARNING: 'False',
  ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False',
  ANSIBLE_NOCOLOR: '1',
  ANSIBLE_LOCAL_TEMP: mkdtempSync(path.join(tmpdir(), 'infra-ansible-')),
};

const ANSIBLE_TIMEOUT_MS = 120_000;

async function ansibleListHosts(inventory: string, pattern: string): Promise<string[]> {
  const r = await runProgram('ansible', ['-i', inventory, pattern, '--list-hosts'], { env: ansibleEnv, timeoutMs: ANSIBLE_TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`ansible --list-hosts ${pattern} exited ${r.code}:\n${r.stderr}`);
  const { stdout } = r;
  const lines = stdout.split('\n');
  const header = lines.findIndex((l) => /^\s*hosts \(\d+\):$/.test(l));
  if (header < 0) throw new Error(`unexpected ansible output for ${pattern}:\n${stdout}`);
  const count = Number(/\((\d+)\)/.exec(lines[header])![1]);
  return lines.slice(header + 1, header + 1 + count).map((l) => l.trim());
}

/**
 * Every pattern's hosts in one Python process per inventory: the code `ansible PATTERN --list-hosts` runs
 * (InventoryManager.list_hosts; an AnsibleError, e.g. a subscript past the end, lists no hosts), without an
 * Ansible start per pattern (about a second of CPU each). Ansible's own Python, from the `ansible` script.
 */
const LIST_HOSTS_PY = `
import json, sys
from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
inventory = InventoryManager(loader=DataLoader(), sources=[sys.argv[1]])
out = []
for pattern in json.load(sys.stdin):
    try:
        out.append([str(h) for h in inventory.list_hosts(pattern)])
    except AnsibleError:
        out.append([])
print(json.dumps(out))
`;
async function ansibleListHostsOfEach(inventory: string, patterns: readonly string[]): Promise<string[][]> {
  const ansibleScript = (await runProgram('sh', ['-c', 'command -v ansible'])).stdout.trim();
  const python = readFileSync(ansibleScript, 'utf8').split('\n')[0].replace(/^#!\s*/, '').trim().split(/\s+/);
  const r = await runProgram(python[0], [...python.slice(1), '-c', LIST_HOSTS_PY, inventory], { input: JSON.stringify(patterns), env: ansibleEnv, timeoutMs: ANSIBLE_TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`listing hosts with Ansible's InventoryManager failed (${r.code}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function inParallel<T>(jobs: (() => Promise<T>)[], width = 8): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  return results;
}

const d = requireTool('ansible', 'ansible') ? describe : describe.skip;

d('host patterns resolve to what `ansible --list-hosts` lists', () => {
  const expected = new Map<string, string[]>();
  const ours = new Map<string, Inventory>();

  beforeAll(async () => {
    for (const inv of Object.values(INVENTORIES)) {
      const lists = await ansibleListHostsOfEach(path.join(fixtures, inv), PATTERNS);
      PATTERNS.forEach((pattern, i) => expected.set(`${inv} ${pattern}`, lists[i]));
    }
    for (const inv of Object.values(INVENTORIES)) ours.set(inv, await loadInventory(path.join(fixtures, inv), inv));
  }, 300_000);

  const table = Object.entries(INVENTORIES).flatMap(([kind, inv]) => PATTERNS.map((pattern) => [kind, inv, pattern] as const));

  it.each(table)('%s inventory (%s), pattern %s', (_kind, inv, pattern) => {
    expect(resolvePattern(pattern, ours.get(inv)!, { strict: false })).toEqual(expected.get(`${inv} ${pattern}`));
  });

  it('the table is not degenerate: most patterns list hosts, several differ from `all`', () => {
    const nonEmpty = [...expected.values()].filter((hosts) => hosts.length > 0).length;
    expect(nonEmpty).toBeGreaterThan(table.length / 2);
    for (const inv of Object.values(INVENTORIES)) {
      const all = expected.get(`${inv} all`)!.join();
      const distinct = new Set(PATTERNS.map((p) => expected.get(`${inv} ${p}`)!.join()).filter((s) => s !== all && s !== ''));
      expect(distinct.size).toBeGreaterThanOrEqual(8);
    }
  });

  it('the batch lists exactly what `ansible PATTERN --list-hosts` prints, order included', async () => {
    const sample = ['all', 'web,db', '&staging:bbb*:web3', 'bbb[9]'];
    const cases = Object.values(INVENTORIES).flatMap((inv) => sample.map((pattern) => ({ inv, pattern })));
    const printed = await inParallel(cases.map(({ inv, pattern }) => () => ansibleListHosts(path.join(fixtures, inv), pattern)), 4);
    expect(cases.map(({ inv, pattern }, i) => [inv, pattern, printed[i]])).toEqual(cases.map(({ inv, pattern }) => [inv, pattern, expected.get(`${inv} ${pattern}`)]));
  }, 180_000);

  it('hostOrder is the order Ansible lists `all` in', () => {
    for (const inv of Object.values(INVENTORIES)) expect(ours.get(inv)!.hostOrder).toEqual(expected.get(`${inv} all`));
  });
});

d('inventories parse into the groups `ansible-inventory --list` reports', () => {
  it.each(Object.entries(INVENTORIES))('%s inventory (%s)', async (_kind, inv) => {
    const listed = await runProgram('ansible-inventory', ['-i', path.join(fixtures, inv), '--list'], { env: ansibleEnv, timeoutMs: ANSIBLE_TIMEOUT_MS });
    expect(listed.code).toBe(0);
    const { stdout } = listed;
    const { _meta: meta, ...groups } = JSON.parse(stdout) as Record<string, unknown>;
    const hostvars = (meta as { hostvars: Record<string, Record<string, unknown>> }).hostvars;
    const ansibleGroups: Record<string, { hosts: string[]; children: string[] }> = {};
    for (const [name, group] of Object.entries(groups as Record<string, { hosts?: string[]; children?: string[] }>)) {
      ansibleGroups[name] = { hosts: group.hosts ?? [], children: group.children ?? [] };
    }

    const inventory = await loadInventory(path.join(fixtures, inv), inv);
    const oursGroups: Record<string, { hosts: string[]; children: string[] }> = {};
    for (const [name, group] of inventory.groups) {
      // ansible-inventory leaves out groups with neither hosts nor children, and never lists hosts under `all`
      const hosts = name === 'all' ? [] : [...group.hosts];
      if (hosts.length === 0 && group.children.size === 0) continue;
      oursGroups[name] = { hosts, children: [...group.children] };
    }
    expect(oursGroups).toEqual(ansibleGroups);

    // _meta.hostvars leaves out hosts without variables; the groups name every host
    const ansibleHosts = new Set(Object.values(ansibleGroups).flatMap((g) => g.hosts));
    expect([...inventory.hosts.keys()].sort()).toEqual([...ansibleHosts].sort());
    for (const [host, vars] of Object.entries(hostvars)) {
      for (const key of ['ansible_host', 'ansible_port']) {
        // these fixtures set both only on hosts, so Ansible's merged hostvars show the host's own value
        expect([host, key, inventory.hosts.get(host)!.vars[key]]).toEqual([host, key, vars[key]]);
      }
    }
  });
});

describe('loadInventory (files on disk; needs no ansible)', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'infra-inv-'));

  it('names the missing folder and the environment that points at it', async () => {
    const error = await loadInventory(path.join(root, 'inventories', 'staging'), 'inventories/staging', 'staging').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfraError);
    expect((error as InfraError).exitCode).toBe(3);
    expect((error as InfraError).message).toBe('inventory folder inventories/staging does not exist (environments.staging in infra.yml)');
    expect((error as InfraError).hint).toContain('inventories/staging/hosts.yml');
  });

  it('refuses a folder with no inventory file in it', async () => {
    mkdirSync(path.join(root, 'empty'));
    await expect(loadInventory(path.join(root, 'empty'), 'inventories/empty')).rejects.toThrow(/has no hosts.yml, hosts.yaml or INI hosts file/);
  });

  it('reports a parse error with the displayed path and line', async () => {
    mkdirSync(path.join(root, 'broken'));
    writeFileSync(path.join(root, 'broken', 'hosts'), '[web]\nweb1\n[web:kids]\n');
    await expect(loadInventory(path.join(root, 'broken'), 'inventories/broken')).rejects.toThrow(/^inventories\/broken\/hosts:3: /);
  });

  it('reads a hosts file given directly, and a YAML file named hosts as YAML', async () => {
    writeFileSync(path.join(root, 'hosts'), 'all:\n  children:\n    bbb:\n      hosts:\n        bbb1:\n');
    const inv = await loadInventory(path.join(root, 'hosts'), 'hosts');
    expect([...inv.groups.get('bbb')!.hosts]).toEqual(['bbb1']);
  });
});
