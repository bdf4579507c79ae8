// `infra tokens rotate` of a generic token with 1 / 10 / 50 consumers (GitHub Actions secrets on a local
// stand-in that hands out X25519 keys and opens every sealed box it receives), the whole command as a
// process: load, generate, encrypt to the admin, record, write and record each consumer, finish.
//   rotate cmd ms: median of 3 rotations
//   per consumer ms: (rotate - 1-consumer rotate) / (consumers - 1), what each more consumer costs
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);
const SIZES = [1, 10, 50];
const ADMIN_TOKEN = 'bench-admin-token-0123456789';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A GitHub stand-in: GET .../actions/secrets/public-key, PUT .../actions/secrets/NAME (opened and kept). */
async function fakeGithub() {
  const sodium = (await import('libsodium-wrappers')).default;
  await sodium.ready;
  const pair = sodium.crypto_box_keypair();
  const received = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/secrets\/([^/]+)$/.exec(req.url ?? '');
      if (req.headers.authorization !== `token ${ADMIN_TOKEN}` || !m) return res.writeHead(404).end('{}');
      if (m[3] === 'public-key') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ key_id: '1', key: sodium.to_base64(pair.publicKey, sodium.base64_variants.ORIGINAL) }));
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const value = sodium.to_string(sodium.crypto_box_seal_open(sodium.from_base64(body.encrypted_value, sodium.base64_variants.ORIGINAL), pair.publicKey, pair.privateKey));
      received.set(`${m[1]}/${m[2]}:${m[3]}`, value);
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, received, close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))) };
}

async function writeRegistry(consumerCount, publicKey) {
  const { stringify } = await import('yaml');
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-tokens-bench-'));
  const write = async (rel, text) => {
    await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fs.writeFile(path.join(root, rel), text);
  };
  await write('infra.yml', stringify({ org: 'Bench Co-op', admins: ['adm'], environments: { production: 'inventories/production' }, access: [], vpn: {} }));
  await write('inventories/production/hosts.yml', 'all:\n  hosts: {}\n');
  await write('keys/adm/member.yml', stringify({ name: 'Admin', kind: 'human', org: 'bench', email: 'adm@bench.example', status: 'active', groups: [], ssh_keys: [] }));
  await write('keys/adm/pgp.asc', publicKey);
  const consumers = Array.from({ length: consumerCount }, (_, i) => ({ github_secret: { repo: `bench-coop/repo${i}`, name: 'HOOK_SECRET' } }));
  await write('keys/bot/member.yml', stringify({ name: 'Bot', kind: 'bot', org: 'bench', status: 'active', groups: [], ssh_keys: [], tokens: [{ name: 'hook', kind: 'generic', consumers }] }, { lineWidth: 0 }));
  return root;
}

function cli(args, env) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, [path.join(repo, 'bin', 'run.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - t) : reject(new Error(`infra ${args.join(' ')} exited ${code}: ${out}`))));
  });
}

async function measure(consumerCount, keys, github) {
  const root = await writeRegistry(consumerCount, keys.publicKey);
  const env = { INFRA_DIR: root, INFRA_GITHUB_API_URL: github.url, GITHUB_TOKEN: ADMIN_TOKEN, INFRA_ADMIN: 'adm' };
  try {
    const runs = [];
    for (let r = 0; r < 3; r++) {
      github.received.clear();
      runs.push(await cli(['tokens', 'rotate', 'bot/hook', '--json'], env));
      if (github.received.size !== consumerCount) throw new Error(`${github.received.size} of ${consumerCount} secrets written`);
      if (new Set(github.received.values()).size !== 1) throw new Error('the consumers hold different values');
    }
    return { case: `${consumerCount} consumer${consumerCount === 1 ? '' : 's'}`, 'rotate cmd ms': median(runs) };
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

export async function run() {
  const openpgp = await import('openpgp');
  const keys = await openpgp.generateKey({ type: 'ecc', userIDs: [{ name: 'adm', email: 'adm@bench.example' }], format: 'armored' });
  const github = await fakeGithub();
  try {
    const rows = [];
    for (const n of SIZES) rows.push(await measure(n, keys, github));
    const one = rows[0]['rotate cmd ms'];
    for (const [i, n] of SIZES.entries()) if (n > 1) rows[i]['per consumer ms'] = (rows[i]['rotate cmd ms'] - one) / (n - 1);
    return rows;
  } finally {
    await github.close();
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const rows = await run();
  for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
}
