/**
 * Tokens, pure: the consumer grammar, due dates, rotation planning and bookkeeping, GitHub specifics,
 * and the validation of the token part of member.yml (with the line each problem is on).
 */
import fc from 'fast-check';
import { parseYamlFile, lineOf } from '../../src/adapters/yaml-load.js';
import {
  consumerDone,
  consumerKey,
  exposedTo,
  finishRotation,
  formatConsumer,
  generateGenericToken,
  githubNewTokenUrl,
  githubPermissions,
  githubRevokeUrl,
  githubTokenType,
  githubWebUrl,
  parseConsumer,
  parseGithubExpiration,
  planRotation,
  readSecretLine,
  reencrypted,
  startRotation,
  tokenDue,
  vaultFilePath,
} from '../../src/core/tokens.js';
import type { InfraConfig, TokenConsumer, TokenEntry } from '../../src/core/types.js';
import { DEFAULT_POLICY } from '../../src/core/types.js';
import { crossCheck, validateMember } from '../../src/core/validate.js';
import { thrown } from '../helpers/thrown.js';

describe('consumer CLI form', () => {
  it.each<[string, TokenConsumer]>([
    ['github_secret:example-coop/organizing:API_TOKEN_BOT', { github_secret: { repo: 'example-coop/organizing', name: 'API_TOKEN_BOT' } }],
    ['github_env_secret:example-coop/site:production:DEPLOY_TOKEN', { github_env_secret: { repo: 'example-coop/site', environment: 'production', name: 'DEPLOY_TOKEN' } }],
    ['github_env_secret:example-coop/site:prod deploy:DEPLOY_TOKEN', { github_env_secret: { repo: 'example-coop/site', environment: 'prod deploy', name: 'DEPLOY_TOKEN' } }],
    ['github_org_secret:example-coop:BOT_TOKEN', { github_org_secret: { org: 'example-coop', name: 'BOT_TOKEN' } }],
    ['ansible_vault_var:production:bots:roobot_github_token', { ansible_vault_var: { environment: 'production', group: 'bots', var: 'roobot_github_token' } }],
    ['github_secret:a/.github:_x', { github_secret: { repo: 'a/.github', name: '_x' } }],
  ])('%s', (text, consumer) => {
    expect(parseConsumer(text)).toEqual(consumer);
    expect(formatConsumer(consumer)).toBe(text);
  });

  it.each([
    ['', /is empty/],
    ['   ', /is empty/],
    ['github_secret:a/b:X\nansible_vault_var:production:bots:v', /one line/],
    ['github_secret:a/b:X\r', /one line/],
    [' github_secret:a/b:X', /spaces around/],
    ['gitlab_secret:a/b:X', /unknown kind "gitlab_secret"/],
    ['github_secret', /expected github_secret:OWNER\/REPO:NAME .*got 0/],
    ['github_secret:a/b', /expected github_secret:OWNER\/REPO:NAME/],
    ['github_secret:a/b:X:Y', /got 3/],
    ['github_secret::X', /OWNER\/REPO is empty/],
    ['github_secret:a/b:', /NAME is empty/],
    ['github_env_secret:a/b::X', /ENVIRONMENT is empty/],
    ['github_secret:organizing:X', /repo: must be OWNER\/REPO/],
    ['github_secret:../etc:X', /repo: must be OWNER\/REPO/],
    ['github_secret:a/..:X', /repo: must be OWNER\/REPO/],
    ['github_secret:a/b/c:X', /repo: must be OWNER\/REPO/],
    ['github_secret:-a/b:X', /repo: must be OWNER\/REPO/],
    ['github_secret:a/b:GITHUB_TOKEN', /reserved by GitHub/],
    ['github_secret:a/b:github_token', /reserved by GitHub/],
    ['github_secret:a/b:1TOKEN', /name: a GitHub secret name/],
    ['github_secret:a/b:API-TOKEN', /name: a GitHub secret name/],
    ['github_env_secret:a/b:../x:X', /environment: a GitHub environment name/],
    ['github_env_secret:a/b:..:X', /environment: a GitHub environment name/],
    ['github_org_secret:example_coop:X', /org: must be a GitHub organisation/],
    ['ansible_vault_var:Production:bots:v', /environment: must be an environment name/],
    ['ansible_vault_var:production:../../etc:v', /group: must be an Ansible group/],
    ['ansible_vault_var:production:bots/x:v', /group: must be an Ansible group/],
    ['ansible_vault_var:production:bots:roobot-token', /var: an Ansible variable name/],
    ['ansible_vault_var:production:bots:9lives', /var: an Ansible variable name/],
    ['ansible_vault_var:production:bots:lambda', /Python keyword/],
    ['ansible_vault_var:production:bots:None', /Python keyword/],
  ])('refuses %j', (text, message) => {
    const e = thrown(() => parseConsumer(text));
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(message);
    expect(e.message).not.toMatch(/[\n\r]/);
    expect(e.hint).toContain('github_env_secret:OWNER/REPO:ENVIRONMENT:NAME');
  });

  it('shows hostile input without its control characters, cut short', () => {
    const e = thrown(() => parseConsumer(`github_secret:\u001b[31m${'x'.repeat(200)}`));
    expect(e.message).not.toContain('\u001b');
    expect(e.message.length).toBeLessThan(300);
  });

  it('parse(format(c)) is c for every valid consumer', () => {
    const word = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/).filter((s) => !/^GITHUB_/i.test(s) && !['None', 'True', 'False', 'lambda', 'if', 'in', 'is', 'or', 'and', 'not', 'as', 'for', 'def', 'del', 'try'].includes(s));
    const login = fc.stringMatching(/^[a-z0-9]{1,10}(?:-[a-z0-9]{1,10})?$/);
    const repo = fc.tuple(login, fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,20}$/)).map(([o, n]) => `${o}/${n}`);
    const consumer: fc.Arbitrary<TokenConsumer> = fc.oneof(
      fc.record({ repo, name: word }).map((x) => ({ github_secret: x })),
      fc.record({ repo, environment: fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9 _.-]{0,10}[A-Za-z0-9_-]$/), name: word }).map((x) => ({ github_env_secret: x })),
      fc.record({ org: login, name: word }).map((x) => ({ github_org_secret: x })),
      fc.record({ environment: fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/), group: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,10}$/), var: word }).map((x) => ({ ansible_vault_var: x })),
    );
    fc.assert(fc.property(consumer, (c) => expect(parseConsumer(formatConsumer(c))).toEqual(c)));
  });

  it('treats GitHub names case-insensitively when comparing places', () => {
    expect(consumerKey(parseConsumer('github_secret:Example-Coop/Site:api_token'))).toBe(consumerKey(parseConsumer('github_secret:example-coop/site:API_TOKEN')));
    expect(consumerKey(parseConsumer('ansible_vault_var:production:bots:a'))).not.toBe(consumerKey(parseConsumer('ansible_vault_var:production:bots:A')));
  });

  it('names the vault file under the inventory folder', () => {
    expect(vaultFilePath('inventories/production/', 'bots')).toBe('inventories/production/group_vars/bots/infra.tokens.yml');
  });
});

