// Render time and peak memory over synthetic registries: 100 / 1,000 / 10,000 members (3 ed25519 keys
// each, 10% departed, one WireGuard peer each) over 50 / 500 / 2,000 hosts. Every case runs in its own
// process so that peak memory (maxRSS) belongs to that case alone.
//   plan:    planRender in memory, nothing rendered before
//   re-plan: planRender again with the first plan as the previous files (nothing changed)
//   disk:    the whole `infra render` command on a registry on disk, then again with nothing changed
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);
const dist = (p) => pathToFileURL(path.join(repo, 'dist', p)).href;

const CASES = [
  { members: 100, hosts: 50, disk: true },
  { members: 1000, hosts: 500, disk: true },
  { members: 10000, hosts: 2000, disk: false },
];
const MEMBERS_PER_GROUP = 100; // each team reaches its own slice of the hosts
const ADMINS = 10; // in `infra`, which reaches every host

function sshString(buf) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
}
const ed25519 = (label) => {
  const raw = createHash('sha256').update(label).digest();
  return `ssh-ed25519 ${Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]).toString('base64')} ${label}`;
};
const wgKey = (label) => createHash('sha256').update(`wg:${label}`).digest().toString('base64');

/** The registry as plain data (what member.yml / infra.yml hold) plus an INI inventory text. */
function synthetic(memberCount, hostCount) {
  const groups = Math.max(1, Math.round(memberCount / MEMBERS_PER_GROUP));
  const hostGroups = Array.from({ length: groups }, () => []);
  for (let h = 0; h < hostCount; h++) hostGroups[h % groups].push(`host${h}`);
  const inventory = [...hostGroups.map((hosts, g) => `[hg${g}]\n${hosts.join('\n')}\n`), '[vpn]\nhost0\nhost1\n'].join('\n');
  const access = [{ groups: ['infra'], hosts: 'all', user: 'sysadmin' }];
  for (let g = 0; g < groups; g++) access.push({ groups: [`team${g}`], hosts: `hg${g}`, user: g % 10 === 0 ? 'deploy' : 'sysadmin', ...(g % 4 === 0 ? { vpn_only: true } : {}) });
  const config = {
    org: 'Bench Co-op',
    admins: [],
    environments: { production: 'inventories/production' },
    policy: {
      ssh: { allowed_types: ['ed25519', 'ed25519-sk', 'ecdsa', 'ecdsa-sk', 'rsa'], min_rsa_bits: 3072, max_age_days: 730 },
      tokens: { rotate_every_days: 90 },
      audit: { min_members_per_host: 2, horizon_days: 30 },
    },
    access,
    vpn: {
      meet: {
        name: 'meet',
        ipv4: '10.0.0.0/8',
        endpoint: 'vpn.bench.example:51820',
        server_public_key: wgKey('server'),
        reserved: ['10.0.0.1'],
        allowed_ips: ['10.0.0.0/8'],
        servers: 'vpn',
      },
    },
  };
  const members = [];
  for (let i = 0; i < memberCount; i++) {
    const handle = `m${String(i).padStart(5, '0')}`;
    const departed = i % 10 === 9;
    const n = i + 2;
    members.push({
      handle,
      name: `Member ${i}`,
      kind: 'human',
      org: 'bench',
      status: departed ? 'departed' : 'active',
      ...(departed ? { departed: '2026-01-01' } : {}),
      groups: [`team${i % groups}`, ...(i < ADMINS ? ['infra'] : [])],
      ssh_keys: ['laptop', 'desktop', 'phone'].map((k, j) => ({ name: k, key: ed25519(`${handle}/${k}`), added: '2026-01-01', ...(j === 1 ? { expires: '2027-06-30' } : {}) })),
      vpn_peers: [{ device: 'laptop', network: 'meet', public_key: wgKey(handle), addresses: [`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}/32`], added: '2026-01-01' }],
      tokens: [],
      has_pgp: false,
    });
  }
  return { config, members, inventory };
}

const mb = (bytes) => bytes / 1024 / 1024;

async function measure(memberCount, hostCount, disk) {
  const { planRender } = await import(dist('core/render.js'));
  const { parseIniInventory } = await import(dist('core/inventory.js'));
  const { config, members, inventory } = synthetic(memberCount, hostCount);
  const inventories = { production: parseIniInventory(inventory, 'inventories/production/hosts') };
  const registry = { root: '/bench', config, members };
  let heapPeak = 0;
  const sample = () => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed));

  let t = performance.now();
  const plan = planRender(registry, inventories, new Map());
  const planMs = performance.now() - t;
  sample();
  let bytes = 0;
  for (const text of plan.files.values()) bytes += Buffer.byteLength(text);
  t = performance.now();
  const again = planRender(registry, inventories, plan.files);
  const replanMs = performance.now() - t;
  sample();
  if (again.unchanged !== plan.files.size) throw new Error(`re-plan changed ${plan.files.size - again.unchanged} files`);

  const row = {
    case: `${memberCount} members x ${hostCount} hosts`,
    files: plan.files.size,
    'MB out': mb(bytes),
    'plan ms': planMs,
    're-plan ms': replanMs,
    'peak heap MB': mb(heapPeak),
    'peak rss MB': process.resourceUsage().maxRSS / 1024,
  };
  if (disk) Object.assign(row, await onDisk(config, members, inventory));
  return row;
}

/** The whole command, as a user runs it, on a registry written to a temporary folder. */
async function onDisk(config, members, inventory) {
  const { stringify } = await import('yaml');
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-bench-'));
  try {
    const write = async (rel, text) => {
      await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
      await fs.writeFile(path.join(root, rel), text);
    };
    const { vpn, ...rest } = config;
    await write('infra.yml', stringify({ ...rest, vpn: Object.fromEntries(Object.entries(vpn).map(([k, { name: _n, ...v }]) => [k, v])) }));
    for (const { handle, has_pgp: _p, tokens: _t, ...m } of members) await write(`keys/${handle}/member.yml`, stringify(m));
    await write('inventories/production/hosts', inventory);
    const cli = (label) => {
      const t = performance.now();
      const r = spawnSync(process.execPath, [path.join(repo, 'bin', 'run.js'), 'render', '--dir', root, '--json'], { encoding: 'utf8', maxBuffer: 1 << 28 });
      const ms = performance.now() - t;
      if (r.status !== 0) throw new Error(`infra render (${label}) failed: ${r.stdout}${r.stderr}`);
      return { ms, result: JSON.parse(r.stdout) };
    };
    const first = cli('first');
    const second = cli('again');
    if (second.result.written.length !== 0) throw new Error('re-render wrote files');
    return { 'cmd ms': first.ms, 'cmd again ms': second.ms };
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

export async function run() {
  const rows = [];
  for (const c of CASES) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), String(c.members), String(c.hosts), String(c.disk)], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`render bench ${c.members}x${c.hosts} failed (${r.status})`);
    rows.push(JSON.parse(r.stdout));
  }
  return rows;
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const [members, hosts, disk] = process.argv.slice(2);
  if (members) process.stdout.write(JSON.stringify(await measure(Number(members), Number(hosts), disk === 'true')));
}
