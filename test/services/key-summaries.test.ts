/**
 * render and audit take each member key's parsed summary from the load (which parsed and validated
 * every key, or took the member from its cache entry) instead of parsing 30,000 keys again. On a generated
 * registry (mixed key types, a weak and a non-canonically encoded RSA key, departed members, overlapping and
 * VPN-only grants), with the lookup and without it, render and audit give the same bytes; a summary is
 * trusted exactly as far as its member: a cache entry whose member file changed, or that another validator
 * wrote, is not used, so a key the fresh parse refuses or judges weak never passes.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadInventories, previousRenders } from '../../src/adapters/inventories.js';
import { knownKeys } from '../../src/adapters/member-facts.js';
import { loadRegistry } from '../../src/adapters/registry-load.js';
import { auditFindings } from '../../src/core/audit.js';
import { keyParser, summaryOf } from '../../src/core/key-summary.js';
import { planRender } from '../../src/core/render.js';
import { parsePublicKey } from '../../src/core/ssh-key.js';
import type { Member } from '../../src/core/types.js';
import { runAudit } from '../../src/services/audit.js';
import { checkRegistry } from '../../src/services/registry.js';
import { render } from '../../src/services/render.js';
import { testContext } from '../helpers/context.js';
import { baseConfig, ed25519Line, makeRegistry, memberData } from '../helpers/registry-fixture.js';
import { ecdsaLine, sshString } from '../helpers/keys.js';
import { rsaPublicParts } from '../helpers/rsa-keys.js';
import { keepDerivedStateForSmallRegistries, readDerivedBody, rewriteDerived } from '../helpers/derived-state.js';

const MEMBERS = 60;
const handleOf = (i: number) => `m${String(i).padStart(3, '0')}`;

/** An RSA key line; `pad` extra zero bytes before the modulus make a valid but non-canonical encoding. */
function rsaLine(bits: number, comment: string, pad = 0): string {
  const { e, n } = rsaPublicParts(bits);
  const mpint = (m: Buffer, extra: number) => sshString(Buffer.concat([Buffer.alloc(extra + (m[0] & 0x80 ? 1 : 0)), m]));
  const blob = Buffer.concat([sshString('ssh-rsa'), mpint(e, 0), mpint(n, pad)]);
  return `ssh-rsa ${blob.toString('base64')} ${comment}`;
}

/** The one weak key (RSA 2048, below min_rsa_bits) whose summary the tampering tests change. */
const WEAK_HOLDER = handleOf(6);

/** Each member's keys, made once so that every copy of the registry holds the same ones. */
const KEYS: Array<Array<{ name: string; key: string; added: string }>> = Array.from({ length: MEMBERS }, (_, i) => {
  const h = handleOf(i);
  const keys = [
    { name: 'laptop', key: ed25519Line(h), added: '2026-01-01' },
    { name: 'desktop', key: ecdsaLine(i % 2 ? 'nistp521' : 'nistp256', `${h}@desktop`), added: '2026-01-01' },
  ];
  if (i % 12 === 0) keys.push({ name: 'rsa', key: rsaLine(3072, `${h}@rsa`), added: '2026-01-01' });
  if (i % 12 === 6) keys.push({ name: 'old-rsa', key: rsaLine(2048, `${h}@old`), added: '2025-01-01' });
  if (i === 7) keys.push({ name: 'padded', key: rsaLine(3072, `${h}@padded`, 3), added: '2026-01-01' });
  return keys;
});

const HOSTS = [...Array.from({ length: 12 }, (_, i) => `web${String(i + 1).padStart(2, '0')}`), ...Array.from({ length: 6 }, (_, i) => `db${i + 1}`), 'vpn1'];

async function generatedRegistry(): Promise<string> {
  const members: Record<string, Record<string, unknown>> = {};
  KEYS.forEach((keys, i) => {
    const departed = i % 10 === 9;
    members[handleOf(i)] = memberData(handleOf(i), {
      groups: [`team${i % 4}`],
      ssh_keys: keys,
      ...(departed ? { status: 'departed', departed: '2026-03-01' } : {}),
    });
  });
  return makeRegistry({
    config: baseConfig({
      access: [
        { groups: ['team0'], hosts: 'all', user: 'sysadmin' },
        { groups: ['team1', 'team2'], hosts: 'web:!web01', user: 'deploy', vpn_only: true },
        { groups: ['team1'], hosts: 'web01:web02', user: 'deploy' },
        { groups: ['team3'], hosts: 'db', user: 'sysadmin' },
      ],
      vpn: {
        meet: {
          ipv4: '10.77.0.0/24',
          ipv6: 'fd77:77::/64',
          endpoint: 'vpn.example.org:51820',
          server_public_key: 'QsYq4yARL4YyaJLcm/zwkAnSSm5p+SQ/AE3KJduyGlo=',
          reserved: ['10.77.0.1', 'fd77:77::1'],
          servers: 'vpn',
        },
      },
    }),
    members,
    files: { 'inventories/production/hosts': `[web]\n${HOSTS.filter((h) => h.startsWith('web')).join('\n')}\n\n[db]\n${HOSTS.filter((h) => h.startsWith('db')).join('\n')}\n\n[vpn]\nvpn1\n` },
  });
}

