/**
 * `infra tokens reencrypt` (docs/reference.md "Admin-held secrets"): every admin-held secret — token values,
 * pending values, the vault password, the CA key — decrypted with one admin's key and encrypted again to
 * the current admins, each named by handle and fingerprint. Re-encrypting does not take a value back from
 * someone who could read it: who could is kept (a token's readable_by; a record beside other files) so
 * the audit keeps reporting it until the value is rotated, and the result lists what to rotate.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Document } from 'yaml';
import { YAML_OUT } from '../adapters/yaml-load.js';
import { formerReaders, secretKindOf, type CatalogEntry, type SecretKind } from '../core/secrets.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import type { Context } from './context.js';
import { adminKey, decryptFile, encryptForAdmins, exists } from './token-common.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface ReencryptResult {
  /** Files written again, encrypted to the current admins. */
  reencrypted: string[];
  admins: string[];
  /** Who every file is now encrypted to: handle and fingerprint (not a key id). */
  recipients: Array<{ handle: string; fingerprint: string }>;
  /** Secrets someone who is no longer an admin could read: rotate each with its command. */
  exposed: Array<{ kind: SecretKind; label: string; subject: string; path: string; token?: string; readable_by_former_admins: string[]; command: string }>;
  written: string[];
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function historyText(digest: string, readers: string[]): string {
  const doc = new Document({ ciphertext_sha256: digest, readable_by: readers });
  doc.commentBefore = ' Written by `infra tokens reencrypt`: everyone who could read this value since it was made.\n Kept until the value is rotated (docs/reference.md "Admin-held secrets").';
  return doc.toString(YAML_OUT);
}

export async function reencryptTokens(ctx: Context, input: { key?: string }): Promise<ReencryptResult> {
  if (!input.key) throw new InfraError(ExitCode.usage, 'reencrypt needs --key FILE: the private OpenPGP key of an admin who can read the secrets now', { hint: 'infra tokens reencrypt --key YOUR-KEY.asc' });
  const loaded = await ctx.store.load();
  const key = await adminKey(ctx, input.key);
  const { admins } = loaded.registry.config;
  const { members, root } = loaded.registry;
  const { historyFile, readSecretCatalog } = await import('../adapters/secret-catalog.js');
  const catalog = await readSecretCatalog(root, members);
  for (const e of catalog) if (e.unreadable) throw new InfraError(ExitCode.invalid, `${e.path} ${e.unreadable}; nothing was re-encrypted`, { hint: `restore it from git (git checkout -- ${shellQuote(e.path)}), or rotate it: ${e.rotate}` });

  // Decrypt and encrypt everything first: one file that cannot be read means nothing is written.
  interface Planned {
    entry: CatalogEntry;
    armored: string;
    everReaders: string[];
  }
  const planned: Planned[] = [];
  let recipients: ReencryptResult['recipients'] = [];
  for (const entry of catalog) {
    const fresh = await encryptForAdmins(ctx, loaded, await decryptFile(loaded, entry.path, key));
    recipients = fresh.recipients;
    const unknown = entry.readable_by.filter((r) => !r.handle).map((r) => `key ${r.key_id}`);
    const everReaders = [...new Set([...entry.ever_readable_by, ...unknown, ...fresh.recipients.map((r) => r.handle)])].sort();
    planned.push({ entry, armored: fresh.armored, everReaders });
  }
  const exposed: ReencryptResult['exposed'] = [];
  for (const { entry } of planned) {
    const { handles, unknownKeys } = formerReaders(entry, admins, members);
    const former = [...handles, ...unknownKeys.map((k) => `key ${k}`)];
    if (former.length)
      exposed.push({ kind: entry.kind, label: entry.label, subject: entry.subject, path: entry.path, ...(entry.kind === 'token' ? { token: entry.subject } : {}), readable_by_former_admins: former, command: entry.rotate });
  }

  const historyExists = new Map<string, boolean>();
  for (const p of planned) historyExists.set(p.entry.path, await exists(path.join(root, historyFile(p.entry.path))));
  const { written } = await ctx.store.mutate('tokens reencrypt', (tx) => {
    for (const { entry, armored, everReaders } of planned) {
      tx.writeFile(entry.path, armored, 0o644);
      const beyond = everReaders.filter((h) => !recipients.some((r) => r.handle === h));
      const handlesOnly = everReaders.filter((h) => !h.startsWith('key '));
      const match = secretKindOf(entry.path)!.match;
      const member = entry.kind === 'token' ? tx.registry.members.find((m) => m.handle === match[1]) : undefined;
      const index = member ? member.tokens.findIndex((t) => t.name === match[2]) : -1;
      if (member && index >= 0) tx.editMember(member.handle).setList(['tokens', index, 'readable_by'], handlesOnly);
      // A record beside the file when someone beyond the new recipients could read the value and the
      // member.yml field cannot say it (every kind but a listed token; a key no member holds).
      const recordNeeded = beyond.length > 0 && (index < 0 || beyond.some((h) => h.startsWith('key ')));
      if (recordNeeded) tx.writeFile(historyFile(entry.path), historyText(sha256(armored), everReaders), 0o644);
      else if (historyExists.get(entry.path)) tx.removeFile(historyFile(entry.path));
    }
  });
  return { reencrypted: planned.map((p) => p.entry.path).sort(), admins: [...admins], recipients, exposed, written };
}
