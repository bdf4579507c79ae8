/**
 * Ansible vault 1.1 (what `ansible-vault encrypt_string` writes) with node:crypto, the vault password
 * read as Ansible reads it, and the edit of group_vars/<group>/infra.tokens.yml that sets one
 * `VAR: !vault |` and keeps every other line as it was.
 *
 * Format (ansible/parsing/vault/__init__.py, VaultAES256): key material = PBKDF2-HMAC-SHA256(password,
 * salt[32], 10000 iterations, 80 bytes) = AES key[32] | HMAC key[32] | CTR IV[16]; ciphertext =
 * AES-256-CTR(PKCS#7-padded plaintext); envelope = hex(hex(salt) \n hex(HMAC-SHA256(ciphertext)) \n hex(ciphertext)),
 * cut into 80-column lines under the header `$ANSIBLE_VAULT;1.1;AES256`.
 */
import { execFile } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHmac, pbkdf2Sync, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { isMap, parseAllDocuments, parseDocument, type Pair } from 'yaml';
import { ExitCode, InfraError } from '../lib/errors.js';
import { warnIfReadableByOthers } from './secret-files.js';
import { shellQuote } from '../lib/shell-quote.js';

export const VAULT_HEADER = '$ANSIBLE_VAULT;1.1;AES256';
const ITERATIONS = 10_000;
const SALT_BYTES = 32;
const LINE = 80;
/** How far encrypt_string indents the block under `VAR: !vault |`. */
const INDENT = ' '.repeat(10);

type Password = string | Uint8Array;
const bytes = (p: Password) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p));

function keys(password: Password, salt: Buffer): { aes: Buffer; mac: Buffer; iv: Buffer } {
  const material = pbkdf2Sync(bytes(password), salt, ITERATIONS, 80, 'sha256');
  return { aes: material.subarray(0, 32), mac: material.subarray(32, 64), iv: material.subarray(64, 80) };
}

/** The vault envelope of `plaintext` (header + 80-column hex lines, ending in a newline). `randomBytes` makes the salt. */
export function vaultEncrypt(plaintext: string, password: Password, randomBytes: (n: number) => Uint8Array = nodeRandomBytes): string {
  return vaultEncryptBytes(Buffer.from(plaintext, 'utf8'), password, randomBytes);
}

/**
 * The envelope of `data` (any bytes, as `ansible-vault encrypt` takes a whole file). A `label` writes the
 * vault 1.2 header `$ANSIBLE_VAULT;1.2;AES256;LABEL`, as `--vault-id LABEL@...` does.
 */
export function vaultEncryptBytes(data: Uint8Array, password: Password, randomBytes: (n: number) => Uint8Array = nodeRandomBytes, label?: string): string {
  if (bytes(password).length === 0) throw new InfraError(ExitCode.invalid, 'the vault password is empty');
  const salt = Buffer.from(randomBytes(SALT_BYTES));
  const { aes, mac, iv } = keys(password, salt);
  const pad = 16 - (data.length % 16); // PKCS#7, as Ansible pads even for CTR
  const cipher = createCipheriv('aes-256-ctr', aes, iv);
  const ciphertext = Buffer.concat([cipher.update(Buffer.concat([Buffer.from(data), Buffer.alloc(pad, pad)])), cipher.final()]);
  const hmac = createHmac('sha256', mac).update(ciphertext).digest();
  const inner = [salt.toString('hex'), hmac.toString('hex'), ciphertext.toString('hex')].join('\n');
  const outer = Buffer.from(inner, 'ascii').toString('hex');
  const lines = outer.match(new RegExp(`.{1,${LINE}}`, 'g')) ?? [];
  const header = label === undefined ? VAULT_HEADER : `$ANSIBLE_VAULT;1.2;AES256;${label}`;
  return [header, ...lines, ''].join('\n');
}

const notVault = (what: string, why: string) =>
  new InfraError(ExitCode.invalid, `${what} is not an Ansible vault value (${why})`, { hint: 'rotate the token to write it again: infra tokens rotate HANDLE/NAME' });

/** The vault id of a 1.2 envelope (`$ANSIBLE_VAULT;1.2;AES256;prod` -> prod); undefined for 1.1. */
export function vaultLabel(envelope: string): string | undefined {
  const header = envelope.trimStart().split(/\r?\n/, 1)[0].trim().split(';');
  return header[1] === '1.2' && header.length > 3 ? header.slice(3).join(';') : undefined;
}

