/**
 * A registry for token rotation tests: admins alice and bob with real OpenPGP keys (made once per test
 * file), a bot `roobot` holding a GitHub token with five consumers (repository, environment and
 * organisation secrets, and two vault variables), a generic token and a Matrix token, an inventory with
 * the `bots` group, and a vault password file. Plus what a test needs to read the results back.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { readVaultVar, vaultDecrypt } from './vault-vars.js';
import { decryptWithKey, encryptToAdmins } from '../../src/adapters/openpgp-tokens.js';
import { filesUnder } from './secrets.js';
import { makeAdmin, type TestAdmin } from './pgp-keys.js';
import { baseConfig, makeRegistry, memberData } from './registry-fixture.js';

export const VAULT_PASSWORD = 'vault password of the test inventory';
export const BOT_LOGIN = 'roobot-gh';
/** The GitHub token a rotation brings in; the fake GitHub knows it as the bot's. */
export const NEW_GITHUB_TOKEN = 'github_pat_11NEWtokenOFroobotFORtests0123456789abcdefABCDEF';
export const OLD_GITHUB_TOKEN = 'github_pat_11OLDtokenOFroobotFORtests0123456789abcdefABCDEF';
export const OTHER_LOGIN_TOKEN = 'github_pat_11SOMEONEelsesTOKENforTESTS0123456789abcdefABCD';
export const READ_ONLY_TOKEN = 'github_pat_11READonlyTOKENofROOBOTfortests0123456789abcdef';
export const EXPIRATION = '2027-02-27 12:00:00 UTC';

export const GITHUB_CONSUMERS = [
  { github_secret: { repo: 'example-coop/organizing', name: 'API_TOKEN_BOT' } },
  { ansible_vault_var: { environment: 'production', group: 'bots', var: 'roobot_github_token' } },
  { github_env_secret: { repo: 'example-coop/site', environment: 'production', name: 'DEPLOY_TOKEN' } },
  { github_org_secret: { org: 'example-coop', name: 'BOT_TOKEN' } },
  { github_secret: { repo: 'example-coop/site', name: 'API_TOKEN_BOT' } },
];
/** Where each GitHub consumer's value lands in the fake GitHub (see fake-github `received`). */
export const FAKE_KEYS = ['repo:example-coop/organizing:API_TOKEN_BOT', 'env:example-coop/site:production:DEPLOY_TOKEN', 'org:example-coop:BOT_TOKEN', 'repo:example-coop/site:API_TOKEN_BOT'];

export const fakeGithubData = () => ({
  tokens: {
    [NEW_GITHUB_TOKEN]: { login: BOT_LOGIN, expiration: EXPIRATION },
    [OLD_GITHUB_TOKEN]: { login: BOT_LOGIN },
    [OTHER_LOGIN_TOKEN]: { login: 'someone-else' },
    [READ_ONLY_TOKEN]: { login: BOT_LOGIN, canWriteSecrets: false },
  },
  repos: { 'example-coop/organizing': {}, 'example-coop/site': { environments: ['production'] } },
  orgs: { 'example-coop': { secrets: { BOT_TOKEN: 'all' as const } } },
});

export interface Admins {
  alice: TestAdmin;
  bob: TestAdmin;
}

export async function makeAdmins(): Promise<Admins> {
  return { alice: await makeAdmin('alice'), bob: await makeAdmin('bob', { passphrase: 'correct horse battery staple' }) };
}

export interface TokenFixtureOptions {
  /** Matrix homeserver URL for roobot/chat (default: a closed port). */
  homeserver?: string;
  /** Stored values, by token name (encrypted to both admins). */
  stored?: Record<string, string>;
  /** Extra generic-token consumers (to measure many). */
  genericConsumers?: unknown[];
  hookRotatedAt?: string;
}

export async function tokenRegistry(admins: Admins, opts: TokenFixtureOptions = {}): Promise<string> {
  const root = await makeRegistry({
    config: baseConfig({ admins: ['alice', 'bob'] }),
    members: {
      alice: memberData('alice'),
      bob: memberData('bob'),
      carol: memberData('carol'),
      roobot: memberData('roobot', {
        kind: 'bot',
        github: BOT_LOGIN,
        tokens: [
          { name: 'github', kind: 'github', rotate_every_days: 90, rotated_at: '2026-01-10', rotated_by: 'alice', consumers: GITHUB_CONSUMERS },
          {
            name: 'hook',
            kind: 'generic',
            rotated_at: opts.hookRotatedAt ?? '2026-01-10',
            rotated_by: 'bob',
            consumers: opts.genericConsumers ?? [
              { github_secret: { repo: 'example-coop/organizing', name: 'WEBHOOK_SECRET' } },
              { ansible_vault_var: { environment: 'production', group: 'bots', var: 'roobot_webhook_secret' } },
            ],
          },
          {
            name: 'chat',
            kind: 'matrix',
            rotated_at: '2026-05-01',
            rotated_by: 'bob',
            homeserver: opts.homeserver ?? 'http://127.0.0.1:9',
            consumers: [{ ansible_vault_var: { environment: 'production', group: 'bots', var: 'roobot_matrix_token' } }],
          },
        ],
      }),
    },
    files: {
      'keys/alice/pgp.asc': admins.alice.publicKey,
      'keys/bob/pgp.asc': admins.bob.publicKey,
      'inventories/production/hosts.yml': 'all:\n  children:\n    bots:\n      hosts:\n        web1:\n',
      'inventories/production/group_vars/bots/infra.tokens.yml': '# kept by people\nroobot_home: /srv/roobot\n',
      'vault-pass': `${VAULT_PASSWORD}\n`,
    },
  });
  await fs.chmod(path.join(root, 'vault-pass'), 0o600);
  const now = new Date('2026-06-01T00:00:00Z');
  const keys = [
    { handle: 'alice', armoredKey: admins.alice.publicKey },
    { handle: 'bob', armoredKey: admins.bob.publicKey },
  ];
  for (const [name, value] of Object.entries(opts.stored ?? { github: OLD_GITHUB_TOKEN })) {
    await fs.mkdir(path.join(root, 'keys/roobot/tokens'), { recursive: true });
    await fs.writeFile(path.join(root, `keys/roobot/tokens/${name}.asc`), await encryptToAdmins(value, keys, now));
  }
  return root;
}

export async function tokenOf(root: string, name: string): Promise<Record<string, any>> {
  const data = parse(await fs.readFile(path.join(root, 'keys/roobot/member.yml'), 'utf8'));
  return data.tokens.find((t: { name: string }) => t.name === name);
}

/** The value stored in a token file, decrypted with alice's key. */
export async function storedValue(root: string, admins: Admins, rel: string): Promise<string> {
  return decryptWithKey(await fs.readFile(path.join(root, rel), 'utf8'), admins.alice.privateKey);
}

export async function vaultValue(root: string, varName: string, group = 'bots'): Promise<string | undefined> {
  const text = await fs.readFile(path.join(root, `inventories/production/group_vars/${group}/infra.tokens.yml`), 'utf8');
  const envelope = readVaultVar(text, varName);
  return envelope === undefined ? undefined : vaultDecrypt(envelope, VAULT_PASSWORD);
}

/** Every file of the registry except the OpenPGP messages (random armor could match by chance). */
export const plainFiles = (root: string) => filesUnder(root, (rel) => rel.endsWith('.asc'));

export async function writeKey(root: string, name: string, armored: string): Promise<string> {
  const file = path.join(root, '..', `${path.basename(root)}-${name}`);
  await fs.writeFile(file, armored, { mode: 0o600 });
  return file;
}
