// infra beside the reference programs it must agree with, on the same input in one run:
//   fingerprints: `infra keys check FILE` vs `ssh-keygen -lf FILE` over authorized_keys files of 1,000 and 10,000 keys
//   host patterns: infra's inventory parse + pattern resolution vs `ansible -i INV PATTERN --list-hosts`
//   wg keys:       infra's X25519 derivation of N public keys vs `wg pubkey` (one process per key, as scripts do)
// Whole programs are timed from spawn to exit; the library rows are in-process. A reference program that
// is not installed is reported as such, not skipped silently.
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dist = (p) => pathToFileURL(path.join(repo, 'dist', p)).href;
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function timeSpawn(cmd, args, opts = {}) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  return { ms, stdout: r.stdout, status: r.status };
}

function sshString(buf) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
}
function ed25519Line(i) {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return `ssh-ed25519 ${Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]).toString('base64')} member${i}@laptop`;
}

async function fingerprints(tmp) {
  const rows = [];
  for (const n of [1000, 10000]) {
    const file = path.join(tmp, `authorized_keys.${n}`);
    await fs.writeFile(file, Array.from({ length: n }, (_, i) => ed25519Line(i)).join('\n') + '\n');
    const infra = timeSpawn(process.execPath, [path.join(repo, 'bin/run.js'), 'keys', 'check', file, '--json'], { cwd: tmp });
    const ref = has('ssh-keygen') ? timeSpawn('ssh-keygen', ['-lf', file]) : undefined;
    // Same answers, or the comparison means nothing.
    const ours = JSON.parse(infra.stdout).keys.map((k) => k.fingerprint);
    const theirs = ref?.stdout.trim().split('\n').map((l) => l.split(' ')[1]);
    rows.push({ bench: 'fingerprints (whole program)', size: `${n} keys`, infra_ms: infra.ms, reference: 'ssh-keygen -lf', reference_ms: ref?.ms ?? 'not installed', same_answer: theirs ? String(ours.join() === theirs.join()) : '' });
  }
  return rows;
}

async function patterns(tmp) {
  const { parseIniInventory } = await import(dist('core/inventory.js'));
  const { resolvePattern } = await import(dist('core/host-pattern.js'));
  const rows = [];
  for (const hosts of [50, 500, 2000]) {
    const groups = Math.max(4, hosts / 25);
    const lines = [];
    for (let g = 0; g < groups; g++) {
      lines.push(`[team${g}]`);
      for (let h = g; h < hosts; h += groups) lines.push(`host${h}`);
    }
    lines.push('[production:children]', ...Array.from({ length: Math.ceil(groups / 2) }, (_, g) => `team${g}`));
    const text = lines.join('\n') + '\n';
    const file = path.join(tmp, `hosts.${hosts}`);
    await fs.writeFile(file, text);
    const pattern = 'team1:team2:&production:!host7';
    const t = process.hrtime.bigint();
    const ours = resolvePattern(pattern, parseIniInventory(text, file));
    const infraMs = Number(process.hrtime.bigint() - t) / 1e6;
    let ref;
    if (has('ansible')) {
      ref = timeSpawn('ansible', ['-i', file, pattern, '--list-hosts'], { env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'False' } });
      ref.hosts = ref.stdout.split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
    }
    rows.push({ bench: 'host pattern (library vs program)', size: `${hosts} hosts`, infra_ms: infraMs, reference: 'ansible --list-hosts', reference_ms: ref?.ms ?? 'not installed', same_answer: ref ? String(ours.join() === ref.hosts.join()) : '' });
  }
  return rows;
}

async function wgKeys() {
  const { generatePrivateKey, publicKeyOf } = await import(dist('core/wireguard.js'));
  const n = 200;
  const privs = Array.from({ length: n }, () => generatePrivateKey(randomBytes));
  const t = process.hrtime.bigint();
  const ours = privs.map(publicKeyOf);
  const infraMs = Number(process.hrtime.bigint() - t) / 1e6;
  let refMs = 'not installed';
  let same = '';
  if (has('wg')) {
    const t2 = process.hrtime.bigint();
    const theirs = privs.map((p) => execFileSync('wg', ['pubkey'], { input: p, encoding: 'utf8' }).trim());
    refMs = Number(process.hrtime.bigint() - t2) / 1e6;
    same = String(ours.join() === theirs.join());
  }
  return [{ bench: 'wg public keys (library vs program)', size: `${n} keys`, infra_ms: infraMs, reference: 'wg pubkey', reference_ms: refMs, same_answer: same }];
}

export async function run() {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-bench-ref-'));
  try {
    return [...(await fingerprints(tmp)), ...(await patterns(tmp)), ...(await wgKeys())];
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
