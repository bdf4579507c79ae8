/**
 * Where a device's wg-quick config goes besides stdout (`vpn join/rekey --out`, `--encrypt`). Everything
 * that can fail is checked before the registry changes: a peer recorded without its config is a device
 * that cannot connect, and a private key that was made and lost.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { ExitCode, InfraError } from '../lib/errors.js';
import { readPublicKey } from './pgp.js';
import { writeFileAtomic } from './atomic-write.js';
import { shellQuote } from '../lib/shell-quote.js';

const refuse = (message: string, hint: string) => new InfraError(ExitCode.invalid, `--out: ${message}; nothing was changed`, { hint });

/** `file` is the path resolved; `shown` is how the user wrote it. */
export async function checkOutFile(file: string, shown: string, force: boolean): Promise<void> {
  const st = await fs.lstat(file).catch(() => undefined);
  if (st?.isDirectory()) throw refuse(`${shown} is a folder`, `name a file in it: --out ${path.join(shown, 'device.conf')}`);
  if (st?.isSymbolicLink() && !force) {
    // Opening with O_EXCL fails on any link, a dangling one too: refuse now, not after the peer is recorded.
    const target = await fs.readlink(file);
    const dangling = !(await fs.stat(file).then(() => true, () => false));
    throw refuse(`${shown} is a symbolic link (to ${target}${dangling ? ', which does not exist' : ''})`, `choose another --out file, or pass --force to replace the link with the config`);
  }
  if (st && !force) throw refuse(`${shown} exists`, 'pass --force to overwrite it, or choose another --out file');
  const dir = path.dirname(file);
  const dirStat = await fs.stat(dir).catch(() => undefined);
  if (!dirStat?.isDirectory()) throw refuse(`the folder ${path.dirname(shown)} does not exist`, `create it first: mkdir -p ${shellQuote(path.dirname(shown))}`);
  if (!(await fs.access(dir, fsc.W_OK).then(() => true, () => false)))
    throw refuse(`the folder ${path.dirname(shown)} is not writable`, `choose an --out file in a folder you can write to`);
}

/** Mode 0600 from the start; without `force` never over a file that appeared since the check. */
export async function writeOutFile(file: string, text: string, force: boolean): Promise<void> {
  if (force) return writeFileAtomic(file, text, 0o600);
  const handle = await fs.open(file, 'wx', 0o600);
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

/**
 * The member's armored OpenPGP key, parsed in full and able to encrypt; undefined when the member has no
 * member.yml at all (planning reports that, with its own hint). Reads two files rather than loading the
 * registry: with tens of thousands of peers a load takes seconds, and the edit loads it again anyway.
 */
export async function memberEncryptionKey(root: string, handle: string): Promise<string | undefined> {
  const rel = `keys/${handle}/pgp.asc`;
  const data = await fs.readFile(path.join(root, rel)).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  const memberText = await fs.readFile(path.join(root, `keys/${handle}/member.yml`), 'utf8').catch(() => undefined);
  if (memberText === undefined) return undefined;
  const email = /^email:\s*(\S+)\s*$/m.exec(memberText)?.[1]?.replace(/^['"]|['"]$/g, '') ?? 'EMAIL';
  const exportHint = `gpg --export --armor ${shellQuote(email)} > ${shellQuote(rel)}`;
  if (data === undefined)
    throw new InfraError(ExitCode.invalid, `--encrypt: ${handle} has no OpenPGP key (${rel}); nothing was changed`, {
      hint: `add it: gpg --export --armor ${shellQuote(email)} > ${shellQuote(`${handle}.asc`)} && infra members edit ${shellQuote(handle)} --pgp ${shellQuote(`${handle}.asc`)}, then run this again`,
    });
  let key;
  try {
    key = await readPublicKey(data, rel);
  } catch (e) {
    if (!(e instanceof InfraError)) throw e;
    throw new InfraError(ExitCode.invalid, `--encrypt: ${e.message}; nothing was changed`, { hint: `replace it with ${handle}'s public key: ${exportHint}, then run this again` });
  }
  if (!key.canEncrypt)
    throw new InfraError(ExitCode.invalid, `--encrypt: ${rel} (${key.fingerprint}) has no usable encryption subkey (expired, revoked or signing-only); nothing was changed`, {
      hint: `${handle} adds an encryption subkey (gpg --quick-add-key ${shellQuote(key.fingerprint)} default encr), then: ${exportHint}`,
    });
  return key.armored;
}
