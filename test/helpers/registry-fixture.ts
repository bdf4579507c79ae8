/**
 * Builds a registry on disk from plain data, for tests: infra.yml, keys/<handle>/member.yml, inventories
 * and any other file. Objects are written as YAML; strings are written as they are (to test odd input).
 * Also makes real OpenSSH public key lines from node:crypto, deterministic from a label.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { rsaPublicParts } from './rsa-keys.js';

export interface RegistryFixture {
  /** infra.yml: an object (see baseConfig) or raw text. */
  config?: Record<string, unknown> | string;
  /** handle -> member.yml: an object (see memberData) or raw text. */
  members?: Record<string, Record<string, unknown> | string>;
  /** Any other file, relative path -> text (e.g. inventories/production/hosts.yml). */
  files?: Record<string, string>;
}

/** A valid infra.yml object: one `production` environment at inventories/production, default policy, no grants. */
export function baseConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    org: 'Test Co-op',
    admins: [],
    environments: { production: 'inventories/production' },
    policy: {
      ssh: { allowed_types: ['ed25519', 'ed25519-sk', 'ecdsa', 'ecdsa-sk', 'rsa'], min_rsa_bits: 3072, max_age_days: 730 },
      tokens: { rotate_every_days: 90 },
      audit: { min_members_per_host: 2, horizon_days: 30 },
    },
    access: [],
    vpn: {},
    ...overrides,
  };
}

/** A valid member.yml object for an active human. */
export function memberData(handle: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `Test ${handle}`,
    kind: 'human',
    org: 'testorg',
    email: `${handle}@example.org`,
    status: 'active',
    groups: [],
    ssh_keys: [],
    ...overrides,
  };
}

const toText = (v: Record<string, unknown> | string) => (typeof v === 'string' ? v : stringify(v, { lineWidth: 0 }));

/** Writes the registry into `dir` (default: a new temporary folder) and returns its absolute path. */
export async function makeRegistry(fixture: RegistryFixture, dir?: string): Promise<string> {
  const root = dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'infra-reg-')));
  const write = async (rel: string, text: string) => {
    await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fs.writeFile(path.join(root, rel), text);
  };
  await write('infra.yml', toText(fixture.config ?? baseConfig()));
  for (const [handle, data] of Object.entries(fixture.members ?? {})) await write(`keys/${handle}/member.yml`, toText(data));
  for (const [rel, text] of Object.entries(fixture.files ?? {})) await write(rel, text);
  return root;
}

/** Rewrites one member.yml with changes merged in (e.g. {status: 'departed', departed: '2026-10-01'}). */
export async function updateMember(root: string, handle: string, changes: Record<string, unknown>): Promise<void> {
  const file = path.join(root, 'keys', handle, 'member.yml');
  const { parse } = await import('yaml');
  const data = parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  await fs.writeFile(file, stringify({ ...data, ...changes }, { lineWidth: 0 }));
}

function sshString(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** An mpint as SSH encodes it: big-endian, a leading zero byte when the top bit is set. */
function sshMpint(b: Buffer): Buffer {
  let v = b;
  while (v.length > 1 && v[0] === 0) v = v.subarray(1);
  return sshString(v[0] & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

/** A real ed25519 public key line, the same for the same label. */
export function ed25519Line(label: string, comment = label): string {
  const seed = createHash('sha256').update(`infra-test:${label}`).digest();
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const pub = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
  const raw = Buffer.from(pub.export({ format: 'jwk' }).x as string, 'base64url');
  const blob = Buffer.concat([sshString('ssh-ed25519'), sshString(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
}

/** A real RSA public key line of `bits` (a fixture key, distinct from the file's earlier ones: test/helpers/rsa-keys.ts). */
export function rsaLine(bits: number, comment = 'rsa'): string {
  const { e, n } = rsaPublicParts(bits);
  const blob = Buffer.concat([sshString('ssh-rsa'), sshMpint(e), sshMpint(n)]);
  return `ssh-rsa ${blob.toString('base64')} ${comment}`;
}

/** The `type base64` part of a key line (what identifies the key). */
export function keyBody(line: string): string {
  return line.split(/\s+/).slice(0, 2).join(' ');
}
