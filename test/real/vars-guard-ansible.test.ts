/**
 * The override guard against the real `ansible-inventory` (ansible-core 2.14): for every vars-file form in
 * the table, infra's verdict on "does this define an infra_* variable for host X" (which files Ansible loads
 * for X, see adapters/vars-files.ts, each read by core/vars-file.ts) equals what Ansible shows for X; and a
 * form infra cannot read is one Ansible either fails on or reads (so infra must refuse it, never skip it).
 *
 * The playbooks' own host_vars/ and group_vars/ are in the table too (`--playbook-dir`).
 * Forms Ansible reads share one inventory (one host per form) and one `ansible-inventory --list`; forms
 * Ansible fails on each get `ansible-inventory --host X`, which loads only X's files, run a few at a time.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadInventory } from '../../src/adapters/inventory-files.js';
import { runProgram } from '../../src/adapters/run-program.js';
import { varsFilesForHost } from '../../src/adapters/vars-files.js';
import type { Inventory } from '../../src/core/inventory.js';
import { readVarsFile } from '../../src/core/vars-file.js';
import { mustRun } from '../helpers/program.js';
import { requireTool } from '../helpers/real-tools.js';

const haveAnsible = [requireTool('ansible-inventory', 'ansible'), requireTool('ansible-vault', 'ansible')].every(Boolean);

const KEYS = "{sysadmin: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMallory mallory/laptop']}";
const aliases150 = `x: &x {a: 1}\n${Array.from({ length: 150 }, (_, i) => `v${i}: *x`).join('\n')}\ninfra_authorized_keys: *x\n`;

/** {h} is the row's host, {g} its group; paths are under the inventory folder. */
interface Row {
  id: string;
  files: Record<string, string | Buffer>;
  /** What Ansible does with it, as we expect (the comparison with the real run is the proof). */
  ansible: 'defines' | 'none' | 'fails';
}