describe('due dates', () => {
  const token = (extra: Partial<TokenEntry>): TokenEntry => ({ name: 't', kind: 'generic', consumers: [], ...extra });
  it.each<[string, Partial<TokenEntry>, string, number, { due?: string; status: string; reason: string }]>([
    ['rotated long ago', { rotated_at: '2026-01-01', rotate_every_days: 90 }, '2026-11-22', 30, { due: '2026-04-01', status: 'overdue', reason: 'schedule' }],
    ['due today is not yet overdue', { rotated_at: '2026-01-01', rotate_every_days: 10 }, '2026-01-11', 30, { due: '2026-01-11', status: 'due-soon', reason: 'schedule' }],
    ['due yesterday is overdue', { rotated_at: '2026-01-01', rotate_every_days: 10 }, '2026-01-12', 30, { due: '2026-01-11', status: 'overdue', reason: 'schedule' }],
    ['due at the horizon', { rotated_at: '2026-01-01', rotate_every_days: 90 }, '2026-03-02', 30, { due: '2026-04-01', status: 'due-soon', reason: 'schedule' }],
    ['due after the horizon', { rotated_at: '2026-01-01', rotate_every_days: 90 }, '2026-03-01', 30, { due: '2026-04-01', status: 'ok', reason: 'schedule' }],
    ['rotated today every 30 days is not due soon: the window is a third of the period', { rotated_at: '2026-01-01', rotate_every_days: 30 }, '2026-01-01', 30, { due: '2026-01-31', status: 'ok', reason: 'schedule' }],
    ['every 30 days: due soon 10 days before', { rotated_at: '2026-01-01', rotate_every_days: 30 }, '2026-01-21', 30, { due: '2026-01-31', status: 'due-soon', reason: 'schedule' }],
    ['every 30 days: 11 days before is not yet due soon', { rotated_at: '2026-01-01', rotate_every_days: 30 }, '2026-01-20', 30, { due: '2026-01-31', status: 'ok', reason: 'schedule' }],
    ['an expiry keeps the whole horizon', { kind: 'github', rotated_at: '2026-11-01', rotate_every_days: 30, expires_at: '2026-11-20' }, '2026-11-01', 30, { due: '2026-11-19', status: 'due-soon', reason: 'expiry' }],
    ['the policy default applies', { rotated_at: '2026-11-01' }, '2026-11-22', 30, { due: '2027-01-30', status: 'ok', reason: 'schedule' }],
    ['never rotated', {}, '2026-11-22', 30, { status: 'overdue', reason: 'never-rotated' }],
    ['a GitHub expiry before the schedule', { kind: 'github', rotated_at: '2026-11-01', rotate_every_days: 365, expires_at: '2026-12-01' }, '2026-11-22', 7, { due: '2026-11-30', status: 'ok', reason: 'expiry' }],
    ['a GitHub expiry after the schedule', { kind: 'github', rotated_at: '2026-11-01', rotate_every_days: 10, expires_at: '2027-12-01' }, '2026-11-22', 0, { due: '2026-11-11', status: 'overdue', reason: 'schedule' }],
    ['a leap day', { rotated_at: '2028-02-28', rotate_every_days: 1 }, '2028-02-29', 0, { due: '2028-02-29', status: 'due-soon', reason: 'schedule' }],
  ])('%s', (_what, extra, today, horizon, expected) => {
    expect(tokenDue(token(extra), 90, today, horizon)).toMatchObject(expected);
  });
});

