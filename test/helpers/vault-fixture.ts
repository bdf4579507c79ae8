/**
 * A registry for vault password tests: admins alice and bob (real OpenPGP keys; bob's has a passphrase),
 * carol a member, the vault password stored in vault/password.asc, and inventories holding every kind of
 * vault item: infra's own infra.tokens.yml (with a comment after the block), a hand-written vars file
 * (nested, in a list, a 1.2 labelled item), a CRLF file, a whole vault-encrypted vars file and a whole
 * vault-encrypted binary file with a label. Plus readers for the results.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { vaultBlock, vaultDecryptBytes, vaultEncrypt, vaultEncryptBytes } from '../../src/adapters/ansible-vault.js';
import { encryptToAdmins } from '../../src/adapters/openpgp-tokens.js';
import { scanVaultFiles } from '../../src/adapters/vault-files.js';
import type { Admins } from './tokens-fixture.js';
import { baseConfig, makeRegistry, memberData } from './registry-fixture.js';

export const OLD_PASSWORD = 'Qx7-oLdVaUlT-pw-9fK2mZr4TbN8';
/** The plaintext of every item: long enough for the leak check. */
export const VALUES = {
  hook: 'hK3vQ9zT1mW7xR2pL5nB8cY4',
  db: 'dB6fJ1kS8qV3wE9rT2yU5iO7',
  listed: 'lS4aD7fG2hJ9kL1zX6cV3bN8',
  prod: 'pR9qW2eR7tY4uI1oP6aS3dF5',
  crlf: 'cR1lF8gH3jK6lZ9xC2vB5nM4',
  wholeVars: 'wH7oL2eF5vA8rS1pW4dQ9zX6',
};
/** Bytes that are not UTF-8, in a whole vault file: a rekey must keep them exactly. */
export const BINARY = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41, 0x0a, 0xc3]);

export const FILES = {
  tokens: 'inventories/production/group_vars/bots/infra.tokens.yml',
  hand: 'inventories/production/group_vars/all/secrets.yml',
  crlf: 'inventories/staging/group_vars/all/crlf.yml',
  whole: 'inventories/production/host_vars/web1/vault.yml',
  binary: 'inventories/staging/files/blob.bin',
};

const salt = (seed: number) => (n: number) => Buffer.alloc(n, seed);
const indented = (envelope: string, by: number) => envelope.trimEnd().split('\n').map((l) => ' '.repeat(by) + l).join('\n');

/** The inventory files, each item encrypted with `password`. */
export function vaultFiles(password: string): Record<string, string | Buffer> {
  return {
    'inventories/production/hosts.yml': 'all:\n  children:\n    bots:\n      hosts:\n        web1:\n',
    'inventories/staging/hosts.yml': 'all:\n  hosts:\n    stage1:\n',
    [FILES.tokens]: `# kept by people\nroobot_home: /srv/roobot\n${vaultBlock('roobot_hook', vaultEncrypt(VALUES.hook, password, salt(1)))}  # a note after the block\nother: 1\n`,
    [FILES.hand]: [
      '# hand-written',
      'db:',
      '  user: app',
      `  password: !vault |`,
      indented(vaultEncrypt(VALUES.db, password, salt(2)), 6),
      'listed:',
      '  - plain',
      `  - !vault |`,
      indented(vaultEncrypt(VALUES.listed, password, salt(3)), 4),
      `prod_only: !vault |`,
      indented(vaultEncryptBytes(Buffer.from(VALUES.prod), password, salt(4), 'prod'), 2),
      'tail: "kept"  # with a comment',
      '',
    ].join('\n'),
    [FILES.crlf]: `a: 1\r\nsecret: !vault |\r\n${indented(vaultEncrypt(VALUES.crlf, password, salt(5)), 4).replace(/\n/g, '\r\n')}\r\nb: 2\r\n`,
    [FILES.whole]: vaultEncrypt(`db_password: ${VALUES.wholeVars}\n`, password, salt(6)),
    [FILES.binary]: vaultEncryptBytes(BINARY, password, salt(7), 'staging'),
    'inventories/production/group_vars/all/plain.yml': 'not_secret: 1\n',
  };
}

/** `only`: keep just these vault files (a shorter sequence for tests that run it once per step). */
export async function vaultRegistry(admins: Admins, options: { password?: string; stored?: boolean; only?: string[] } = {}): Promise<string> {
  const password = options.password ?? OLD_PASSWORD;
  const root = await makeRegistry({
    config: baseConfig({ admins: ['alice', 'bob'], environments: { production: 'inventories/production', staging: 'inventories/staging' } }),
    members: { alice: memberData('alice'), bob: memberData('bob'), carol: memberData('carol') },
    files: { 'keys/alice/pgp.asc': admins.alice.publicKey, 'keys/bob/pgp.asc': admins.bob.publicKey },
  });
  const vaultFileNames = Object.values(FILES) as string[];
  for (const [rel, content] of Object.entries(vaultFiles(password))) {
    if (options.only && vaultFileNames.includes(rel) && !options.only.includes(rel)) continue;
    await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fs.writeFile(path.join(root, rel), content);
  }
  if (options.stored !== false) {
    const keys = [
      { handle: 'alice', armoredKey: admins.alice.publicKey },
      { handle: 'bob', armoredKey: admins.bob.publicKey },
    ];
    await fs.mkdir(path.join(root, 'vault'), { recursive: true });
    await fs.writeFile(path.join(root, 'vault/password.asc'), await encryptToAdmins(password, keys, new Date('2026-06-01T00:00:00Z')));
    await fs.writeFile(path.join(root, 'vault/vault.yml'), 'created_at: 2026-01-10\ncreated_by: bob\nrotated_at: 2026-01-10\nrotated_by: bob\n');
  }
  return root;
}

/** Every vault item under the inventories decrypted with `password`: `file:line` -> plaintext, or the error. */
export async function openedItems(root: string, password: string): Promise<Record<string, string>> {
  const scan = await scanVaultFiles(root, ['inventories/production', 'inventories/staging']);
  const out: Record<string, string> = {};
  for (const f of scan.files)
    for (const item of f.items) {
      try {
        out[`${f.rel}:${item.line}`] = vaultDecryptBytes(item.envelope, password).toString('latin1');
      } catch {
        out[`${f.rel}:${item.line}`] = '(does not open)';
      }
    }
  return out;
}

/** A file's text with each vault envelope replaced by a marker: what must stay byte for byte. */
export async function withoutEnvelopes(root: string, rel: string): Promise<string> {
  const { scanFile } = await import('../../src/adapters/vault-files.js');
  const data = await fs.readFile(path.join(root, rel));
  const { file } = scanFile(rel, data);
  if (!file) return data.toString('latin1');
  let text = file.text;
  for (const item of [...file.items].sort((a, b) => b.start - a.start)) text = `${text.slice(0, item.start)}<${item.envelope.split('\n')[0]}>${text.slice(item.end)}`;
  return text;
}

/** Every item's plaintext, sorted: what the items must still hold after any rotation. */
export const PLAINTEXTS = [...Object.entries(VALUES).filter(([k]) => k !== 'wholeVars').map(([, v]) => v), `db_password: ${VALUES.wholeVars}\n`, BINARY.toString('latin1')].sort();
