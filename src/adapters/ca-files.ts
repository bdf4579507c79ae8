/**
 * The registry's user CA on disk (docs/reference.md "Shift access", files):
 *   ca/user_ca.pub               the current CA's public key (`ssh-ed25519 BASE64 comment`)
 *   ca/user_ca.asc               its private key (OpenSSH format) encrypted to every admin
 *   ca/retired-<16 hex>.pub      a CA replaced by `infra ca rotate`; hosts trust it while a certificate it signed is unexpired
 * These files come in by pull request like any other: each is read without following a link, at most 16 KiB,
 * and must be exactly one Ed25519 public key, or the command stops naming the file (exit 3).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { CaKey } from '../core/certs.js';
import { parsePublicKey } from '../core/ssh-key.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { shellQuote } from '../lib/shell-quote.js';

export const CA_DIR = 'ca';
export const CA_PUB = 'ca/user_ca.pub';
export const CA_ASC = 'ca/user_ca.asc';
const RETIRED_RE = /^retired-[0-9a-f]{16}\.pub$/;
const MAX_BYTES = 16 * 1024;

/** The file a retired CA is kept in: named by its key, so two rotations never collide. */
export const retiredFile = (blob: Buffer) => `${CA_DIR}/retired-${createHash('sha256').update(blob).digest('hex').slice(0, 16)}.pub`;

/** A registry file's text, refusing links and oversized files; undefined when absent. */
export async function readCaText(root: string, rel: string): Promise<string | undefined> {
  const file = path.join(root, rel);
  const st = await fs.lstat(file).catch(() => undefined);
  if (!st) return undefined;
  if (st.isSymbolicLink() || !st.isFile())
    throw new InfraError(ExitCode.invalid, `${rel} is not a regular file (a link or a folder): infra does not follow it`, { hint: `restore ${rel} from git: git checkout -- ${shellQuote(rel)}` });
  if (st.size > MAX_BYTES) throw new InfraError(ExitCode.invalid, `${rel} is ${st.size} bytes: far more than a CA key`, { hint: `restore ${rel} from git: git checkout -- ${shellQuote(rel)}` });
  return fs.readFile(file, 'utf8');
}

/** One Ed25519 public key line, as the CA's; anything else is refused naming the file. */
export function parseCaKey(rel: string, text: string): CaKey {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const refuse = (why: string) =>
    new InfraError(ExitCode.invalid, `${rel}: ${why}`, { hint: `restore it from git (git checkout -- ${shellQuote(rel)}); a CA key is made by \`infra ca init\` or \`infra ca rotate\`` });
  if (lines.length !== 1) throw refuse(`must hold exactly one SSH public key line, found ${lines.length}`);
  let key;
  try {
    key = parsePublicKey(lines[0]);
  } catch (e) {
    throw refuse(e instanceof Error ? e.message : String(e));
  }
  if (key.family !== 'ed25519') throw refuse(`the user CA is an Ed25519 key, not ${key.type}`);
  return { fingerprint: key.fingerprint, blob: key.blob, line: `${key.type} ${key.base64}` };
}

export interface CaFiles {
  current?: CaKey;
  retired: CaKey[];
  /** The retired files by fingerprint (for ca rotate to prune). */
  retiredFiles: Map<string, string>;
}

/** The current and retired CA public keys; no ca/ folder: none. */
export async function readCaFiles(root: string): Promise<CaFiles> {
  if ((await fs.lstat(path.join(root, CA_DIR)).catch(() => undefined))?.isSymbolicLink())
    throw new InfraError(ExitCode.invalid, `${CA_DIR}/ is a symbolic link: infra does not follow it out of the registry`, { hint: `replace the link ${CA_DIR} with a real folder` });
  const currentText = await readCaText(root, CA_PUB);
  const current = currentText === undefined ? undefined : parseCaKey(CA_PUB, currentText);
  const dirStat = await fs.lstat(path.join(root, CA_DIR)).catch(() => undefined);
  const retired: CaKey[] = [];
  const retiredFiles = new Map<string, string>();
  if (dirStat?.isDirectory()) {
    for (const name of (await fs.readdir(path.join(root, CA_DIR))).sort()) {
      if (!RETIRED_RE.test(name)) continue;
      const rel = `${CA_DIR}/${name}`;
      const key = parseCaKey(rel, (await readCaText(root, rel))!);
      retired.push(key);
      retiredFiles.set(key.fingerprint, rel);
    }
  }
  return { ...(current ? { current } : {}), retired, retiredFiles };
}
