// Synthetic registries for the bench, derived deterministically from labels (no key generation: SHA-2
// output becomes ed25519 keys, EC private scalars whose public points node:crypto computes, and RSA
// moduli), written once and cached under bench/out/cache/. Cases copy a cached registry to a scratch
// folder, because render and vpn join write into it.
import { createECDH, createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { promises as fs, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const OUT = path.join(here, '..', 'out');
export const CACHE = path.join(OUT, 'cache');
/** Bump when the generated shape changes, so stale caches are not reused. */
const VERSION = 'v1';

const sha = (alg, label) => createHash(alg).update(label).digest();
/** `bytes` bytes derived from `label` (SHA-512 in counter mode). */
function derive(label, bytes) {
  const parts = [];
  for (let i = 0; parts.length * 64 < bytes; i++) parts.push(sha('sha512', `${label}#${i}`));
  return Buffer.concat(parts).subarray(0, bytes);
}

function sshString(buf) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, typeof buf === 'string' ? Buffer.from(buf) : buf]);
}
const mpint = (buf) => sshString(buf[0] & 0x80 ? Buffer.concat([Buffer.from([0]), buf]) : buf);

const KEY_TYPES = ['ed25519', 'ecdsa256', 'rsa3072', 'ecdsa521'];

/** One OpenSSH public key line of `type`, derived from `label`. */
export function keyLine(type, label) {
  switch (type) {
    case 'ed25519':
      return `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(sha('sha256', label))]).toString('base64')} ${label}`;
    case 'ecdsa256':
    case 'ecdsa521': {
      const [curve, name, size] = type === 'ecdsa256' ? ['prime256v1', 'nistp256', 32] : ['secp521r1', 'nistp521', 66];
      const priv = derive(`ec:${label}`, size);
      priv[0] &= type === 'ecdsa521' ? 0x00 : 0x7f; // below the group order
      priv[priv.length - 1] |= 1; // never zero
      const ecdh = createECDH(curve);
      ecdh.setPrivateKey(priv);
      const point = ecdh.getPublicKey();
      const kind = `ecdsa-sha2-${name}`;
      return `${kind} ${Buffer.concat([sshString(kind), sshString(name), sshString(point)]).toString('base64')} ${label}`;
    }
    case 'rsa3072': {
      const n = derive(`rsa:${label}`, 384);
      n[0] |= 0x80; // exactly 3072 bits
      n[383] |= 1; // odd, as a product of odd primes is
      return `ssh-rsa ${Buffer.concat([sshString('ssh-rsa'), mpint(Buffer.from([1, 0, 1])), mpint(n)]).toString('base64')} ${label}`;
    }
    default:
      throw new Error(`unknown key type ${type}`);
  }
}

const wgKey = (label) => sha('sha256', `wg:${label}`).toString('base64');
const handleOf = (i) => `m${String(i).padStart(5, '0')}`;

async function writeTree(root, files) {
  const tmp = `${root}.partial-${process.pid}`;
  await fs.rm(tmp, { recursive: true, force: true });
  const dirs = new Set([...files.keys()].map((rel) => path.dirname(path.join(tmp, rel))));
  for (const d of dirs) await fs.mkdir(d, { recursive: true });
  const entries = [...files];
  for (let i = 0; i < entries.length; i += 256)
    await Promise.all(entries.slice(i, i + 256).map(([rel, text]) => fs.writeFile(path.join(tmp, rel), text)));
  await fs.rm(root, { recursive: true, force: true });
  await fs.rename(tmp, root); // a half-written cache is never mistaken for a whole one
}

const MEMBERS_PER_TEAM = 100;
const ADMINS = 10;
const BOTS_PER_1000 = 10;
const CONSUMERS_PER_TOKEN = 3;
/** The bot whose token has many consumers (the `tokens rotate` case). */
export const ROTATE_BOT = 'bench-bot';
export const ROTATE_TOKEN = 'webhook';
export const ROTATE_CONSUMERS = 50;