const ROWS: Row[] = [
  { id: 'plain', files: { 'host_vars/{h}/a.yml': `infra_authorized_keys: ${KEYS}\n` }, ansible: 'defines' },
  { id: 'merge_map', files: { 'host_vars/{h}/zz-tuning.yml': `<<: {infra_authorized_keys: ${KEYS}}\nbbb_tuning: 1\n` }, ansible: 'defines' },
  { id: 'merge_alias', files: { 'host_vars/{h}/a.yml': `base: &b {infra_authorized_keys: ${KEYS}}\n<<: *b\n` }, ansible: 'defines' },
  { id: 'merge_list', files: { 'host_vars/{h}/a.yml': `a: &a {x: 1}\nb: &b {infra_revoked_keys: {}}\n<<: [*a, *b]\n` }, ansible: 'defines' },
  { id: 'merge_nested', files: { 'host_vars/{h}/a.yml': `a: &a {<<: {infra_authorized_keys: ${KEYS}}}\n<<: *a\n` }, ansible: 'defines' },
  { id: 'merge_tagged', files: { 'host_vars/{h}/a.yml': `a: &a {infra_authorized_keys: ${KEYS}}\n!!merge anything: *a\n` }, ansible: 'defines' },
  { id: 'merge_block', files: { 'host_vars/{h}/a.yml': `<<:\n  infra_wireguard_peers: {}\nother: 1\n` }, ansible: 'defines' },
  { id: 'merge_quoted_is_not_merge', files: { 'host_vars/{h}/a.yml': `"<<": {infra_authorized_keys: {}}\n` }, ansible: 'none' },
  { id: 'merge_overridden', files: { 'host_vars/{h}/a.yml': `<<: {infra_authorized_keys: {}}\ninfra_authorized_keys: ${KEYS}\n` }, ansible: 'defines' },
  { id: 'nested_key_only', files: { 'host_vars/{h}/a.yml': `outer: {infra_authorized_keys: {}}\n` }, ansible: 'none' },
  { id: 'quoted_keys', files: { 'host_vars/{h}/a.yml': `"infra_authorized_keys": {}\n'infra_revoked_keys': {}\n` }, ansible: 'defines' },
  { id: 'escaped_key', files: { 'host_vars/{h}/a.yml': `"infra\\u005fauthorized_keys": ${KEYS}\n` }, ansible: 'defines' },
  { id: 'nbsp_escape_is_other', files: { 'host_vars/{h}/a.yml': `"infra\\_authorized_keys": {}\n` }, ansible: 'none' },
  { id: 'str_tag', files: { 'host_vars/{h}/a.yml': `!!str infra_authorized_keys: ${KEYS}\n` }, ansible: 'defines' },
  { id: 'unsafe_tag', files: { 'host_vars/{h}/a.yml': `!unsafe infra_authorized_keys: ${KEYS}\n` }, ansible: 'defines' },
  { id: 'explicit_key', files: { 'host_vars/{h}/a.yml': `? infra_authorized_keys\n: ${KEYS}\n` }, ansible: 'defines' },
  { id: 'alias_key', files: { 'host_vars/{h}/a.yml': `name: &k infra_authorized_keys\n*k : ${KEYS}\n` }, ansible: 'defines' },
  { id: 'null_value', files: { 'host_vars/{h}/a.yml': `infra_authorized_keys:\n` }, ansible: 'defines' },
  { id: 'duplicate_keys', files: { 'host_vars/{h}/a.yml': `infra_authorized_keys: ${KEYS}\ninfra_authorized_keys: {}\n` }, ansible: 'defines' },
  { id: 'flow_top', files: { 'host_vars/{h}/a.yml': `{infra_authorized_keys: ${KEYS}}\n` }, ansible: 'defines' },
  { id: 'doc_markers', files: { 'host_vars/{h}/a.yml': `%YAML 1.1\n---\ninfra_authorized_keys: ${KEYS}\n...\n` }, ansible: 'defines' },
  { id: 'crlf_bom', files: { 'host_vars/{h}/a.yml': `\ufeffx: 1\r\ninfra_authorized_keys: ${KEYS}\r\n` }, ansible: 'defines' },
  { id: 'aliases_150', files: { 'host_vars/{h}/a.yml': aliases150 }, ansible: 'defines' },
  { id: 'empty_and_comment', files: { 'host_vars/{h}/a.yml': '', 'host_vars/{h}/b.yml': '# infra_authorized_keys: {}\n' }, ansible: 'none' },
  { id: 'json_file', files: { 'host_vars/{h}.json': '{"x": 1, "infra_authorized_keys": {"sysadmin": []}}' }, ansible: 'defines' },
  { id: 'json_in_folder', files: { 'host_vars/{h}/deep.json': '{"infra\\u005frevoked_keys": {}}' }, ansible: 'defines' },
  { id: 'yaml_ext', files: { 'host_vars/{h}.yaml': 'infra_authorized_keys: {}\n' }, ansible: 'defines' },
  { id: 'no_ext_file', files: { 'host_vars/{h}': 'infra_authorized_keys: {}\n' }, ansible: 'defines' },
  { id: 'no_ext_in_folder', files: { 'host_vars/{h}/vars': 'infra_authorized_keys: {}\n' }, ansible: 'defines' },
  { id: 'nested_folders', files: { 'host_vars/{h}/a/b/c/d.yml': 'infra_authorized_keys: {}\n' }, ansible: 'defines' },
  { id: 'hidden_file', files: { 'host_vars/{h}/.x.yml': 'infra_authorized_keys: {}\n', 'host_vars/{h}/ok.yml': 'x: 1\n' }, ansible: 'none' },
  { id: 'hidden_folder', files: { 'host_vars/{h}/.git/x.yml': 'infra_authorized_keys: {}\n', 'host_vars/{h}/ok.yml': 'x: 1\n' }, ansible: 'none' },
  { id: 'backup_file', files: { 'host_vars/{h}/x.yml~': 'infra_authorized_keys: {}\n', 'host_vars/{h}/ok.yml': 'x: 1\n' }, ansible: 'none' },
  { id: 'other_extensions', files: { 'host_vars/{h}/x.txt': 'infra_authorized_keys: {}\n', 'host_vars/{h}/x.YML': 'infra_authorized_keys: {}\n', 'host_vars/{h}/x.yml.bak': 'infra_revoked_keys: {}\n', 'host_vars/{h}/ok.yml': 'x: 1\n' }, ansible: 'none' },
  { id: 'folder_with_extension', files: { 'host_vars/{h}/conf.d/x.yml': 'infra_authorized_keys: {}\n', 'host_vars/{h}/ok.yml': 'x: 1\n' }, ansible: 'none' },
  { id: 'folder_before_file', files: { 'host_vars/{h}/ok.yml': 'x: 1\n', 'host_vars/{h}.yml': 'infra_authorized_keys: {}\n' }, ansible: 'none' },
  { id: 'file_before_yml', files: { 'host_vars/{h}': 'x: 1\n', 'host_vars/{h}.yml': 'infra_authorized_keys: {}\n' }, ansible: 'none' },
  { id: 'yml_before_json', files: { 'host_vars/{h}.yml': 'x: 1\n', 'host_vars/{h}.json': '{"infra_authorized_keys": {}}' }, ansible: 'none' },
  { id: 'group_file', files: { 'group_vars/{g}.yml': `<<: {infra_authorized_keys: ${KEYS}}\n` }, ansible: 'defines' },
  { id: 'group_folder', files: { 'group_vars/{g}/z/x.yaml': 'infra_wireguard_peers: {}\n' }, ansible: 'defines' },
  // beside the playbooks (`ansible-inventory --playbook-dir`, as ansible-playbook reads them)
  { id: 'playbook_host_vars', files: { '@play/host_vars/{h}.yml': `infra_authorized_keys: ${KEYS}\n` }, ansible: 'defines' },
  { id: 'playbook_group_vars', files: { '@play/group_vars/{g}/x.yml': `<<: {infra_revoked_keys: {}}\n` }, ansible: 'defines' },
  { id: 'other_group', files: { 'group_vars/{g}_not_mine.yml': 'infra_authorized_keys: {}\n', 'host_vars/{h}/ok.yml': 'x: 1\n' }, ansible: 'none' },
  // infra cannot read these: refused. Ansible reads the first (so a skip would hide mallory's key) and fails on the rest.
  { id: 'pyyaml_only', files: { 'host_vars/{h}/zz.yml': `infra_authorized_keys: ${KEYS}\nbbb_rooms: [1]#max\n` }, ansible: 'defines' },
  { id: 'both_reject', files: { 'host_vars/{h}/a.yml': 'infra_authorized_keys: [\n' }, ansible: 'fails' },
  { id: 'multi_document', files: { 'host_vars/{h}/a.yml': 'x: 1\n---\ninfra_authorized_keys: {}\n' }, ansible: 'fails' },
  { id: 'latin1', files: { 'host_vars/{h}/a.yml': Buffer.from('# caf\xe9\ninfra_authorized_keys: {}\n', 'latin1') }, ansible: 'fails' },
  { id: 'top_level_list', files: { 'host_vars/{h}/a.yml': '- infra_authorized_keys\n' }, ansible: 'fails' },
  { id: 'unknown_key_tag', files: { 'host_vars/{h}/a.yml': '!custom infra_authorized_keys: {}\n' }, ansible: 'fails' },
  { id: 'merge_scalar', files: { 'host_vars/{h}/a.yml': '<<: 1\ninfra_authorized_keys: {}\n' }, ansible: 'fails' },
];
/** Whole-file vault: without the password Ansible fails; with it, the file defines infra_authorized_keys. */
const VAULT_ROW = 'vault_whole_file';