describe('values', () => {
  it('a generic token is the base64url of the 32 bytes given', () => {
    const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 8 + 3);
    const token = generateGenericToken(bytes);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toEqual(Buffer.from(bytes));
    expect(generateGenericToken(new Uint8Array(32).fill(255))).toBe('_'.repeat(42) + '8');
    expect(() => generateGenericToken(new Uint8Array(16))).toThrow(/32 random bytes/);
  });

  it('reads one line from stdin, dropping only its line break', () => {
    expect(readSecretLine('ghp_abc\n', 'the token')).toBe('ghp_abc');
    expect(readSecretLine('ghp_abc\r\n', 'the token')).toBe('ghp_abc');
    expect(readSecretLine('pass word', 'the password', { allowSpaces: true })).toBe('pass word');
  });

  it.each([
    ['', /is empty/],
    ['  \n', /is empty/],
    ['\n', /is empty/],
    ['ghp_secret1\nghp_secret2', /line break in the middle/],
    ['ghp_secret1\rX', /line break in the middle/],
    ['ghp_\u0000secret', /control characters/],
    ['ghp secret', /spaces/],
    ['ghp_secret ', /spaces/],
  ])('refuses %j without showing it', (raw, message) => {
    const e = thrown(() => readSecretLine(raw, 'the token'));
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(message);
    for (const part of raw.split(/\s+/).filter((p) => p.length > 3)) expect(e.message).not.toContain(part);
  });
});