async function copyOf(dir: string): Promise<string> {
  const dest = await fs.mkdtemp(path.join(os.tmpdir(), 'infra-keys-copy-'));
  await fs.cp(dir, dest, { recursive: true });
  // another path: none of the original's derived state (kept per registry path) applies to it
  return dest;
}

/** Every generated file under the registry: relative path -> bytes. */
async function generatedFiles(root: string): Promise<Map<string, string>> {
  return previousRenders(root, ['inventories/production']);
}

const freshSummaries = (members: readonly Member[]) => new Map(members.flatMap((m) => m.ssh_keys.map((k) => [k.key, summaryOf(parsePublicKey(k.key))] as const)));

async function editCache(root: string, edit: (data: { validator: string; members: Record<string, { keys?: unknown[][] }> }) => void): Promise<void> {
  // signed with this user's key, as infra itself would write it: a forgery from the registry side is ignored (test/adapters/derived-state-tampering.test.ts)
  const data = JSON.parse((await readDerivedBody(root, 'members.json'))!);
  edit(data);
  await rewriteDerived(root, 'members.json', JSON.stringify(data));
}

const weakKey = () => KEYS[6].find((k) => k.name === 'old-rsa')!.key;
/** Where the weak key's text appears in the planned files: as granted, or revoked. */
function weakKeyPlace(files: Map<string, string>): { granted: number; revoked: number } {
  const data = weakKey().split(' ')[1];
  let granted = 0;
  let revoked = 0;
  for (const text of files.values()) {
    const at = text.indexOf('infra_revoked_keys:');
    for (let i = text.indexOf(data); i >= 0; i = text.indexOf(data, i + 1)) {
      if (at >= 0 && i > at) revoked++;
      else granted++;
    }
  }
  return { granted, revoked };
}

let root: string;
beforeAll(async () => {
  root = await generatedRegistry();
});
keepDerivedStateForSmallRegistries();

describe("the load's key summaries", () => {
  it('equal a fresh parse of every key, from a load that parsed the files and from one that used the member cache', async () => {
    const dir = await copyOf(root);
    const parsing = await loadRegistry(dir);
    const expected = freshSummaries(parsing.registry.members);
    expect(expected.size).toBe(KEYS.flat().length);
    expect(knownKeys(parsing)).toEqual(expected);
    const cached = await loadRegistry(dir);
    const entries = JSON.parse((await readDerivedBody(dir, 'members.json'))!).members;
    expect(entries[WEAK_HOLDER].keys).toHaveLength(3); // the summaries are in the cache
    expect(knownKeys(cached)).toEqual(expected);
  });

  it("come from a member's cache entry only while its file is unchanged: a weak key never passes once it is read again", async () => {
    const dir = await copyOf(root);
    await loadRegistry(dir);
    // The entry now claims the weak RSA key is a strong one. Trusted as far as its member: the same file stat.
    await editCache(dir, (data) => (data.members[WEAK_HOLDER].keys![2][1] = 4096));
    const trusted = await loadRegistry(dir);
    expect(knownKeys(trusted).get(weakKey())!.bits).toBe(4096);
    const inventories = await loadInventories(trusted);
    const withClaim = planRender(trusted.registry, inventories, new Map(), { parseKey: keyParser(knownKeys(trusted)) });
    expect(weakKeyPlace(withClaim.files).granted).toBeGreaterThan(0); // so the next check can fail

    // The same bytes written again: a new stat, so the member (and its keys) are read and parsed afresh.
    const file = path.join(dir, 'keys', WEAK_HOLDER, 'member.yml');
    await fs.writeFile(file, await fs.readFile(file));
    const reread = await loadRegistry(dir);
    expect(knownKeys(reread).get(weakKey())).toEqual(summaryOf(parsePublicKey(weakKey())));
    const plan = planRender(reread.registry, inventories, new Map(), { parseKey: keyParser(knownKeys(reread)) });
    expect(weakKeyPlace(plan.files)).toEqual({ granted: 0, revoked: expect.any(Number) });
    expect(weakKeyPlace(plan.files).revoked).toBeGreaterThan(0);
  });

  it('are not used from a cache another validator wrote', async () => {
    const dir = await copyOf(root);
    await loadRegistry(dir);
    await editCache(dir, (data) => {
      data.validator = `${data.validator}-other`;
      data.members[WEAK_HOLDER].keys![2][1] = 4096;
    });
    const loaded = await loadRegistry(dir);
    expect(knownKeys(loaded).get(weakKey())).toEqual(summaryOf(parsePublicKey(weakKey())));
  });

  it('are missing for an entry without them, or with a count that does not match its keys: those keys are parsed', async () => {
    const dir = await copyOf(root);
    await loadRegistry(dir);
    await editCache(dir, (data) => {
      delete data.members[handleOf(1)].keys;
      data.members[handleOf(2)].keys = data.members[handleOf(2)].keys!.slice(0, 1);
    });
    const loaded = await loadRegistry(dir);
    const known = knownKeys(loaded);
    for (const i of [1, 2]) for (const k of KEYS[i]) expect(known.has(k.key)).toBe(false);
    expect(known.get(KEYS[3][0].key)).toEqual(summaryOf(parsePublicKey(KEYS[3][0].key)));
  });
});