/** The plaintext bytes of an envelope (a whole vault-encrypted file may hold any bytes). */
export function vaultDecryptBytes(envelope: string, password: Password, what = 'the value'): Buffer {
  const lines = envelope.trim().split(/\r?\n/).map((l) => l.trim());
  const header = lines[0].split(';');
  if (header[0] !== '$ANSIBLE_VAULT' || !['1.1', '1.2'].includes(header[1]) || header[2] !== 'AES256')
    throw notVault(what, `the header is not ${VAULT_HEADER}`);
  const outer = lines.slice(1).join('');
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(outer)) throw notVault(what, 'the body is not hexadecimal');
  const parts = Buffer.from(outer, 'hex').toString('ascii').split('\n');
  if (parts.length !== 3 || !parts.every((p) => /^(?:[0-9a-fA-F]{2})+$/.test(p))) throw notVault(what, 'the body does not hold salt, HMAC and ciphertext');
  const [salt, hmac, ciphertext] = parts.map((p) => Buffer.from(p, 'hex'));
  const { aes, mac, iv } = keys(password, salt);
  const expected = createHmac('sha256', mac).update(ciphertext).digest();
  if (hmac.length !== expected.length || !timingSafeEqual(hmac, expected))
    throw new InfraError(ExitCode.invalid, `${what} does not decrypt with this vault password (HMAC check failed)`, {
      hint: 'point ANSIBLE_VAULT_PASSWORD_FILE (or --vault-password-file) at the password this inventory uses',
    });
  const decipher = createDecipheriv('aes-256-ctr', aes, iv);
  const padded = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  const pad = padded[padded.length - 1];
  if (!pad || pad > 16 || padded.length < pad || !padded.subarray(padded.length - pad).every((b) => b === pad)) throw notVault(what, 'bad padding');
  return padded.subarray(0, padded.length - pad);
}

// ---------------------------------------------------------------- the password

export interface VaultPassword {
  password: Buffer;
  /** Things the user should fix, e.g. a password file others can read. */
  warnings: string[];
}

export const SCRIPT_TIMEOUT_MS = 30_000;

/** Python's bytes.strip(chars): drop any of `chars` from both ends. */
function stripBytes(b: Buffer, chars: number[]): Buffer {
  let start = 0;
  let end = b.length;
  while (start < end && chars.includes(b[start])) start++;
  while (end > start && chars.includes(b[end - 1])) end--;
  return b.subarray(start, end);
}
const WHITESPACE = [0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c];
const LINE_BREAKS = [0x0a, 0x0d];

/**
 * The vault password as Ansible reads `--vault-password-file` / ANSIBLE_VAULT_PASSWORD_FILE: a plain file
 * is read and stripped of surrounding whitespace; an executable file is a script whose stdout is the
 * password (a `*-client` script gets `--vault-id default`), run with a timeout.
 */
export async function readVaultPasswordFile(file: string, options: { timeoutMs?: number } = {}): Promise<VaultPassword> {
  const hint = 'set ANSIBLE_VAULT_PASSWORD_FILE (or pass --vault-password-file) to the file that holds the vault password';
  let info;
  try {
    info = await stat(file);
  } catch {
    throw new InfraError(ExitCode.invalid, `vault password file ${file} was not found`, { hint });
  }
  if (!info.isFile()) throw new InfraError(ExitCode.invalid, `vault password file ${file} is not a file`, { hint });
  const warnings: string[] = [];
  const executable = (info.mode & 0o111) !== 0;
  let password: Buffer;
  if (executable) {
    const client = basename(file, extname(file)).endsWith('-client');
    const stdout = await new Promise<Buffer>((resolve, reject) => {
      execFile(file, client ? ['--vault-id', 'default'] : [], { timeout: options.timeoutMs ?? SCRIPT_TIMEOUT_MS, encoding: 'buffer', maxBuffer: 1 << 20 }, (error, out) => {
        if (!error) return resolve(out);
        const why = error.killed || error.signal ? `did not finish within ${(options.timeoutMs ?? SCRIPT_TIMEOUT_MS) < 1000 ? `${options.timeoutMs} ms` : `${Math.round((options.timeoutMs ?? SCRIPT_TIMEOUT_MS) / 1000)} s`}` : `exited with status ${String(error.code)}`;
        reject(new InfraError(ExitCode.invalid, `vault password script ${file} ${why}`, { hint: `run it by hand to see what is wrong: ${shellQuote(file)}` }));
      });
    });
    password = stripBytes(stdout, LINE_BREAKS);
  } else {
    await warnIfReadableByOthers(file, (w) => warnings.push(w), 'vault password file');
    password = stripBytes(await readFile(file), WHITESPACE);
    if (password.subarray(0, 14).toString('latin1') === '$ANSIBLE_VAULT')
      throw new InfraError(ExitCode.invalid, `vault password file ${file} is itself vault-encrypted, which infra does not read`, { hint });
  }
  if (password.length === 0) throw new InfraError(ExitCode.invalid, `vault password ${executable ? 'script' : 'file'} ${file} gave an empty password`, { hint });
  return { password, warnings };
}

