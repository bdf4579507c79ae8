/**
 * Every command's --json output has a JSON Schema under schema/output/ (docs/reference.md "JSON output"):
 * - one schema per command that has --json (the oclif manifest says which), and none for no command;
 * - the schemas are the ones scripts/output-schemas.js derives from the commands' result types, so a field
 *   added in code and not in the schema fails here;
 * - the real output of each command, run in-process (as oclif runs it) with --json on a copy of the example registry,
 *   validates against its schema (closed objects: an unknown field fails), and a failure's output against
 *   error.schema.json.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { generatePrivateKey, publicKeyOf } from '../../src/core/wireguard.js';
import { run } from '../helpers/cli.js';
import { copyExample, REPO_ROOT, tempDir } from '../helpers/example.js';
import { ed25519Line } from '../helpers/keys.js';

const OUT = path.join(REPO_ROOT, 'schema', 'output');
const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, { enableJsonFlag?: boolean }> };
const jsonCommands = Object.keys(manifest.commands)
  .filter((id) => manifest.commands[id].enableJsonFlag)
  .map((id) => id.split(':').join(' '))
  .sort();
const schemaFile = (id: string) => `${id.split(' ').join('-')}.schema.json`;

const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
const validators = new Map<string, ValidateFunction>();
const validatorFor = (file: string): ValidateFunction => {
  let v = validators.get(file);
  if (!v) {
    v = ajv.compile(JSON.parse(readFileSync(path.join(OUT, file), 'utf8')));
    validators.set(file, v);
  }
  return v;
};

/**
 * The output validated against the command's schema, or error.schema.json when it failed with an error
 * object (a verdict such as `check`'s exit 3 or 4 prints the command's own object).
 */
function expectValid(id: string, code: number, stdout: string): void {
  const doc = JSON.parse(stdout);
  const file = code !== 0 && Object.hasOwn(doc, 'error') ? 'error.schema.json' : schemaFile(id);
  const validate = validatorFor(file);
  const ok = validate(doc);
  expect([file, ok ? [] : validate.errors!.map((e) => `${e.instancePath || '(root)'} ${e.message} ${JSON.stringify(e.params)}`)]).toEqual([file, []]);
}

describe('the schemas', () => {
  it('every command with --json has a schema, and every schema a command', () => {
    expect(jsonCommands.length).toBeGreaterThan(30);
    const have = readdirSync(OUT).filter((f) => f !== 'error.schema.json').sort();
    expect(have).toEqual(jsonCommands.map(schemaFile).sort());
  });

  // About 10 s of CPU (the TypeScript checker over src/commands); the wall-clock bound is for a loaded machine.
  it('are what the commands\' result types say (node scripts/output-schemas.js --check)', () => {
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts/output-schemas.js'), '--check'], { encoding: 'utf8', timeout: 300_000 });
    expect([r.status, r.signal, r.stderr]).toEqual([0, null, '']);
  }, 310_000);

  it.each([...jsonCommands.map(schemaFile), 'error.schema.json'])('%s is draft 2020-12, compiles in strict mode, and closes its objects', (file) => {
    const schema = JSON.parse(readFileSync(path.join(OUT, file), 'utf8'));
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toMatch(new RegExp(`/schema/output/${file.replace(/\./g, '\\.')}$`));
    expect(() => new Ajv2020({ strict: true, strictRequired: false }).compile(schema)).not.toThrow();
    const open: string[] = [];
    const walk = (node: unknown, where: string): void => {
      if (!node || typeof node !== 'object') return;
      const obj = node as Record<string, unknown>;
      if (obj.type === 'object' && obj.additionalProperties === undefined) open.push(where);
      for (const [k, v] of Object.entries(obj)) walk(v, `${where}/${k}`);
    };
    walk(schema, '#');
    expect(open).toEqual([]);
  });

  it('a closed schema refuses an unknown field (the check below can fail)', () => {
    const validate = validatorFor(schemaFile('members list'));
    expect(validate({ members: [] })).toBe(true);
    expect(validate({ members: [], extra: 1 })).toBe(false);
    expect(validatorFor('error.schema.json')({ error: { code: 3, message: 'x', secret: 'y' } })).toBe(false);
  });
});

const wgKey = () => publicKeyOf(generatePrivateKey(randomBytes));

/**
 * [command id, args after the id (FILE a scratch file, WGKEY a new WireGuard key; AFTER-CA-INIT runs
 * `ca init` first, IN-GIT commits the copy to a new git repository first), the exit code, what the scratch
 * file holds]. Commands whose success needs an admin's private key (tokens reencrypt, vault password and
 * rotate, certs sign) or a signing set-up (approve) are run to the refusal a user without one meets: that
 * is their --json output too.
 */
