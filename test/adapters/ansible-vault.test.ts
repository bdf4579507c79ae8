/**
 * The vault 1.1 format with node:crypto, the vault password read as Ansible reads it, and the edit of
 * infra.tokens.yml that keeps everything else. The real ansible-vault and ansible check the same
 * things in test/real/ansible-vault.test.ts.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { readVaultPasswordFile, setVaultVar, vaultBlock, vaultEncrypt, VAULT_HEADER } from '../../src/adapters/ansible-vault.js';
import { readVaultVar, vaultDecrypt, writeVaultVar } from '../helpers/vault-vars.js';
import { rejection, thrown } from '../helpers/thrown.js';

const TOKEN = 'tok_Zx81mQ0pL2vN7bR4sW9yK3cJ6hF5dG1a';
const PASSWORD = 'vault-Pw-7hq2Lm9xR4t';


describe('vault 1.1 envelope', () => {
  it('has the header, 80-column hex lines and a final newline, and decrypts', () => {
    const envelope = vaultEncrypt(TOKEN, PASSWORD);
    const lines = envelope.split('\n');
    expect(lines[0]).toBe(VAULT_HEADER);
    expect(lines.at(-1)).toBe('');
    const body = lines.slice(1, -1);
    expect(body.slice(0, -1).every((l) => /^[0-9a-f]{80}$/.test(l))).toBe(true);
    expect(body.at(-1)).toMatch(/^[0-9a-f]{1,80}$/);
    // hex(hex(salt) \n hex(hmac) \n hex(ciphertext)): a 32-byte salt, a 32-byte HMAC, the padded plaintext
    const [salt, hmac, ciphertext] = Buffer.from(body.join(''), 'hex').toString('ascii').split('\n');
    expect([salt.length, hmac.length, ciphertext.length]).toEqual([64, 64, 2 * (Math.floor(Buffer.byteLength(TOKEN) / 16) + 1) * 16]);
    expect(envelope).not.toContain(TOKEN);
    expect(vaultDecrypt(envelope, PASSWORD)).toBe(TOKEN);
  });

  it('round-trips text of every length around the block size, and UTF-8', () => {
    for (const text of ['x', 'y'.repeat(15), 'z'.repeat(16), 'w'.repeat(17), 'ünïcödé ✓ token', 'a'.repeat(200)])
      expect(vaultDecrypt(vaultEncrypt(text, PASSWORD), PASSWORD)).toBe(text);
  });

  it('uses the salt from the randomness given, so two values differ', () => {
    const fixed = (n: number) => new Uint8Array(n).fill(7);
    expect(vaultEncrypt(TOKEN, PASSWORD, fixed)).toBe(vaultEncrypt(TOKEN, PASSWORD, fixed));
    expect(vaultEncrypt(TOKEN, PASSWORD)).not.toBe(vaultEncrypt(TOKEN, PASSWORD));
  });

  it('a wrong password fails the HMAC check (exit 3), naming the value not the token', () => {
    const e = thrown(() => vaultDecrypt(vaultEncrypt(TOKEN, PASSWORD), 'other-password', 'roobot_token'));
    expect([e.exitCode, e.message]).toEqual([3, 'roobot_token does not decrypt with this vault password (HMAC check failed)']);
  });

  it.each([
    ['another header', (env: string) => env.replace('1.1;AES256', '1.0;AES')],
    ['a non-hex body', (env: string) => env.replace(/\n[0-9a-f]/, '\nz')],
    ['a body without three parts', () => `${VAULT_HEADER}\n${Buffer.from('abcd\nef').toString('hex')}\n`],
  ])('refuses %s', (_what, damage) => {
    expect(thrown(() => vaultDecrypt(damage(vaultEncrypt(TOKEN, PASSWORD)), PASSWORD)).message).toMatch(/is not an Ansible vault value/);
  });

  it('a changed ciphertext byte fails the HMAC check', () => {
    const envelope = vaultEncrypt(TOKEN, PASSWORD);
    const hex = envelope.split('\n').slice(1).join('');
    const inner = Buffer.from(hex, 'hex').toString('ascii');
    // flip the ciphertext's next-to-last hex digit to another one (never to itself: then nothing changed)
    const at = inner.length - 2;
    const tampered = inner.slice(0, at) + (inner[at] === '0' ? '1' : '0') + inner.slice(at + 1);
    expect(tampered).not.toBe(inner);
    const outer = Buffer.from(tampered, 'ascii').toString('hex');
    expect(thrown(() => vaultDecrypt(`${VAULT_HEADER}\n${outer}\n`, PASSWORD)).message).toMatch(/HMAC check failed/);
  });
});

describe('vault password file', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'infra-vaultpw-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string, mode: number) => {
    const f = join(dir, name);
    writeFileSync(f, content);
    chmodSync(f, mode);
    return f;
  };

  it('a plain file is stripped of surrounding whitespace, as Ansible does', async () => {
    const r = await readVaultPasswordFile(file('pw', `  ${PASSWORD} \r\n\n`, 0o600));
    expect(r).toEqual({ password: Buffer.from(PASSWORD), warnings: [] });
  });

  it('warns when group or others can read it', async () => {
    const f = file('pw', `${PASSWORD}\n`, 0o644);
    expect((await readVaultPasswordFile(f)).warnings).toEqual([`vault password file ${f} is readable by everyone (mode 644): chmod 600 ${f}`]);
    chmodSync(f, 0o640);
    expect((await readVaultPasswordFile(f)).warnings).toEqual([`vault password file ${f} is readable by its group (mode 640): chmod 600 ${f}`]);
  });

  it('an executable is a script whose stdout is the password (only line breaks stripped)', async () => {
    const r = await readVaultPasswordFile(file('pw.sh', `#!/bin/sh\nprintf ' %s\\n' '${PASSWORD}'\n`, 0o700));
    expect(r).toEqual({ password: Buffer.from(` ${PASSWORD}`), warnings: [] });
  });

  it('a *-client script is asked for the default vault id', async () => {
    const r = await readVaultPasswordFile(file('vault-client.sh', '#!/bin/sh\n[ "$1 $2" = "--vault-id default" ] && echo from-client\n', 0o700));
    expect(r.password.toString()).toBe('from-client');
  });

  it('a failing, hanging or silent script, an empty or missing file are exit 3 with the fix', async () => {
    const failing = await rejection(readVaultPasswordFile(file('fail.sh', '#!/bin/sh\necho oops >&2\nexit 4\n', 0o700)));
    expect(failing.message).toMatch(/fail\.sh exited with status 4$/);
    const hanging = await rejection(readVaultPasswordFile(file('hang.sh', '#!/bin/sh\nexec sleep 30\n', 0o700), { timeoutMs: 300 }));
    expect(hanging.message).toMatch(/hang\.sh did not finish within 300 ms$/);
    expect((await rejection(readVaultPasswordFile(file('silent.sh', '#!/bin/sh\necho\n', 0o700)))).message).toMatch(/script .* gave an empty password/);
    expect((await rejection(readVaultPasswordFile(file('empty', ' \n', 0o600)))).message).toMatch(/file .* gave an empty password/);
    const missing = await rejection(readVaultPasswordFile(join(dir, 'nope')));
    expect([missing.exitCode, missing.message]).toEqual([3, `vault password file ${join(dir, 'nope')} was not found`]);
    expect(missing.hint).toMatch(/ANSIBLE_VAULT_PASSWORD_FILE/);
  });
});

describe('setVaultVar keeps the rest of infra.tokens.yml', () => {
  const envelope = vaultEncrypt(TOKEN, PASSWORD);
  const block = vaultBlock('roobot_token', envelope);

  it('writes VAR: !vault | with the envelope indented by ten, as encrypt_string does', () => {
    const lines = block.trimEnd().split('\n');
    expect(lines[0]).toBe('roobot_token: !vault |');
    expect(lines.slice(1).every((l) => l.startsWith('          $ANSIBLE_VAULT;1.1;AES256') || /^ {10}[0-9a-f]{1,80}$/.test(l))).toBe(true);
    expect(lines.slice(1).map((l) => l.slice(10)).join('\n') + '\n').toBe(envelope);
  });

  it('creates a new file with a header comment', () => {
    const text = setVaultVar(undefined, 'roobot_token', envelope);
    expect(text).toMatch(/^# .*infra tokens rotate.*\nroobot_token: !vault \|\n/);
    expect(readVaultVar(text, 'roobot_token')).toBe(envelope);
  });

  const other = vaultBlock('other_token', vaultEncrypt('x'.repeat(40), PASSWORD));
  const cases: Array<[string, string, (out: string) => void]> = [
    ['an empty file', '', (out) => expect(out).toBe(block)],
    ['a comment-only file', '# just a comment\n', (out) => expect(out).toBe(`# just a comment\n${block}`)],
    ['a file without a final newline', 'a: 1', (out) => expect(out).toBe(`a: 1\n${block}`)],
    ['other variables and comments', `---\n# keep me\na: 1  # inline\n\nb:\n  - x\n  - y\n${other}# trailing\n`, (out) => expect(out).toBe(`---\n# keep me\na: 1  # inline\n\nb:\n  - x\n  - y\n${other}# trailing\n${block}`)],
  ];
  it.each(cases)('appends to %s', (_what, input, check) => check(setVaultVar(input, 'roobot_token', envelope)));

  it('replaces the variable where it is, keeping what is around it byte for byte', () => {
    const old = vaultBlock('roobot_token', vaultEncrypt('old-value-123456', PASSWORD));
    const head = '# tokens for the bot\na: 1\n\n';
    const tail = '\n# about b\nb: "two"\n' + other;
    const out = setVaultVar(head + old + tail, 'roobot_token', envelope);
    expect(out).toBe(head + block + tail);
    expect(vaultDecrypt(readVaultVar(out, 'roobot_token')!, PASSWORD)).toBe(TOKEN);
  });

  it.each([
    ['a plain value', 'roobot_token: old\nz: 2\n', `${block}z: 2\n`],
    ['a quoted key', '"roobot_token": old\nz: 2\n', `${block}z: 2\n`],
    ['a multi-line value', 'roobot_token: >\n  folded\n  text\n\n  more\nz: 2\n', `${block}z: 2\n`],
    ['a last entry without final newline', 'z: 2\nroobot_token: old', `z: 2\n${block}`],
    ['a mapping value with comments inside', 'roobot_token:\n  # inner\n  k: v\n# outer\nz: 2\n', `${block}# outer\nz: 2\n`],
  ])('replaces %s', (_what, input, expected) => {
    expect(setVaultVar(input, 'roobot_token', envelope)).toBe(expected);
  });

  it('the result parses to the same variables plus the new one', () => {
    const input = 'a: 1\nb: {c: [1, 2]}\nroobot_token: old\nd: "x"\n';
    const out = parse(setVaultVar(input, 'roobot_token', envelope), { customTags: [{ tag: '!vault', resolve: (s: string) => s }] });
    expect(out).toEqual({ a: 1, b: { c: [1, 2] }, roobot_token: envelope, d: 'x' });
  });

  it.each([
    ['a list', '- a\n- b\n', /not a block mapping/],
    ['a flow mapping', '{a: 1}\n', /not a block mapping/],
    ['invalid YAML', 'a: [1\n', /not valid YAML/],
    ['duplicate keys', 'a: 1\na: 2\n', /not valid YAML/],
    ['two documents', 'a: 1\n---\nb: 2\n', /more than one YAML document/],
  ])('refuses %s with the file name', (_what, input, message) => {
    const e = thrown(() => setVaultVar(input, 'roobot_token', envelope, 'inventories/production/group_vars/bots/infra.tokens.yml'));
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(/^inventories\/production\/group_vars\/bots\/infra\.tokens\.yml: /);
    expect(e.message).toMatch(message);
  });

  it('writeVaultVar creates the folder and file, then updates in place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'infra-vaultvar-'));
    try {
      const f = join(dir, 'group_vars', 'bots', 'infra.tokens.yml');
      await writeVaultVar(f, 'roobot_token', TOKEN, PASSWORD);
      await writeVaultVar(f, 'other', 'second-value-0000', PASSWORD);
      await writeVaultVar(f, 'roobot_token', 'third-value-1111', PASSWORD);
      const text = readFileSync(f, 'utf8');
      expect(vaultDecrypt(readVaultVar(text, 'roobot_token')!, PASSWORD)).toBe('third-value-1111');
      expect(vaultDecrypt(readVaultVar(text, 'other')!, PASSWORD)).toBe('second-value-0000');
      expect(text).not.toContain(TOKEN);
      expect(text.indexOf('roobot_token:')).toBeLessThan(text.indexOf('other:'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('setVaultVar keeps what follows a replaced !vault block', () => {
  const envelope = vaultEncrypt(TOKEN, PASSWORD);
  const block = vaultBlock('roobot_token', envelope);
  const old = vaultBlock('roobot_token', vaultEncrypt('old-value-123456', PASSWORD));

  it.each([
    ['an indented comment right after the block', '  # rotated by infra; do not edit by hand\n'],
    ['a deeper-indented comment after the block', '     # note\n'],
    ['an indented comment after a blank line', '\n    # later note\n'],
  ])('keeps %s', (_what, after) => {
    const tail = `${after}z: 2\n`;
    expect(setVaultVar(`a: 1\n${old}${tail}`, 'roobot_token', envelope)).toBe(`a: 1\n${block}${tail}`);
  });
});