// ---------------------------------------------------------------- group_vars/<group>/infra.tokens.yml

const NEW_FILE_HEADER = '# Vaulted bot tokens, written by `infra tokens rotate`. Other variables in this file are kept.\n';

/** `VAR: !vault |` with the envelope indented as encrypt_string does. */
export function vaultBlock(varName: string, envelope: string): string {
  return `${varName}: !vault |\n${envelope.trimEnd().split('\n').map((l) => `${INDENT}${l}`).join('\n')}\n`;
}

function cannotEdit(file: string, why: string): InfraError {
  return new InfraError(ExitCode.invalid, `${file}: ${why}, so infra cannot set a variable in it`, { hint: `make ${file} a plain YAML mapping of variables (or move its content elsewhere), then rotate again` });
}

/**
 * The new text of a vars file with `varName` set to the vault `envelope`: an existing entry is replaced
 * where it is, a new one is appended; every other line (variables, comments, blank lines) is kept
 * byte for byte. The result is parsed back to prove nothing else changed.
 */
export function setVaultVar(fileText: string | undefined, varName: string, envelope: string, file = 'infra.tokens.yml'): string {
  const block = vaultBlock(varName, envelope);
  if (fileText === undefined) return NEW_FILE_HEADER + block;
  if (parseAllDocuments(fileText).length > 1) throw cannotEdit(file, 'it holds more than one YAML document');
  const doc = parseDocument(fileText, { uniqueKeys: true });
  if (doc.errors.length) throw cannotEdit(file, `it is not valid YAML (${doc.errors[0].message.split('\n')[0]})`);
  const before = plainData(() => doc.toJS(), file) as Record<string, unknown> | null;
  let next: string;
  if (doc.contents === null || doc.contents === undefined) next = appendBlock(fileText, block);
  else if (!isMap(doc.contents) || doc.contents.flow) throw cannotEdit(file, 'it is not a block mapping of variables');
  else {
    const pair = doc.contents.items.find((p: Pair) => (p.key as { value?: unknown } | null)?.value === varName) as Pair<{ range?: [number, number, number] }> | undefined;
    if (!pair) next = appendBlock(fileText, block);
    else next = replaceEntry(fileText, pair.key!.range![0], (pair.value as { range?: [number, number, number] } | null)?.range?.[1] ?? pair.key!.range![1], block, file);
  }
  // Parse back: the variable holds the envelope, everything else is as it was.
  const after = plainData(() => parseDocument(next).toJS(), file) as Record<string, unknown>;
  const expected = { ...(before ?? {}), [varName]: envelope.trimEnd() + '\n' };
  if (JSON.stringify(sortKeys(after)) !== JSON.stringify(sortKeys(expected))) throw cannotEdit(file, 'its layout is unusual (the edit would change other values)');
  return next;
}

/** The `yaml` package refuses to expand more than 100 aliases with a bare ReferenceError (a crash): exit 3 naming the file instead. */
function plainData(toJS: () => unknown, file: string): unknown {
  try {
    return toJS();
  } catch (e) {
    if (e instanceof ReferenceError) throw cannotEdit(file, 'its YAML aliases (*name) expand to more than 100 copies, more than infra expands to compare the edit');
    throw e;
  }
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

function appendBlock(text: string, block: string): string {
  if (text === '') return block;
  return text.endsWith('\n') ? text + block : `${text}\n${block}`;
}

/**
 * Replaces the entry whose key starts at `keyOffset` and whose value ends at `valueEnd`: from the key's line
 * to the line the value ends on. What follows the value is kept, even when indented deeper than the key: YAML
 * reads a less-indented `# comment` after a block scalar as a comment, not as part of the value.
 */
function replaceEntry(text: string, keyOffset: number, valueEnd: number, block: string, file: string): string {
  const lines = text.split('\n');
  let offset = 0;
  let first = 0;
  while (first < lines.length - 1 && offset + lines[first].length < keyOffset) offset += lines[first++].length + 1;
  const column = keyOffset - offset;
  if (lines[first].slice(0, column).trim() !== '') throw cannotEdit(file, 'the variable does not start its own line');
  // the line holding the value's last character (a block scalar's range ends after its last newline)
  const lastChar = Math.max(keyOffset, valueEnd - 1);
  let last = first;
  let lineEnd = offset + lines[first].length;
  while (last < lines.length - 1 && lineEnd < lastChar) lineEnd += lines[++last].length + 1;
  const end = last + 1;
  const replacement = block.trimEnd().split('\n').map((l) => ' '.repeat(column) + l);
  return [...lines.slice(0, first), ...replacement, ...lines.slice(end)].join('\n') + (end === lines.length ? '\n' : '');
}