describe('render and audit with the summaries', () => {
  it('plan the same bytes with the lookup and without it: first render, and over previous files after members changed', async () => {
    const dir = await copyOf(root);
    await loadRegistry(dir);
    const loaded = await loadRegistry(dir); // from the member cache
    const inventories = await loadInventories(loaded);
    const known = knownKeys(loaded);
    expect(known.size).toBe(KEYS.flat().length);
    const first = planRender(loaded.registry, inventories, new Map(), { parseKey: keyParser(known) });
    expect(first.files.size).toBe(HOSTS.length);
    expect(first).toEqual(planRender(loaded.registry, inventories, new Map()));

    // m000 departs, m012 drops its RSA key: the previous files' keys are carried over as revocations.
    const members = loaded.registry.members.map((m) =>
      m.handle === handleOf(0) ? { ...m, status: 'departed' as const, departed: '2026-06-01' } : m.handle === handleOf(12) ? { ...m, ssh_keys: m.ssh_keys.filter((k) => k.name !== 'rsa') } : m,
    );
    const registry = { ...loaded.registry, members };
    const again = planRender(registry, inventories, first.files, { parseKey: keyParser(known) });
    expect(again.unchanged).toBeLessThan(first.files.size);
    expect(again).toEqual(planRender(registry, inventories, first.files));
  });

  it('audit finds the same with the lookup and without it', async () => {
    const dir = await copyOf(root);
    await loadRegistry(dir);
    const loaded = await loadRegistry(dir);
    const inventories = await loadInventories(loaded);
    const rendered = planRender(loaded.registry, inventories, new Map()).files;
    rendered.delete([...rendered.keys()][0]); // one stale file: audit plans a render too
    const input = { asOf: '2026-06-15', config: loaded.registry.config, members: loaded.registry.members, inventories, rendered, problems: [] };
    const withLookup = auditFindings({ ...input, parseKey: keyParser(knownKeys(loaded)) });
    const codes = new Set(withLookup.findings.map((f) => f.code));
    for (const code of ['weak-key', 'stale-render']) expect(codes).toContain(code);
    expect(withLookup.access.length).toBeGreaterThan(0);
    expect(withLookup).toEqual(auditFindings(input));
  });

  it('the render and audit services give the same bytes from the member cache and with no cache at all', async () => {
    const cachedDir = await copyOf(root);
    const plainDir = await copyOf(root);
    await loadRegistry(cachedDir); // writes the member cache; the render below loads from it
    await render(testContext({ root: cachedDir }), {});
    const cachedAudit = await runAudit(testContext({ root: cachedDir }), { asOf: '2026-06-15', format: 'json' });
    process.env.INFRA_CACHE_MIN_MEMBERS = '-1';
    await render(testContext({ root: plainDir }), {});
    const plainAudit = await runAudit(testContext({ root: plainDir }), { asOf: '2026-06-15', format: 'json' });
    expect(await readDerivedBody(plainDir, 'members.json')).toBeUndefined();
    const cachedFiles = await generatedFiles(cachedDir);
    expect(cachedFiles.size).toBe(HOSTS.length);
    expect(cachedFiles).toEqual(await generatedFiles(plainDir));
    expect(cachedAudit.findings).toEqual(plainAudit.findings);
    expect(cachedAudit.access).toEqual(plainAudit.access);
  });
  it("check judges policy from the same summaries: the cache's claim while the file is unchanged, a fresh parse after", async () => {
    const dir = await copyOf(root);
    const weakProblem = (problems: Array<{ file: string; message: string }>) => problems.filter((p) => p.file === `keys/${WEAK_HOLDER}/member.yml` && /RSA/.test(p.message));
    expect(weakProblem((await checkRegistry(testContext({ root: dir }))).problems)).toHaveLength(1);
    await editCache(dir, (data) => (data.members[WEAK_HOLDER].keys![2][1] = 4096));
    expect(weakProblem((await checkRegistry(testContext({ root: dir }))).problems)).toHaveLength(0); // the lookup is what check used
    const file = path.join(dir, 'keys', WEAK_HOLDER, 'member.yml');
    await fs.writeFile(file, await fs.readFile(file));
    const plainDir = await copyOf(root);
    process.env.INFRA_CACHE_MIN_MEMBERS = '-1';
    const plain = await checkRegistry(testContext({ root: plainDir }));
    const again = await checkRegistry(testContext({ root: dir }));
    expect(weakProblem(again.problems)).toHaveLength(1);
    expect(again.problems).toEqual(plain.problems);
  });
});