type Case = [string, string[], number[], (() => string)?];
const CASES: Case[] = [
  ['init', ['--dir', 'EMPTY', '--org', 'Test Co-op'], [0]],
  ['check', [], [3]],
  ['members list', [], [0]],
  ['members show', ['alice'], [0]],
  ['members show', ['carol'], [0]],
  ['members show', ['roobot'], [0]],
  ['members add', ['gina', '--name', 'Gina Rossi', '--org', 'agaric', '--email', 'gina@agaric.example', '--groups', 'infra'], [0]],
  ['members add', ['roobot2', '--bot', '--name', 'Roobot Two', '--org', 'example-coop'], [0]],
  ['members edit', ['alice', '--name', 'Alice Liddell'], [0]],
  ['members offboard', ['frank', '--date', '2026-11-20'], [0]],
  ['members offboard', ['zed'], [3]],
  ['keys list', ['alice'], [0]],
  ['keys add', ['frank', 'FILE', '--name', 'phone'], [0], () => `${ed25519Line('frank@phone')}\n`],
  ['keys remove', ['alice', 'workstation'], [0]],
  ['keys check', ['FILE'], [4], () => `${ed25519Line('a@b')}\nssh-dss AAAAB3NzaC1kc3MAAACBAP8= old\nnot a key\n`],
  ['render', [], [0]],
  ['render', ['--check'], [4]],
  ['audit', ['--as-of', '2026-11-29'], [0]],
  ['grants list', [], [0]],
  ['grants add', ['--groups', 'monitoring', '--hosts', 'web', '--user', 'monitor'], [0]],
  ['grants remove', ['2'], [0]],
  ['grants remove', ['99'], [3]],
  ['admins add', ['carol'], [3]],
  ['admins remove', ['bob'], [0]],
  ['env add', ['lab', 'inventories/lab', '--host', 'lab1=192.0.2.7'], [0]],
  ['vpn list', [], [0]],
  ['vpn join', ['alice', '--device', 'phone', '--public-key', 'WGKEY'], [0]],
  ['vpn rekey', ['alice', '--device', 'laptop', '--public-key', 'WGKEY'], [0]],
  ['vpn leave', ['alice', '--device', 'laptop'], [0]],
  ['vpn network add', ['lab', '--ipv4', '10.88.0.0/24', '--endpoint', 'vpn.example.org:51821', '--servers', 'vpn', '--server-public-key', 'WGKEY'], [0]],
  ['vpn status', ['FILE'], [4], () => `${['wg0', generatePrivateKey(randomBytes), wgKey(), '51820', 'off'].join('\t')}\n${['wg0', wgKey(), '(none)', '198.51.100.7:41000', '10.77.0.200/32', '0', '0', '0', '25'].join('\t')}\n`],
  ['tokens list', [], [0]],
  ['tokens show', ['roobot/github'], [0]],
  ['tokens rotate', ['roobot/webhook-secret', '--dry-run'], [0]],
  ['tokens add', ['roobot', 'hook', '--kind', 'generic', '--consumer', 'github_secret:example-coop/site:HOOK'], [0]],
  ['tokens reencrypt', [], [2]],
  ['vault init', [], [3]],
  ['vault password', [], [2]],
  ['vault rotate', [], [2]],
  ['ca init', [], [0]],
  ['ca rotate', [], [3]],
  ['ca rotate', ['AFTER-CA-INIT'], [0]],
  ['certs list', [], [0]],
  ['certs sign', ['alice', '--hours', '8'], [2]],
  ['certs revoke', ['alice'], [0]],
  ['verify', [], [3]],
  ['verify', ['IN-GIT'], [0, 4]],
  ['approve', [], [3]],
];

describe('real --json output validates', () => {
  // Who is acting, and no credential from the machine running the tests.
  const ENV = { INFRA_ADMIN: 'alice', GITHUB_TOKEN: undefined, ANSIBLE_VAULT_PASSWORD_FILE: undefined, INFRA_DIR: undefined };
  const saved = Object.fromEntries(Object.keys(ENV).map((k) => [k, process.env[k]]));
  const put = (vars: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  };
  beforeAll(() => put(ENV));
  afterAll(() => put(saved));

  it('every command is run here at least once', () => {
    expect([...new Set(CASES.map((c) => c[0]))].sort()).toEqual(jsonCommands);
  });

  // Four arguments each, always: jest takes a fourth parameter the case lacks for a `done` callback.
  it.each(CASES.map(([id, args, codes, fileText]) => [id, args, codes, fileText ?? null] as const))('infra %s %j', async (id, args, codes, fileText) => {
    const dir = await copyExample();
    const scratch = path.join(await tempDir('infra-json-schema-'), 'input');
    if (fileText) await fs.writeFile(scratch, fileText());
    if (args.includes('AFTER-CA-INIT')) expect((await run(['ca', 'init', '--dir', dir, '--json'])).code).toBe(0);
    if (args.includes('IN-GIT')) {
      const git = (...a: string[]) => expect(spawnSync('git', ['-C', dir, '-c', 'user.name=T', '-c', 'user.email=t@example.org', '-c', 'commit.gpgsign=false', ...a], { timeout: 30_000 }).status).toBe(0);
      git('init', '-q');
      git('add', '.');
      git('commit', '-qm', 'the example registry');
    }
    const argv = [
      ...id.split(' '),
      ...args.filter((a) => !['AFTER-CA-INIT', 'IN-GIT'].includes(a)).map((a) => (a === 'FILE' ? scratch : a === 'WGKEY' ? wgKey() : a)),
      ...(args.includes('EMPTY') ? [] : ['--dir', dir]),
      '--json',
    ];
    if (args.includes('EMPTY')) argv[argv.indexOf('EMPTY')] = path.join(await tempDir('infra-json-init-'), 'registry');
    const r = await run(argv);
    expect([r.code, codes.includes(r.code) ? 'allowed' : r.stdout + r.stderr]).toEqual([r.code, 'allowed']);
    expectValid(id, r.code, r.stdout);
  }, 60_000);
});
