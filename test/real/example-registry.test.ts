/**
 * The JSON Schemas and the example registry against the real tools (the rest of these checks need no
 * program and live in test/schema.test.ts): the key patterns accept what `wg` and `ssh-keygen` make, and the
 * example keeps giving the audit something to find as `ssh-keygen`, `gpg` and `ansible` see it.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { REPO_ROOT as ROOT } from '../helpers/example.js';
import { mustRun, runSync } from '../helpers/program.js';
import { requireTool } from '../helpers/real-tools.js';

const readJson = (rel: string) => JSON.parse(readFileSync(join(ROOT, rel), 'utf8'));
const readYaml = (rel: string) => parse(readFileSync(join(ROOT, rel), 'utf8'));

const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true }); // as test/schema.test.ts
const validateInfra = ajv.compile(readJson('schema/infra.schema.json'));
const validateMember = ajv.compile(readJson('schema/member.schema.json'));
const errorsOf = (validate: ValidateFunction, doc: unknown): ErrorObject[] => (validate(doc) ? [] : [...(validate.errors ?? [])]);
const describeErrors = (errors: ErrorObject[]) => errors.map((e) => `${e.instancePath || '(root)'} ${e.keyword}: ${e.message}`).join('\n');

const handles = readdirSync(join(ROOT, 'keys'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe('key patterns accept what the real tools make', () => {
  const withWg = requireTool('wg', 'wireguard-tools') ? describe : describe.skip;
  withWg('wg', () => {
    it('accepts `wg genkey | wg pubkey` output', () => {
      for (let i = 0; i < 5; i++) {
        const priv = mustRun('wg', ['genkey']);
        const pub = mustRun('wg', ['pubkey'], { input: priv }).trim();
        const doc = readYaml('infra.yml');
        doc.vpn.meet.server_public_key = pub;
        expect(describeErrors(errorsOf(validateInfra, doc))).toBe('');
      }
    });
  });

  const withSshKeygen = requireTool('ssh-keygen', 'openssh-client') ? describe : describe.skip;
  withSshKeygen('ssh-keygen', () => {
    let dir: string;
    beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'infra-schema-'))));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each([
      ['ed25519', []],
      ['ecdsa', ['-b', '256']],
      ['ecdsa', ['-b', '384']],
      ['ecdsa', ['-b', '521']],
      ['rsa', ['-b', '3072']],
    ])('accepts a %s %s key with a comment that has spaces', (type, bits) => {
      const file = join(dir, `${type}${bits.join('')}`);
      mustRun('ssh-keygen', ['-q', '-t', type, ...bits, '-N', '', '-C', 'alice on the laptop', '-f', file]);
      const doc = readYaml('keys/alice/member.yml');
      doc.ssh_keys[0].key = readFileSync(`${file}.pub`, 'utf8').trim();
      expect(describeErrors(errorsOf(validateMember, doc))).toBe('');
    });
  });
});

describe('the example registry gives the audit something to report (real tools)', () => {
  const infra = readYaml('infra.yml');
  const members = handles.map((handle) => ({ handle, ...readYaml(`keys/${handle}/member.yml`) }));
  const active = members.filter((m) => m.status === 'active');
  const activeKeys = active.flatMap((m) => (m.ssh_keys ?? []).map((k: any) => ({ ...k, handle: m.handle })));

  const withSshKeygen = requireTool('ssh-keygen', 'openssh-client') ? describe : describe.skip;
  withSshKeygen('ssh-keygen', () => {
    it('weak-key: an active member has an RSA key below min_rsa_bits, as ssh-keygen -l counts bits', () => {
      const weak = activeKeys.filter((k) => {
        const out = mustRun('ssh-keygen', ['-l', '-f', '-'], { input: `${k.key}\n` });
        return /\(RSA\)$/.test(out.trim()) && Number(out.split(' ')[0]) < infra.policy.ssh.min_rsa_bits;
      });
      expect(weak.map((k) => `${k.handle}/${k.name}`)).not.toEqual([]);
    });
  });

  const withGpg = requireTool('gpg', 'gnupg') ? describe : describe.skip;
  withGpg('gpg', () => {
    it.each(infra.admins as string[])('admin %s has a public OpenPGP key with an encryption subkey and their email', (admin) => {
      const file = join(ROOT, 'keys', admin, 'pgp.asc');
      expect(existsSync(file)).toBe(true);
      const home = mkdtempSync(join(tmpdir(), 'infra-gpg-'));
      try {
        const r = runSync('gpg', ['--homedir', home, '--batch', '--with-colons', '--show-keys', file]);
        expect(r.code).toBe(0);
        const records = r.stdout.split('\n').map((l) => l.split(':'));
        expect(records.filter((f) => f[0] === 'sec' || f[0] === 'ssb')).toEqual([]);
        expect(records.some((f) => f[0] === 'sub' && f[11].includes('e'))).toBe(true);
        const email = members.find((m) => m.handle === admin)!.email;
        expect(records.filter((f) => f[0] === 'uid').map((f) => f[9]).join('\n')).toContain(`<${email}>`);
      } finally {
        runSync('gpgconf', ['--homedir', home, '--kill', 'all']); // an agent gpg may have started
        rmSync(home, { recursive: true, force: true });
      }
    });
  });

  const withAnsible = requireTool('ansible', 'ansible') ? describe : describe.skip;
  withAnsible('ansible', () => {
    const listHosts = (inventory: string, pattern: string): string[] =>
      mustRun('ansible', ['-i', inventory, pattern, '--list-hosts'], { env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'false' }, timeoutMs: 60_000 })
        .split('\n')
        .slice(1)
        .map((l) => l.trim())
        .filter(Boolean);

    /** host -> active members any grant lets in, with hosts resolved by `ansible --list-hosts`. */
    function reach(): Map<string, Set<string>> {
      const byHost = new Map<string, Set<string>>();
      for (const [env, folder] of Object.entries(infra.environments as Record<string, string>)) {
        const inventory = ['hosts.yml', 'hosts'].map((f) => join(ROOT, folder, f)).find(existsSync)!;
        for (const h of listHosts(inventory, 'all')) byHost.set(`${env}/${h}`, new Set());
        for (const grant of infra.access) {
          if (grant.environments && !grant.environments.includes(env)) continue;
          const who = active.filter((m) => (m.groups ?? []).some((g: string) => grant.groups.includes(g)) && m.ssh_keys.length > 0);
          for (const h of listHosts(inventory, grant.hosts)) for (const m of who) byHost.get(`${env}/${h}`)!.add(m.handle);
        }
      }
      return byHost;
    }

    it('single-member-host: some host is reachable by fewer than min_members_per_host, the BBB hosts by more', () => {
      const byHost = reach();
      const min = infra.policy.audit.min_members_per_host;
      expect([...byHost].filter(([, who]) => who.size < min).map(([h]) => h)).not.toEqual([]);
      const bbb = [...byHost].filter(([h]) => /\/bbb/.test(h));
      expect(bbb.length).toBeGreaterThanOrEqual(5);
      for (const [, who] of bbb) expect(who.size).toBeGreaterThanOrEqual(min);
    });
  });
});