function inventoryText(hostCount, teams) {
  // host{h} in leaf groups hg{t} (one per team), leaf groups nested two levels: region -> production.
  const leaf = Array.from({ length: teams }, () => []);
  for (let h = 0; h < hostCount; h++) leaf[h % teams].push(`host${h}`);
  const regions = Math.max(1, Math.ceil(teams / 4));
  const out = leaf.map((hosts, t) => `[hg${t}]\n${hosts.join('\n')}\n`);
  for (let r = 0; r < regions; r++)
    out.push(`[region${r}:children]\n${Array.from({ length: Math.min(4, teams - r * 4) }, (_, k) => `hg${r * 4 + k}`).join('\n')}\n`);
  out.push(`[site:children]\n${Array.from({ length: regions }, (_, r) => `region${r}`).join('\n')}\n`);
  out.push('[vpn]\nhost0\nhost1\n', '[bots]\nhost0\n');
  return out.join('\n');
}

function configText(teams, { admins = [], vpn }) {
  const grants = ['  - groups: [infra]\n    hosts: all\n    user: sysadmin'];
  for (let t = 0; t < teams; t++) {
    const r = Math.floor(t / 4);
    // Patterns of every kind: a group, an intersection with a nested group, an exclusion.
    const hosts = t % 3 === 0 ? `hg${t}` : t % 3 === 1 ? `"hg${t}:&region${r}"` : `"region${r}:!hg${t === 0 ? 1 : t - 1}"`;
    grants.push(`  - groups: [team${t}]\n    hosts: ${hosts}\n    user: ${t % 10 === 0 ? 'deploy' : 'sysadmin'}${t % 4 === 0 ? '\n    vpn_only: true' : ''}`);
  }
  return `org: Bench Co-op
admins: [${admins.join(', ')}]
environments:
  production: inventories/production
policy:
  ssh:
    allowed_types: [ed25519, ed25519-sk, ecdsa, ecdsa-sk, rsa]
    min_rsa_bits: 3072
    max_age_days: 730
  tokens:
    rotate_every_days: 90
  audit:
    min_members_per_host: 2
    horizon_days: 30
access:
${grants.join('\n')}
vpn:
  meet:
    ipv4: ${vpn.ipv4}
    ipv6: ${vpn.ipv6}
    endpoint: vpn.bench.example:51820
    server_public_key: ${wgKey('server')}
    reserved: [${vpn.reserved.join(', ')}]
    allowed_ips: [${vpn.ipv4}, ${vpn.ipv6}]
    servers: vpn
`;
}

function memberText({ handle, i, teams, departed, peers, kind = 'human', tokens = '' }) {
  const groups = kind === 'bot' ? [] : [`team${i % teams}`, ...(i < ADMINS ? ['infra'] : [])];
  const keys =
    kind === 'bot'
      ? ' []'
      : '\n' +
        ['laptop', 'desktop', 'phone']
          .map((name, j) => {
            const type = KEY_TYPES[(i * 3 + j) % KEY_TYPES.length];
            return `  - name: ${name}\n    key: ${keyLine(type, `${handle}-${name}`)}\n    added: 2026-01-01${j === 1 ? '\n    expires: 2027-06-30' : ''}`;
          })
          .join('\n');
  const peerText = peers.length
    ? '\n' + peers.map((p) => `  - device: ${p.device}\n    network: meet\n    public_key: ${p.key}\n    addresses: [${p.v4}, "${p.v6}"]\n    added: 2026-01-01`).join('\n')
    : ' []';
  return `# Bench member ${i}
name: Member ${i}
kind: ${kind}
org: bench
status: ${departed ? 'departed' : 'active'}
${departed ? 'departed: 2026-01-01\n' : ''}groups: [${groups.join(', ')}]
ssh_keys:${keys}
vpn_peers:${peerText}
${tokens}`;
}

function tokenText(bot, consumers) {
  const list = Array.from({ length: consumers }, (_, c) => `      - ansible_vault_var: {environment: production, group: bots, var: ${bot.replace(/-/g, '_')}_${c}}`);
  return `tokens:
  - name: ${ROTATE_TOKEN}
    kind: generic
    rotated_at: 2026-01-01
    rotated_by: m00000
    consumers:
${list.join('\n')}
`;
}

