/**
 * hole 10 (display), end to end with the real CLI: a member's name and key comment holding
 * right-to-left overrides, isolates and zero-width characters are accepted (they are how some names are
 * written) and never reach the terminal or --json raw; C1 controls (NEL, CSI) are refused at input with
 * the file and line, and the refusal itself prints nothing raw. `members show`, `keys list`, `vpn list`
 * and `audit` (table, markdown, JSON) each run as a process, with and without --json.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { copyExample } from '../helpers/example.js';
import { spawnCli } from '../helpers/cli.js';

const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
/** Nothing unsafe but the layout's line breaks (NO_COLOR is set, so not even colour escapes). */
const expectInert = (label: string, text: string) => expect([label, UNSAFE.test(text.replace(/\n/g, ''))]).toEqual([label, false]);

const BIDI_NAME = 'Alice \u202eeruoM\u202c \u2066iso\u2069 zw\u200bj';
const BIDI_COMMENT = 'alice@lap\u202etop';
const C1_NAME = 'Alice \u0085NEL \u009b31m';

/** The example registry with alice's name (and laptop key comment) replaced: written as YAML escapes, so the file itself is plain ASCII. */
async function registryWith(name: string, comment?: string): Promise<string> {
  const dir = await copyExample();
  const file = path.join(dir, 'keys/alice/member.yml');
  let text = await fs.readFile(file, 'utf8');
  const yamlEscaped = (s: string) => JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  text = text.replace(/^name: .*$/m, `name: ${yamlEscaped(name)}`);
  if (comment) text = text.replace(' alice@laptop\n', ` ${comment}\n`);
  await fs.writeFile(file, text);
  return dir;
}

const COMMANDS: string[][] = [['members', 'show', 'alice'], ['keys', 'list', 'alice'], ['vpn', 'list'], ['audit'], ['audit', '--format', 'markdown'], ['members', 'list']];

describe('names and comments with bidi overrides: accepted, shown escaped', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await registryWith(BIDI_NAME, BIDI_COMMENT);
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('check accepts them (a name is free text): its one problem is the example\'s own weak key of erin', async () => {
    const r = await spawnCli(['check', '--dir', dir]);
    expect(r.code).toBe(3);
    expect(r.stdout.trimEnd().split('\n')).toEqual([expect.stringMatching(/^keys\/erin\/member.yml:11: ssh_keys\[0\]\.key: RSA key of 2048 bits/)]);
  }, 60_000);

  it.each(COMMANDS.map((c) => [c.join(' '), c] as const))('%s: nothing raw on stdout or stderr, with and without --json', async (_, args) => {
    const plain = await spawnCli([...args, '--dir', dir]);
    expect(plain.code).toBe(0);
    expectInert('stdout', plain.stdout);
    expectInert('stderr', plain.stderr);
    const json = await spawnCli([...args, '--dir', dir, '--json']);
    expectInert('--json stdout', json.stdout);
    expectInert('--json stderr', json.stderr);
    JSON.parse(json.stdout);
  }, 60_000);

  it('members show: the name is there with its overrides replaced; --json gives it back exactly, escaped in the text', async () => {
    const plain = await spawnCli(['members', 'show', 'alice', '--dir', dir]);
    expect(plain.stdout.split('\n')[0]).toBe('alice: Alice \uFFFDeruoM\uFFFD \uFFFDiso\uFFFD zw\uFFFDj');
    const json = await spawnCli(['members', 'show', 'alice', '--dir', dir, '--json']);
    expect(json.stdout).toContain('"name": "Alice \\u202eeruoM\\u202c \\u2066iso\\u2069 zw\\u200bj"');
    expect(JSON.parse(json.stdout).member.name).toBe(BIDI_NAME);
  }, 60_000);

  it('keys list --json: the comment comes back exactly, escaped in the text', async () => {
    const json = await spawnCli(['keys', 'list', 'alice', '--dir', dir, '--json']);
    expect(json.stdout).toContain('alice@lap\\u202etop');
    const keys = JSON.parse(json.stdout).keys as Array<{ name: string; comment: string }>;
    expect(keys.find((k) => k.name === 'laptop')!.comment).toBe(BIDI_COMMENT);
  }, 60_000);
});

describe('names with C1 controls: refused at input, the refusal printed inert', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await registryWith(C1_NAME);
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it.each(COMMANDS.filter((c) => c[0] !== 'audit').map((c) => [c.join(' '), c] as const))('%s: exit 3 naming file and line, nothing raw', async (_, args) => {
    const plain = await spawnCli([...args, '--dir', dir]);
    expect(plain.code).toBe(3);
    expect(plain.stderr).toContain('keys/alice/member.yml:5: name: must not contain newlines, tabs or control characters');
    expectInert('stderr', plain.stderr);
    expect(plain.stdout).toBe('');
    const json = await spawnCli([...args, '--dir', dir, '--json']);
    expectInert('--json stdout', json.stdout);
    expect(JSON.parse(json.stdout).error.code).toBe(3);
  }, 60_000);

  it.each([[['audit']], [['audit', '--format', 'markdown']], [['audit', '--json']]])('%j: reports invalid-registry, nothing raw', async (args) => {
    const r = await spawnCli([...args, '--dir', dir]);
    expect(r.code).toBe(0); // findings, but no --fail-on
    expect(r.stdout).toContain('invalid-registry');
    expectInert('stdout', r.stdout);
    expectInert('stderr', r.stderr);
  }, 60_000);
});