describe('GitHub specifics', () => {
  it.each([
    ['2027-01-30 12:00:00 UTC', '2027-01-30'],
    ['2027-01-30 00:30:00 +0100', '2027-01-29'],
    ['2027-01-30 23:30:00 -0800', '2027-01-31'],
    ['2027-01-30T12:00:00Z', '2027-01-30'],
    ['next tuesday', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('expiration header %j -> %j', (header, date) => {
    expect(parseGithubExpiration(header)).toBe(date);
  });

  it.each([
    [undefined, 'https://github.com'],
    ['https://api.github.com', 'https://github.com'],
    ['https://api.github.com/', 'https://github.com'],
    ['https://ghe.example.org/api/v3', 'https://ghe.example.org'],
    ['https://ghe.example.org/api/v3/', 'https://ghe.example.org'],
    ['https://api.coop.ghe.com', 'https://coop.ghe.com'],
    ['http://127.0.0.1:4321', 'http://127.0.0.1:4321'],
  ])('the web address of API %s is %s', (api, web) => {
    expect(githubWebUrl(api)).toBe(web);
  });

  it('the revoke page follows the token type and the server', () => {
    expect(githubTokenType('github_pat_11AAAA')).toBe('fine-grained');
    expect(githubTokenType('ghp_abc')).toBe('classic');
    expect(githubTokenType('gho_abc')).toBeUndefined();
    expect(githubRevokeUrl(undefined, 'fine-grained')).toBe('https://github.com/settings/personal-access-tokens');
    expect(githubRevokeUrl('https://ghe.example.org/api/v3', 'classic')).toBe('https://ghe.example.org/settings/tokens');
    expect(githubRevokeUrl()).toBe('https://github.com/settings/tokens');
    expect(githubNewTokenUrl('https://ghe.example.org/api/v3')).toBe('https://ghe.example.org/settings/personal-access-tokens/new');
  });

  it('lists the permissions the consumers need, grouped, once each', () => {
    const consumers = [
      'github_secret:example-coop/organizing:A',
      'github_secret:example-coop/organizing:B',
      'github_secret:Example-Coop/Organizing:C',
      'github_secret:example-coop/site:A',
      'github_env_secret:example-coop/site:production:D',
      'github_org_secret:example-coop:E',
      'ansible_vault_var:production:bots:v',
    ].map((c) => parseConsumer(c));
    expect(githubPermissions(consumers)).toEqual({
      fineGrained: [
        'Secrets: Read and write (repository) on example-coop/organizing, example-coop/site',
        'Environments: Read and write (repository) on example-coop/site',
        'Secrets: Read and write (organization) on example-coop',
      ],
      classicScopes: ['repo', 'admin:org'],
    });
    expect(githubPermissions([parseConsumer('ansible_vault_var:production:bots:v')])).toEqual({ fineGrained: [], classicScopes: [] });
  });
});

describe('rotation planning and bookkeeping', () => {
  const c1 = 'github_secret:example-coop/organizing:API_TOKEN_BOT';
  const c2 = 'github_env_secret:example-coop/site:production:DEPLOY_TOKEN';
  const c3 = 'ansible_vault_var:production:bots:roobot_github_token';
  const github: TokenEntry = { name: 'github', kind: 'github', rotated_at: '2026-08-01', rotated_by: 'alice', expires_at: '2026-12-01', readable_by: ['alice', 'carol'], consumers: [c1, c2, c3].map((c) => parseConsumer(c)) };

  it('updates every consumer in member.yml order, then stores the value and points at the revoke page', () => {
    const plan = planRotation({ handle: 'roobot', token: github, admins: ['alice', 'bob'], githubApiUrl: 'https://ghe.example.org/api/v3', vaultFiles: { [c3]: 'inventories/production/group_vars/bots/infra.tokens.yml' } });
    expect(plan.consumers.map(formatConsumer)).toEqual([c1, c2, c3]);
    expect(plan).toMatchObject({ token: 'roobot/github', resume: false, value_from: 'stdin-or-prompt', value_file: 'keys/roobot/tokens/github.asc', pending_file: 'keys/roobot/tokens/github.pending.asc', encrypt_to: ['alice', 'bob'], already_done: [] });
    expect(plan.steps[0]).toMatch(/GET \/user/);
    expect(plan.steps[1]).toMatch(/encrypted to alice, bob in keys\/roobot\/tokens\/github\.pending\.asc/);
    expect(plan.steps.slice(2, 5)).toEqual([
      'write GitHub Actions secret API_TOKEN_BOT of example-coop/organizing',
      'write GitHub Actions secret DEPLOY_TOKEN of example-coop/site, environment production',
      'write ansible-vault variable roobot_github_token (production, group bots) in inventories/production/group_vars/bots/infra.tokens.yml',
    ]);
    expect(plan.steps.at(-1)).toBe('revoke the old token at https://ghe.example.org/settings/tokens (signed in as the bot)');
  });

  it('a matrix rotation logs in first and logs the old token out last; a generic one generates', () => {
    const matrix = planRotation({ handle: 'roobot', token: { name: 'matrix', kind: 'matrix', homeserver: 'https://matrix.example', consumers: [parseConsumer(c3)] }, admins: ['alice'] });
    expect(matrix.value_from).toBe('matrix-login');
    expect(matrix.steps[0]).toMatch(/log in to https:\/\/matrix\.example .*new device/);
    expect(matrix.steps.at(-1)).toMatch(/log out the old access token/);
    const generic = planRotation({ handle: 'roobot', token: { name: 'hook', kind: 'generic', consumers: [] }, admins: ['alice'] });
    expect(generic.value_from).toBe('generated');
    expect(generic.steps).toHaveLength(3);
  });

  it('resumes with the consumers still left, in member.yml order', () => {
    const token = { ...github, pending: { started_at: '2026-11-29', started_by: 'alice', left: [c3, c1] } };
    const plan = planRotation({ handle: 'roobot', token, admins: ['alice', 'bob'], resume: true });
    expect(plan.consumers.map(formatConsumer)).toEqual([c1, c3]);
    expect(plan.already_done).toEqual([c2]);
    expect(plan.value_from).toBe('pending');
    expect(plan.steps[0]).toMatch(/decrypt the pending value .*--key/);
  });

  it('refuses to resume nothing, to start over a pending rotation, without admins, a matrix token without homeserver', () => {
    const none = thrown(() => planRotation({ handle: 'roobot', token: github, admins: ['alice'], resume: true }));
    expect([none.exitCode, none.message, none.hint]).toEqual([3, 'roobot/github: no rotation is in progress, nothing to resume', 'infra tokens rotate roobot/github']);
    const pending = thrown(() => planRotation({ handle: 'roobot', token: startRotation(github, '2026-11-29', 'bob'), admins: ['alice'] }));
    expect(pending.message).toMatch(/started 2026-11-29 by bob is not finished \(3 consumer\(s\) left\)/);
    expect(pending.hint).toMatch(/--resume --key/);
    expect(thrown(() => planRotation({ handle: 'roobot', token: github, admins: [] })).message).toMatch(/no admins/);
    expect(thrown(() => planRotation({ handle: 'roobot', token: { name: 'm', kind: 'matrix', consumers: [] }, admins: ['alice'] })).message).toMatch(/needs homeserver/);
  });

  it('records each consumer done, then the rotation once, with new readers and expiry', () => {
    let token = startRotation(github, '2026-11-29', 'bob');
    expect(token.pending).toEqual({ started_at: '2026-11-29', started_by: 'bob', left: [c1, c2, c3] });
    expect(() => finishRotation(token, '2026-11-29', 'bob', ['alice', 'bob'])).toThrow(/3 consumer/);
    token = consumerDone(token, parseConsumer('github_secret:Example-Coop/Organizing:api_token_bot'));
    expect(token.pending!.left).toEqual([c2, c3]);
    token = consumerDone(consumerDone(token, parseConsumer(c3)), parseConsumer(c2));
    const done = finishRotation(token, '2026-11-30', 'bob', ['alice', 'bob'], '2027-02-28');
    expect(done).toEqual({ ...github, rotated_at: '2026-11-30', rotated_by: 'bob', expires_at: '2027-02-28', readable_by: ['alice', 'bob'] });
    expect(finishRotation(token, '2026-11-30', 'bob', ['alice'])).not.toHaveProperty('expires_at');
    expect(github.pending).toBeUndefined(); // inputs are not mutated
  });

  it('reencrypt adds readers and never removes one; those no longer admins are exposed', () => {
    const token = reencrypted(github, ['bob', 'alice', 'dana']);
    expect(token.readable_by).toEqual(['alice', 'carol', 'bob', 'dana']);
    expect(exposedTo(token, ['bob', 'alice', 'dana'])).toEqual(['carol']);
    expect(exposedTo({ ...github, readable_by: undefined }, ['alice'])).toEqual([]);
  });
});

describe('validation of tokens in member.yml', () => {
  const FILE = 'keys/roobot/member.yml';
  const validate = (text: string, handle = 'roobot') => {
    const { file, problems } = parseYamlFile(FILE, text);
    expect(problems).toEqual([]);
    return validateMember(handle, file.doc.toJS(), FILE, (p) => lineOf(file, p));
  };
  const bot = (tokens: string) => `name: roobot\nkind: bot\norg: hypha\nstatus: active\ntokens:\n${tokens}`;

  it('accepts the whole agreed shape', () => {
    const { member, problems } = validate(
      bot(`  - name: github
    kind: github
    rotate_every_days: 90
    rotated_at: 2026-08-01
    rotated_by: alice
    expires_at: 2027-01-30
    readable_by: [alice, bob]
    consumers:
      - github_secret: {repo: example-coop/organizing, name: API_TOKEN_BOT}
      - github_env_secret: {repo: example-coop/site, environment: production, name: DEPLOY_TOKEN}
      - github_org_secret: {org: example-coop, name: BOT_TOKEN}
      - ansible_vault_var: {environment: production, group: bots, var: roobot_github_token}
    pending:
      started_at: 2026-11-29
      started_by: alice
      left:
        - github_secret:example-coop/organizing:API_TOKEN_BOT
  - name: matrix
    kind: matrix
    homeserver: https://matrix.example/
    consumers: []
`),
    );
    expect(problems).toEqual([]);
    expect(member!.tokens[0]).toEqual({
      name: 'github',
      kind: 'github',
      rotate_every_days: 90,
      rotated_at: '2026-08-01',
      rotated_by: 'alice',
      expires_at: '2027-01-30',
      readable_by: ['alice', 'bob'],
      consumers: [
        { github_secret: { repo: 'example-coop/organizing', name: 'API_TOKEN_BOT' } },
        { github_env_secret: { repo: 'example-coop/site', environment: 'production', name: 'DEPLOY_TOKEN' } },
        { github_org_secret: { org: 'example-coop', name: 'BOT_TOKEN' } },
        { ansible_vault_var: { environment: 'production', group: 'bots', var: 'roobot_github_token' } },
      ],
      pending: { started_at: '2026-11-29', started_by: 'alice', left: ['github_secret:example-coop/organizing:API_TOKEN_BOT'] },
    });
    expect(member!.tokens[1].homeserver).toBe('https://matrix.example');
  });

  it('reports every problem at once, each on its line', () => {
    const text = bot(`  - name: github
    kind: github
    homeserver: https://matrix.example
    consumers:
      - github_secret: {repo: organizing, name: GITHUB_TOKEN}
      - github_env_secret: {repo: a/b, name: X}
      - github_org_secret: {org: example-coop, name: X, visibility: all}
      - ansible_vault_var: {environment: production, group: bots, var: roobot-token}
      - slack: {url: x}
      - github_secret: {repo: Example-Coop/Site, name: api}
      - github_secret: {repo: example-coop/site, name: API}
    pending:
      started_at: soon
      left:
        - github_secret:example-coop/other:API
        - ansible_vault_var:production:../x:v
        - github_secret:example-coop/site:API
        - github_secret:example-coop/site:api
  - name: matrix
    kind: matrix
    expires_at: 2027-01-01
    readable_by: [alice, Alice, alice]
    consumers: []
  - name: matrix2
    kind: matrix
    homeserver: http://matrix.example
  - name: generic
    kind: generic
  - name: generic
    kind: generic
`);
    const { member, problems } = validate(text);
    expect(member).toBeUndefined();
    const lines = text.split('\n');
    const got = problems.map((p) => `${p.line}: ${p.field}: ${p.message}`);
    const lineOfText = (snippet: string, from = 0) => lines.findIndex((l, i) => i >= from && l.includes(snippet)) + 1;
    expect(got).toEqual([
      `${lineOfText('homeserver: https')}: tokens[0].homeserver: only matrix tokens have a homeserver`,
      `${lineOfText('repo: organizing')}: tokens[0].consumers[0].github_secret.repo: must be OWNER/REPO (a GitHub owner, then the repository name: letters, digits, . _ -)`,
      `${lineOfText('repo: organizing')}: tokens[0].consumers[0].github_secret.name: secret names starting with GITHUB_ are reserved by GitHub`,
      `${lineOfText('github_env_secret')}: tokens[0].consumers[1].github_env_secret.environment: is required`,
      `${lineOfText('visibility')}: tokens[0].consumers[2].github_org_secret.visibility: unknown field (expected one of: org, name)`,
      `${lineOfText('roobot-token')}: tokens[0].consumers[3].ansible_vault_var.var: an Ansible variable name is letters, digits and _, not starting with a digit`,
      `${lineOfText('slack')}: tokens[0].consumers[4]: must have exactly one of github_secret, github_env_secret, github_org_secret, ansible_vault_var`,
      `${lineOfText('name: API}')}: tokens[0].consumers[6]: github_secret:example-coop/site:API is listed twice`,
      `${lineOfText('started_at: soon')}: tokens[0].pending.started_at: must be a date YYYY-MM-DD, got string "soon"`,
      `${lineOfText('started_at: soon')}: tokens[0].pending.started_by: is required`,
      `${lineOfText('example-coop/other')}: tokens[0].pending.left[0]: github_secret:example-coop/other:API is not among this token's consumers`,
      `${lineOfText('../x')}: tokens[0].pending.left[1]: pending consumer "ansible_vault_var:production:../x:v": group: must be an Ansible group name (letters, digits, _ and -, not starting with a digit)`,
      `${lineOfText('example-coop/site:api')}: tokens[0].pending.left[3]: github_secret:example-coop/site:api is listed twice`,
      `${lineOfText('expires_at')}: tokens[1].expires_at: only github tokens have expires_at (GitHub reports it)`,
      `${lineOfText('name: matrix')}: tokens[1].homeserver: is required for a matrix token (e.g. https://matrix.example)`,
      `${lineOfText('readable_by')}: tokens[1].readable_by[1]: must match ^[a-z][a-z0-9-]{0,31}$`,
      `${lineOfText('readable_by')}: tokens[1].readable_by[2]: alice is listed twice`,
      `${lineOfText('http://matrix')}: tokens[2].homeserver: must be an https:// URL`,
      `${lineOfText('name: generic', lineOfText('name: generic'))}: tokens[4].name: token "generic" is listed twice`,
    ]);
  });

  it('only bots hold tokens', () => {
    const text = `name: Alice\nkind: human\norg: hypha\nstatus: active\ntokens:\n  - name: t\n    kind: generic\n    consumers: []\n`;
    const { problems } = validate(text, 'alice');
    expect(problems.map((p) => `${p.line}: ${p.field}: ${p.message}`)).toEqual(['6: tokens: only bots hold tokens (kind: bot)']);
  });

  it('a vault consumer must name an environment of infra.yml', () => {
    const { member } = validate(bot(`  - name: t\n    kind: generic\n    consumers:\n      - ansible_vault_var: {environment: staging, group: bots, var: v}\n      - ansible_vault_var: {environment: production, group: bots, var: v}\n`));
    const config = { environments: { production: 'inventories/production' }, admins: [], vpn: {}, access: [], org: 'x', policy: DEFAULT_POLICY } as InfraConfig;
    const at = { configFile: 'infra.yml', configLine: () => undefined, memberFile: (h: string) => `keys/${h}/member.yml`, memberLine: () => 9 };
    expect(crossCheck(config, [member!], at)).toEqual([
      { file: FILE, line: 9, field: 'tokens[0].consumers[0].ansible_vault_var.environment', message: 'no environment "staging" in infra.yml (known: production)' },
    ]);
  });
});

describe('the leak detector (test/helpers/secrets.ts)', () => {
  const SECRET = 'tok_Mq3vX8nL1mZ7pK2sW5yB9cJ3hF6dG0aT';
  it('finds the secret, a 16-character piece of it, or its escaped form, and says where but not what', async () => {
    const { findSecret, expectNoSecret } = await import('../helpers/secrets.js');
    expect(findSecret(SECRET, { stdout: 'nothing here', stderr: `value=${SECRET}` })).toEqual(['stderr at offset 6']);
    expect(findSecret(SECRET, [`cut: ${SECRET.slice(5, 25)}…`])).toEqual(['#0 at offset 5 (a piece of it)']);
    expect(findSecret(SECRET, { file: Buffer.from(`x: "${SECRET}"`) })).toEqual(['file at offset 4']);
    expect(() => expectNoSecret(SECRET, { out: SECRET })).toThrow(/^the secret leaked into: out at offset 0$/);
    expect(() => expectNoSecret(SECRET, { out: SECRET.slice(0, 15), err: undefined })).not.toThrow();
  });
});