/** v4/v6 of peer number n (n >= 2) in 10.64.0.0/10 and fd64::/64. */
const v4 = (n) => `10.${64 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}/32`;
const v6 = (n) => `fd64::${n.toString(16)}/128`;
export const peerAddresses = (n) => [v4(n), v6(n)];

/**
 * A registry of `memberCount` members (3 keys each, mixed types; 10% departed; one VPN peer each; 1%
 * bots with tokens) over `hostCount` hosts. Returns the cached folder (copy it before writing to it).
 */
export async function registry(memberCount, hostCount) {
  const root = path.join(CACHE, `registry-${memberCount}x${hostCount}-${VERSION}`);
  if (existsSync(root)) return root;
  const teams = Math.max(1, Math.round(memberCount / MEMBERS_PER_TEAM));
  const files = new Map();
  files.set('infra.yml', configText(teams, { admins: ['m00000'], vpn: { ipv4: '10.64.0.0/10', ipv6: 'fd64::/64', reserved: ['10.64.0.1', 'fd64::1'] } }));
  files.set('inventories/production/hosts', inventoryText(hostCount, teams));
  for (let i = 0; i < memberCount; i++) {
    const handle = handleOf(i);
    const n = i + 2;
    files.set(`keys/${handle}/member.yml`, memberText({ handle, i, teams, departed: i % 10 === 9, peers: [{ device: 'laptop', key: wgKey(handle), v4: v4(n), v6: v6(n) }] }));
  }
  const bots = Math.max(1, Math.round((memberCount * BOTS_PER_1000) / 1000));
  for (let b = 0; b < bots; b++) {
    const handle = b === 0 ? ROTATE_BOT : `bot${b}`;
    files.set(`keys/${handle}/member.yml`, memberText({ handle, i: b, teams, departed: false, peers: [], kind: 'bot', tokens: tokenText(handle, b === 0 ? ROTATE_CONSUMERS : CONSUMERS_PER_TOKEN) }));
  }
  await writeTree(root, files);
  return root;
}

/** A registry whose network holds `peerCount` peers (50 devices per member, dual-stack), few keys. */
export async function vpnRegistry(peerCount, devicesPerMember = 50) {
  const root = path.join(CACHE, `vpn-${peerCount}-${VERSION}`);
  if (existsSync(root)) return root;
  const files = new Map();
  files.set('infra.yml', configText(1, { vpn: { ipv4: '10.64.0.0/10', ipv6: 'fd64::/64', reserved: ['10.64.0.1', 'fd64::1'] } }));
  files.set('inventories/production/hosts', inventoryText(4, 1));
  const memberCount = Math.max(1, Math.ceil(peerCount / devicesPerMember));
  for (let i = 0; i < memberCount; i++) {
    const handle = handleOf(i);
    const peers = [];
    for (let j = 0; j < devicesPerMember && i * devicesPerMember + j < peerCount; j++) {
      const n = i * devicesPerMember + j + 2;
      peers.push({ device: `d${j}`, key: wgKey(`${handle}/${j}`), v4: v4(n), v6: v6(n) });
    }
    files.set(`keys/${handle}/member.yml`, memberText({ handle, i, teams: 1, departed: false, peers }));
  }
  await writeTree(root, files);
  return root;
}

/** An authorized_keys-style file of `lines` keys cycling ed25519, ECDSA 256, RSA 3072, ECDSA 521 (or one type). */
export async function keysFile(lines, only) {
  const file = path.join(CACHE, `keys-${only ?? 'mixed'}-${lines}-${VERSION}.txt`);
  if (existsSync(file)) return file;
  await fs.mkdir(CACHE, { recursive: true });
  const text = Array.from({ length: lines }, (_, i) => keyLine(only ?? KEY_TYPES[i % KEY_TYPES.length], `user${i}@bench`)).join('\n') + '\n';
  await fs.writeFile(`${file}.tmp`, text);
  await fs.rename(`${file}.tmp`, file);
  return file;
}

/** A fresh writable copy of a cached registry. */
export async function scratchCopy(cached, name) {
  const dest = path.join(OUT, 'scratch', name);
  await fs.rm(dest, { recursive: true, force: true });
  await fs.mkdir(path.dirname(dest), { recursive: true });
  execFileSync('cp', ['-a', cached, dest]);
  return dest;
}
