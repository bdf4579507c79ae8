// `infra vpn join` with 10 / 1,000 / 50,000 peers already in the network (dual-stack: a /16 and a /64,
// 50 devices per member, and a rendered server file listing every peer, as after `infra render`).
//   alloc ms:    allocation alone (taken set from the registry + both families), in memory, median of 5
//   scan ms:     reading the rendered files' infra_wireguard_peers (what a join adds to allocation)
//   list cmd ms: `infra vpn list --json` as a process: loading and validating the registry, the floor
//   join cmd ms: `infra vpn join` as a process, the whole command (lock, load, scan, allocate, write), median of 3
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);
const dist = (p) => pathToFileURL(path.join(repo, 'dist', p)).href;

const SIZES = [10, 1000, 50000];
const DEVICES_PER_MEMBER = 50;

const wgKey = (label) => createHash('sha256').update(`wg:${label}`).digest().toString('base64');
const v4 = (n) => `10.64.${(n >> 8) & 255}.${n & 255}/32`;
const v6 = (n) => `fd64::${n.toString(16)}/128`;

const network = {
  ipv4: '10.64.0.0/16',
  ipv6: 'fd64::/64',
  endpoint: 'vpn.bench.example:51820',
  server_public_key: wgKey('server'),
  reserved: ['10.64.0.1', 'fd64::1'],
  allowed_ips: ['10.64.0.0/16', 'fd64::/64'],
  servers: 'vpn',
};

function members(peerCount) {
  const out = [];
  for (let i = 0; i * DEVICES_PER_MEMBER < peerCount; i++) {
    const handle = `m${String(i).padStart(5, '0')}`;
    const peers = [];
    for (let j = 0; j < DEVICES_PER_MEMBER && i * DEVICES_PER_MEMBER + j < peerCount; j++) {
      const n = i * DEVICES_PER_MEMBER + j + 2;
      peers.push({ device: `d${j}`, network: 'meet', public_key: wgKey(`${handle}/${j}`), addresses: [v4(n), v6(n)], added: '2026-01-01' });
    }
    out.push({ handle, name: `Member ${i}`, kind: 'human', org: 'bench', status: 'active', groups: [], ssh_keys: [], vpn_peers: peers, tokens: [], has_pgp: false });
  }
  return out;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function writeRegistry(list) {
  const { stringify } = await import('yaml');
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-vpn-bench-'));
  const write = async (rel, text) => {
    await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fs.writeFile(path.join(root, rel), text);
  };
  await write(
    'infra.yml',
    stringify({ org: 'Bench Co-op', admins: [], environments: { production: 'inventories/production' }, access: [], vpn: { meet: network } }),
  );
  for (const { handle, has_pgp: _p, tokens: _t, ...m } of list) await write(`keys/${handle}/member.yml`, stringify(m, { lineWidth: 0 }));
  await write('inventories/production/hosts.yml', 'all:\n  children:\n    vpn:\n      hosts:\n        vpn1:\n');
  return root;
}

const cli = (args) => {
  const t = performance.now();
  const r = spawnSync(process.execPath, [path.join(repo, 'bin', 'run.js'), ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`infra ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
  return { ms, stdout: r.stdout };
};

async function measure(peerCount) {
  const { allocateAddresses, takenAddresses, renderedPeerAddresses } = await import(dist('core/vpn-plan.js'));
  const list = members(peerCount);
  const registry = { root: '/bench', config: { org: 'B', admins: [], environments: {}, policy: {}, access: [], vpn: { meet: { name: 'meet', ...network } } }, members: list };
  const expected = [v4(peerCount + 2), v6(peerCount + 2)];

  const allocRuns = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    const got = allocateAddresses(registry.config.vpn.meet, takenAddresses(registry, registry.config.vpn.meet, []));
    allocRuns.push(performance.now() - t);
    if (got.join() !== expected.join()) throw new Error(`allocated ${got} with ${peerCount} peers, expected ${expected}`);
  }

  const root = await writeRegistry(list);
  try {
    cli(['render', '--dir', root, '--json']); // the server's peer list, as after a render
    const renderedText = await fs.readFile(path.join(root, 'inventories/production/host_vars/vpn1/infra.generated.yml'), 'utf8');
    let t = performance.now();
    const rendered = renderedPeerAddresses([renderedText]);
    const scanMs = performance.now() - t;
    if (rendered.length !== peerCount * 2) throw new Error(`rendered file lists ${rendered.length} addresses, expected ${peerCount * 2}`);

    const listMs = median([0, 1, 2].map(() => cli(['vpn', 'list', '--dir', root, '--json']).ms));
    const joins = [];
    for (let r = 0; r < 3; r++) {
      const { ms, stdout } = cli(['vpn', 'join', 'm00000', '--device', `bench${r}`, '--public-key', wgKey(`bench${r}`), '--dir', root, '--json']);
      const want = [v4(peerCount + 2 + r), v6(peerCount + 2 + r)];
      if (JSON.parse(stdout).addresses.join() !== want.join()) throw new Error(`join ${r} got ${stdout}`);
      joins.push(ms);
    }
    return {
      case: `${peerCount.toLocaleString('en')} peers`,
      'alloc ms': median(allocRuns),
      'scan ms': scanMs,
      'list cmd ms': listMs,
      'join cmd ms': median(joins),
    };
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

export async function run() {
  const rows = [];
  for (const n of SIZES) rows.push(await measure(n));
  return rows;
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const rows = await run();
  for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
}