const hostOf = (id: string) => `h_${id}`;
const groupOf = (id: string) => `g_${id}`;
const place = (p: string, id: string) => p.replace('{h}', hostOf(id)).replace('{g}', groupOf(id)).replace(/^@play\//, '../play/');

const ansibleEnv = (tmp: string) => ({
  ...process.env,
  ANSIBLE_NOCOLOR: '1',
  ANSIBLE_LOCALHOST_WARNING: 'False',
  ANSIBLE_DEPRECATION_WARNINGS: 'False',
  ANSIBLE_INVENTORY_UNPARSED_FAILED: 'True',
  ANSIBLE_LOCAL_TEMP: path.join(tmp, 'ansible-tmp'),
  ANSIBLE_CONFIG: path.join(tmp, 'no-ansible.cfg'),
});

type Verdict = { names: string[] } | { unreadable: string };

/** infra's verdict for `host`: the infra_* names its vars files define, or why infra cannot tell. */
async function infraVerdict(inv: string, inventory: Inventory, host: string): Promise<Verdict> {
  const names = new Set<string>();
  // the inventory's folder, then the playbooks' (a sibling named play/ here, ansible/ in a registry)
  for (const rel of [...(await varsFilesForHost(inv, '.', inventory, host)), ...(await varsFilesForHost(inv, '../play', inventory, host))]) {
    const reading = readVarsFile(await fs.readFile(path.join(inv, rel)));
    if ('unreadable' in reading) return { unreadable: `${rel}: ${reading.unreadable}` };
    for (const n of reading.names) if (n.startsWith('infra_')) names.add(n);
  }
  return { names: [...names].sort() };
}

const infraNamesOf = (vars: Record<string, unknown>) => Object.keys(vars).filter((k) => k.startsWith('infra_')).sort();

(haveAnsible ? describe : describe.skip)('the override guard agrees with ansible-inventory on every vars-file form', () => {
  let tmp: string;
  let readable: string; // one inventory holding every form Ansible reads
  let failing: string; // one holding the forms Ansible fails on, asked one host at a time
  let listed: Record<string, Record<string, unknown>>;
  const failingIds = ROWS.filter((r) => r.ansible === 'fails').map((r) => r.id);
  const hostRuns = new Map<string, { code: number; vars?: Record<string, unknown>; stderr: string }>();

  const writeInventory = async (dir: string, rows: readonly Row[], extra: readonly string[] = []) => {
    const ids = [...rows.map((r) => r.id), ...extra];
    await fs.mkdir(dir, { recursive: true });
    const hosts = ['all:', '  children:', ...ids.flatMap((id) => [`    ${groupOf(id)}:`, '      hosts:', `        ${hostOf(id)}:`]), ''].join('\n');
    await fs.writeFile(path.join(dir, 'hosts.yml'), hosts);
    for (const row of rows)
      for (const [p, content] of Object.entries(row.files)) {
        const file = path.join(dir, place(p, row.id));
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, content);
      }
  };

  const askHost = async (inv: string, host: string, extra: string[] = []) => {
    const r = await runProgram('ansible-inventory', ['-i', inv, '--host', host, ...extra], { env: ansibleEnv(tmp), cwd: tmp, timeoutMs: 60_000 });
    return { code: r.code, stderr: r.stderr, ...(r.code === 0 ? { vars: JSON.parse(r.stdout) as Record<string, unknown> } : {}) };
  };

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-varsguard-'));
    await fs.mkdir(path.join(tmp, 'ansible-tmp'));
    readable = path.join(tmp, 'readable');
    failing = path.join(tmp, 'failing');
    await writeInventory(
      readable,
      ROWS.filter((r) => r.ansible !== 'fails'),
    );
    await writeInventory(
      failing,
      ROWS.filter((r) => r.ansible === 'fails'),
      [VAULT_ROW],
    );
    // a real vault-encrypted vars file
    const vaultFile = path.join(failing, 'host_vars', hostOf(VAULT_ROW), 'secrets.yml');
    await fs.mkdir(path.dirname(vaultFile), { recursive: true });
    await fs.writeFile(vaultFile, `infra_authorized_keys: ${KEYS}\n`);
    await fs.writeFile(path.join(tmp, 'vault-pass'), 'not-a-secret-test-password\n');
    mustRun('ansible-vault', ['encrypt', '--vault-password-file', path.join(tmp, 'vault-pass'), vaultFile], { env: ansibleEnv(tmp), cwd: tmp, timeoutMs: 60_000 });

    const list = await runProgram('ansible-inventory', ['-i', readable, '--playbook-dir', path.join(tmp, 'play'), '--list'], { env: ansibleEnv(tmp), cwd: tmp, timeoutMs: 120_000 });
    if (list.code !== 0) throw new Error(`ansible-inventory --list failed on the readable forms: ${list.stderr}`);
    listed = (JSON.parse(list.stdout) as { _meta: { hostvars: Record<string, Record<string, unknown>> } })._meta.hostvars;

    // one host at a time (only that host's files are loaded), four at once
    const queue = [...failingIds, VAULT_ROW];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) hostRuns.set(id, await askHost(failing, hostOf(id)));
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }, 300_000);

  afterAll(async () => {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it.each(ROWS.filter((r) => r.ansible !== 'fails').map((r) => [r.id, r] as const))('%s', async (id, row) => {
    const inventory = await loadInventory(readable, 'readable');
    const verdict = await infraVerdict(readable, inventory, hostOf(id));
    const ansibleNames = infraNamesOf(listed[hostOf(id)] ?? {});
    expect(ansibleNames.length > 0).toBe(row.ansible === 'defines');
    if (id === 'pyyaml_only') {
      // Ansible reads it and gets mallory's key; infra cannot read it, so it refuses (never "defines nothing")
      expect(verdict).toEqual({ unreadable: expect.stringContaining('is not YAML infra can read') });
      return;
    }
    expect(verdict).toEqual({ names: ansibleNames });
  });

  it.each(failingIds)('%s: Ansible fails on it for that host, and infra refuses it', async (id) => {
    const inventory = await loadInventory(failing, 'failing');
    const run = hostRuns.get(id)!;
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/ERROR/);
    expect(await infraVerdict(failing, inventory, hostOf(id))).toEqual({ unreadable: expect.any(String) });
  });

  it('a whole-file vault: Ansible fails without the password and with it shows infra_authorized_keys; infra refuses it, naming the file', async () => {
    const inventory = await loadInventory(failing, 'failing');
    expect(hostRuns.get(VAULT_ROW)!.code).not.toBe(0);
    const withPassword = await askHost(failing, hostOf(VAULT_ROW), ['--vault-password-file', path.join(tmp, 'vault-pass')]);
    expect(infraNamesOf(withPassword.vars ?? {})).toEqual(['infra_authorized_keys']);
    expect(await infraVerdict(failing, inventory, hostOf(VAULT_ROW))).toEqual({ unreadable: `host_vars/${hostOf(VAULT_ROW)}/secrets.yml: is encrypted as a whole with ansible-vault, so infra cannot see which variables it defines` });
  });
});
