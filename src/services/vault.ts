/**
 * The Ansible vault password as registry state (docs/reference.md, "Vault password"): stored once,
 * OpenPGP-encrypted to every admin (vault/password.asc); printed for Ansible through
 * ansible/vault-pass-client; rotated with every vault-encrypted thing under the inventories re-encrypted.
 *
 * A rotation is a recorded sequence, like a token rotation: the new password is first stored encrypted
 * (vault/password.pending.asc) and the files to rewrite recorded (vault/vault.yml `pending.left`); each
 * file is rewritten atomically, then recorded; a last sweep under the lock re-encrypts anything still under
 * the old password and the new password replaces the old. Every step is idempotent: an item that already
 * opens with the new password is kept as it is, so `--resume` after a crash at any point converges.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { inventoryFolder } from '../adapters/inventories.js';
import type { Loaded } from '../adapters/registry-load.js';
import type { VaultFile } from '../adapters/vault-files.js';
import { replaceVaultItems, type VaultItem } from '../core/vault-items.js';
import { vaultClientScript } from '../core/vault-client.js';
import {
  finishVaultRotation,
  startVaultRotation,
  VAULT_CLIENT_FILE,
  VAULT_PASSWORD_FILE,
  VAULT_PENDING_FILE,
  VAULT_STATE_FILE,
  vaultFileDone,
  vaultStateText,
  type VaultState,
} from '../core/vault-state.js';
import { generateGenericToken } from '../core/tokens.js';
import type { IsoDate } from '../core/types.js';
import { ExitCode, InfraError, invalidInput } from '../lib/errors.js';
import { readArg, say, today, type Context } from './context.js';
import { actor } from './token-common.js';
import { shellQuote } from '../lib/shell-quote.js';

const RESUME = 'infra vault rotate --resume --key YOUR-KEY.asc';
const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

// ---------------------------------------------------------------- keys and the stored password

interface UnlockedKey {
  file: string;
  armored: string;
  passphrase?: string;
}

/**
 * The admin's private key from --key and its passphrase: INFRA_PGP_PASSPHRASE, else the prompt on a
 * terminal, else (`tty`) a prompt on /dev/tty when stdout is a pipe (Ansible running the client).
 */
async function unlockKey(ctx: Context, file: string | undefined, command: string, tty = false): Promise<UnlockedKey> {
  if (!file) throw new InfraError(ExitCode.usage, `${command} needs --key FILE: the private OpenPGP key of an admin`, { hint: `${command} --key YOUR-KEY.asc (export it with gpg --export-secret-keys --armor EMAIL > YOUR-KEY.asc)` });
  const armored = await readArg(ctx, file);
  if (file !== '-') {
    const { warnIfReadableByOthers } = await import('../adapters/secret-files.js');
    await warnIfReadableByOthers(path.resolve(ctx.cwd, file), (w) => say(ctx, `warning: ${w}`), 'private key file');
  }
  const { privateKeyIsLocked } = await import('../adapters/openpgp-tokens.js');
  // an empty INFRA_PGP_PASSPHRASE unlocks nothing: it is unset, and the prompt asks
  let passphrase = ctx.env.INFRA_PGP_PASSPHRASE || undefined;
  if (passphrase === undefined && (await privateKeyIsLocked(armored))) {
    if (ctx.prompter) passphrase = await ctx.prompter.password({ message: `Passphrase of ${file}` });
    else if (tty) {
      const { askOnTty } = await import('../adapters/tty-passphrase.js');
      passphrase = await askOnTty(`Passphrase of ${file}`);
    }
  }
  return { file, armored, passphrase };
}

/** The text of an OpenPGP file of the registry decrypted with `key`; a key that is no recipient names the admins tried. */
async function decryptRegistryFile(root: string, admins: readonly string[], rel: string, key: UnlockedKey): Promise<string> {
  const { decryptWithKey } = await import('../adapters/openpgp-tokens.js');
  const armored = await fs.readFile(path.join(root, rel), 'utf8').catch(() => undefined);
  if (armored === undefined) throw new InfraError(ExitCode.invalid, `${rel} is missing`, { hint: `restore it from git: git checkout -- ${shellQuote(rel)}` });
  try {
    return await decryptWithKey(armored, key.armored, key.passphrase, { messageFile: rel, keyFile: `--key ${key.file}` });
  } catch (e) {
    if (!(e instanceof InfraError) || !/is not one .* was encrypted to/.test(e.message)) throw e;
    const { matchAdmin, describeTried } = await import('../adapters/admin-keys.js');
    const { handle, tried } = await matchAdmin(root, admins, key.armored);
    throw new InfraError(ExitCode.invalid, `--key ${key.file} cannot decrypt ${rel}: ${handle ? `it is ${handle}'s key, and ${rel} is not encrypted to it yet` : `it holds none of the admins' secret keys; tried ${describeTried(tried)}`}`, {
      hint: handle ? `an admin who can read it runs \`infra tokens reencrypt --key THEIR-KEY.asc\`` : "use your own admin key (gpg --export-secret-keys --armor EMAIL > YOUR-KEY.asc)",
    });
  }
}

/** Refuses a key file that is no current admin's: rotated_by must name who did it. */
async function requireAdminKey(root: string, admins: readonly string[], key: UnlockedKey): Promise<string> {
  const { matchAdmin, describeTried } = await import('../adapters/admin-keys.js');
  const { handle, tried } = await matchAdmin(root, admins, key.armored);
  if (!handle)
    throw new InfraError(ExitCode.invalid, `--key ${key.file} holds none of the current admins' secret keys; tried ${describeTried(tried)}`, {
      hint: 'use your own admin key (gpg --export-secret-keys --armor EMAIL > YOUR-KEY.asc); a former admin cannot rotate',
    });
  return handle;
}

async function encryptForAdmins(ctx: Context, loaded: Loaded, text: string): Promise<string> {
  const { encryptToAdmins } = await import('../adapters/openpgp-tokens.js');
  const admins = await Promise.all(
    loaded.registry.config.admins.map(async (handle) => ({
      handle,
      armoredKey: await fs.readFile(path.join(loaded.registry.root, `keys/${handle}/pgp.asc`), 'utf8').catch(() => undefined),
    })),
  );
  return encryptToAdmins(text, admins, ctx.now());
}

async function vaultState(root: string): Promise<VaultState | undefined> {
  const { readVaultState } = await import('../adapters/vault-files.js');
  return readVaultState(root);
}

async function requireStoredPassword(root: string): Promise<void> {
  if (!(await exists(path.join(root, VAULT_PASSWORD_FILE))))
    throw new InfraError(ExitCode.invalid, `${VAULT_PASSWORD_FILE} does not exist: this registry does not hold its Ansible vault password yet`, {
      hint: 'store it: `infra vault init` (a new random one) or `infra vault init - < your-vault-password-file` (the one the inventories use now)',
    });
}

const passwordBytes = (password: string) => Buffer.from(password, 'utf8');

/**
 * The vault password for commands that write vault values (token rotation): vault/password.asc
 * decrypted with --key. Refused while a vault rotation is unfinished: some files are under each password.
 */
export async function registryVaultPassword(ctx: Context, loaded: Loaded, keyFile: string | undefined): Promise<Buffer> {
  const root = loaded.registry.root;
  await requireStoredPassword(root);
  const state = await vaultState(root);
  if (state?.pending)
    throw new InfraError(ExitCode.invalid, `a rotation of the vault password started ${state.pending.started_at} by ${state.pending.started_by} is unfinished: files are under two passwords`, { hint: `finish it first: ${RESUME}` });
  if (!keyFile)
    throw new InfraError(ExitCode.usage, `writing vault values needs the vault password: pass --key FILE (your admin key, which decrypts ${VAULT_PASSWORD_FILE}) or set ANSIBLE_VAULT_PASSWORD_FILE`, {
      hint: 'infra tokens rotate HANDLE/NAME --key YOUR-KEY.asc',
    });
  const key = await unlockKey(ctx, keyFile, 'infra tokens rotate');
  return passwordBytes(await decryptRegistryFile(root, loaded.registry.config.admins, VAULT_PASSWORD_FILE, key));
}

// ---------------------------------------------------------------- init

export interface InitVaultInput {
  /** `-`: the existing password from stdin (or a hidden prompt on a terminal); absent: a new random one. */
  source?: string;
}

export interface InitVaultResult {
  password_file: string;
  state_file: string;
  client_file: string;
  /** Whether the client script was written (an existing, different one is kept). */
  client_written: boolean;
  encrypted_to: string[];
  generated: boolean;
  created_at: IsoDate;
  created_by: string;
  written: string[];
}

/** Ansible reads a password file stripped of surrounding whitespace; a piped password is read the same way. */
function passwordFromInput(raw: string): string {
  const password = raw.replace(/^[\s]+|[\s]+$/g, '');
  if (!password) throw new InfraError(ExitCode.invalid, 'the vault password given on stdin is empty', { hint: 'infra vault init - < your-vault-password-file' });
  if (password.includes('\0')) throw new InfraError(ExitCode.invalid, 'the vault password given on stdin holds a NUL byte, which Ansible cannot read back');
  return password;
}

export async function initVault(ctx: Context, input: InitVaultInput): Promise<InitVaultResult> {
  if (input.source !== undefined && input.source !== '-')
    throw new InfraError(ExitCode.usage, 'a vault password is never taken from the command line (process lists and shell history keep it); pass - and give it on stdin', { hint: 'infra vault init - < your-vault-password-file' });
  const loaded = await ctx.store.load();
  const root = loaded.registry.root;
  if (await exists(path.join(root, VAULT_PASSWORD_FILE)))
    throw new InfraError(ExitCode.invalid, `${VAULT_PASSWORD_FILE} already exists: this registry holds its vault password; init does not replace it`, {
      hint: 'make a new one and re-encrypt the inventories with it: infra vault rotate --key YOUR-KEY.asc',
    });
  let password: string;
  if (input.source === '-') {
    const raw = ctx.prompter ? await ctx.prompter.password({ message: 'The vault password the inventories use now (hidden)' }) : await readArg(ctx, '-');
    password = passwordFromInput(raw);
  } else password = generateGenericToken(ctx.random(32));
  const generated = input.source === undefined;
  const by = await actor(ctx, loaded);
  const date = today(ctx);
  const encrypted = await encryptForAdmins(ctx, loaded, password);
  const state: VaultState = { created_at: date, created_by: by, ...(generated ? { rotated_at: date, rotated_by: by } : {}) };
  const script = vaultClientScript();
  const { result: clientWritten, written } = await ctx.store.mutate('vault init', async (tx) => {
    if (await exists(path.join(tx.root, VAULT_PASSWORD_FILE))) throw new InfraError(ExitCode.invalid, `${VAULT_PASSWORD_FILE} was written meanwhile; nothing was changed`, { hint: 'infra vault password --key YOUR-KEY.asc' });
    tx.writeFile(VAULT_PASSWORD_FILE, encrypted, 0o644);
    tx.writeFile(VAULT_STATE_FILE, vaultStateText(state), 0o644);
    const current = await fs.readFile(path.join(tx.root, VAULT_CLIENT_FILE), 'utf8').catch(() => undefined);
    if (current === undefined || current === script) {
      tx.writeFile(VAULT_CLIENT_FILE, script, 0o755);
      return true;
    }
    return false;
  });
  if (!clientWritten) say(ctx, `note: ${VAULT_CLIENT_FILE} exists and differs from what infra writes; it was kept`);
  say(ctx, `Next: point Ansible at it (--vault-password-file ${VAULT_CLIENT_FILE}, or vault_password_file in ansible.cfg) with INFRA_ADMIN_KEY=YOUR-KEY.asc, and commit ${VAULT_PASSWORD_FILE} and ${VAULT_STATE_FILE}.`);
  if (generated) say(ctx, 'This is a NEW password: nothing in the inventories is encrypted with it yet. To bring an existing one in instead, start over with `infra vault init - < your-vault-password-file`.');
  return {
    password_file: VAULT_PASSWORD_FILE,
    state_file: VAULT_STATE_FILE,
    client_file: VAULT_CLIENT_FILE,
    client_written: clientWritten,
    encrypted_to: [...loaded.registry.config.admins],
    generated,
    created_at: date,
    created_by: by,
    written,
  };
}

// ---------------------------------------------------------------- password

export interface VaultPasswordInput {
  key?: string;
  reveal?: boolean;
  /** May ask for the key's passphrase on /dev/tty when stdout is a pipe (not with --no-input). */
  tty?: boolean;
}

/**
 * The password, decrypted. Printed only to a program (stdout not a terminal: Ansible's client protocol,
 * a pipe) or with --reveal: on a terminal it would stay in the scrollback.
 */
export async function vaultPassword(ctx: Context, input: VaultPasswordInput): Promise<{ password: string }> {
  if (ctx.stdout.isTTY && !input.reveal)
    throw new InfraError(ExitCode.usage, 'the vault password is printed to a program (a pipe, Ansible), not to a terminal, unless --reveal asks for it', {
      hint: 'infra vault password --key YOUR-KEY.asc --reveal, or let Ansible run ansible/vault-pass-client',
    });
  const root = await ctx.store.root();
  const config = await ctx.store.loadConfig();
  await requireStoredPassword(root);
  const state = await vaultState(root);
  if (state?.pending) say(ctx, `warning: a rotation of the vault password is unfinished (started ${state.pending.started_at} by ${state.pending.started_by}): some files are under the new password already. Finish it: ${RESUME}`);
  const key = await unlockKey(ctx, input.key, 'infra vault password', input.tty);
  return { password: await decryptRegistryFile(root, config.admins, VAULT_PASSWORD_FILE, key) };
}

// ---------------------------------------------------------------- rotate

export interface RotateVaultInput {
  key?: string;
  resume?: boolean;
  /** Asked between steps: true after Ctrl+C, so the rotation stops at a recorded point. */
  cancelled?: () => boolean;
}

export interface RotateVaultResult {
  resumed: boolean;
  /** Files rewritten by this run, with how many vault items each holds. */
  rewritten: Array<{ file: string; items: number }>;
  /** Files whose items were already under the new password (a resumed rotation). */
  already_done: string[];
  /** Every vault item under the inventories, now under the new password. */
  items: number;
  rotated_at?: IsoDate;
  rotated_by?: string;
  encrypted_to: string[];
  /** Symbolic links met under the inventories and not followed. */
  links_not_followed: string[];
  /** --resume with no rotation unfinished. */
  nothing_to_resume?: boolean;
  /** Who could read the pending password and is no admin now (a resumed rotation): rotate again. */
  readable_by_former_admins?: string[];
}

/** The holders of the pending password's recipient keys who are not current admins. */
async function pendingReadersGone(root: string, loaded: Loaded, admins: readonly string[]): Promise<string[]> {
  const { messageRecipients } = await import('../adapters/openpgp-tokens.js');
  const { recipientHolders } = await import('../adapters/admin-keys.js');
  const armored = await fs.readFile(path.join(root, VAULT_PENDING_FILE), 'utf8').catch(() => undefined);
  if (armored === undefined) return [];
  const holders = await recipientHolders(root, loaded.registry.members.map((m) => m.handle), await messageRecipients(armored).catch(() => []));
  return holders.filter((h) => !admins.includes(h));
}

interface Passwords {
  old: Buffer;
  next: Buffer;
}

/** Which password opens the item: 'next' (already rotated), 'old', or undefined. */
async function opener(item: VaultItem, pw: Passwords): Promise<{ which: 'old' | 'next'; plain: Buffer } | undefined> {
  const { vaultDecryptBytes } = await import('../adapters/ansible-vault.js');
  for (const which of ['next', 'old'] as const)
    try {
      return { which, plain: vaultDecryptBytes(item.envelope, pw[which]) };
    } catch {
      // the other password, or neither
    }
  return undefined;
}

/** The file's new text with every item under `next`, or undefined when none needs it. Items that open with neither are problems. */
async function rekeyFile(ctx: Context, file: VaultFile, pw: Passwords): Promise<{ text?: string; problems: Array<{ line: number }> }> {
  const { vaultEncryptBytes, vaultLabel } = await import('../adapters/ansible-vault.js');
  const envelopes: string[] = [];
  const problems: Array<{ line: number }> = [];
  let changed = false;
  for (const item of file.items) {
    const opened = await opener(item, pw);
    if (!opened) problems.push({ line: item.line });
    else if (opened.which === 'next') envelopes.push(item.envelope);
    else {
      changed = true;
      envelopes.push(vaultEncryptBytes(opened.plain, pw.next, ctx.random, vaultLabel(item.envelope)));
    }
  }
  if (problems.length || !changed) return { problems };
  return { text: replaceVaultItems(file.text, file.items, envelopes), problems };
}

const notOpening = (rel: string, lines: Array<{ line: number }>) =>
  lines.map((p) => ({ file: rel, line: p.line, field: 'vault', message: 'does not decrypt with the vault password in vault/password.asc (made with another password?)' }));

/** Every vault item under the inventories, checked: nothing is changed while one cannot be read or rewritten. */
async function scanChecked(ctx: Context, root: string, folders: string[], pw: Passwords): Promise<{ files: Array<{ file: VaultFile; next?: string }>; links: string[] }> {
  const { scanVaultFiles } = await import('../adapters/vault-files.js');
  const scan = await scanVaultFiles(root, folders);
  const problems = [...scan.problems];
  const files: Array<{ file: VaultFile; next?: string }> = [];
  for (const file of scan.files) {
    const r = await rekeyFile(ctx, file, pw);
    problems.push(...notOpening(file.rel, r.problems));
    files.push({ file, next: r.text });
  }
  if (problems.length)
    throw invalidInput('the inventories hold vault items infra cannot re-encrypt', problems, 'nothing was changed: fix or re-encrypt each item named (ansible-vault rekey FILE, or encrypt_string again with the current password), then run the rotation again');
  return { files, links: scan.links };
}

/** Rewrites one file under the lock if it still needs it; read again, so a change since the scan is seen. */
async function rewriteFile(ctx: Context, root: string, rel: string, pw: Passwords): Promise<number> {
  const { scanFile } = await import('../adapters/vault-files.js');
  const { writeFileAtomic } = await import('../adapters/atomic-write.js');
  const data = await fs.readFile(path.join(root, rel)).catch(() => undefined);
  if (!data) return 0;
  const { file, problems } = scanFile(rel, data);
  if (problems.length) throw invalidInput('a vault file changed during the rotation', problems, `fix it, then: ${RESUME}`);
  if (!file) return 0;
  const r = await rekeyFile(ctx, file, pw);
  if (r.problems.length) throw invalidInput('a vault file changed during the rotation', notOpening(rel, r.problems), `fix it, then: ${RESUME}`);
  if (r.text !== undefined) await writeFileAtomic(path.join(root, rel), r.text);
  return file.items.length;
}

async function writeState(root: string, state: VaultState): Promise<void> {
  const { writeFileAtomic } = await import('../adapters/atomic-write.js');
  await writeFileAtomic(path.join(root, VAULT_STATE_FILE), vaultStateText(state), 0o644);
}

export async function rotateVault(ctx: Context, input: RotateVaultInput): Promise<RotateVaultResult> {
  const loaded = await ctx.store.load();
  const root = loaded.registry.root;
  const admins = loaded.registry.config.admins;
  await requireStoredPassword(root);
  const key = await unlockKey(ctx, input.key, `infra vault rotate${input.resume ? ' --resume' : ''}`);
  const by = await requireAdminKey(root, admins, key);
  const before = await vaultState(root);
  const pendingAbs = path.join(root, VAULT_PENDING_FILE);
  const folders = [...new Set(await Promise.all(Object.values(loaded.registry.config.environments).map((f) => inventoryFolder(root, f))))];
  const date = today(ctx);
  const base = { encrypted_to: [...admins], rewritten: [], already_done: [], items: 0, links_not_followed: [] };

  if (!input.resume && before?.pending)
    throw new InfraError(ExitCode.invalid, `a rotation of the vault password started ${before.pending.started_at} by ${before.pending.started_by} is unfinished`, { hint: `finish it: ${RESUME}` });
  const old = passwordBytes(await decryptRegistryFile(root, admins, VAULT_PASSWORD_FILE, key));
  let nextText: string;
  /** A pending password without its record: a start cut short between the two writes; resumed, it is recorded now. */
  let adopted = false;
  if (input.resume && !before?.pending) {
    const stray = (await exists(pendingAbs)) ? await decryptRegistryFile(root, admins, VAULT_PENDING_FILE, key) : undefined;
    if (stray === undefined || passwordBytes(stray).equals(old)) {
      // none, or the leftover of a finish cut short (it is the password vault/password.asc holds now)
      if (stray !== undefined) await ctx.store.withLock('vault rotate', () => fs.rm(pendingAbs, { force: true }));
      say(ctx, `no rotation of the vault password is unfinished${before?.rotated_at ? `; the last one finished ${before.rotated_at} by ${before.rotated_by}` : ''}`);
      return { ...base, resumed: false, nothing_to_resume: true };
    }
    nextText = stray;
    adopted = true;
  } else if (input.resume) {
    if (!(await exists(pendingAbs)))
      throw new InfraError(ExitCode.invalid, `${VAULT_STATE_FILE} records an unfinished rotation, but ${VAULT_PENDING_FILE} is missing`, { hint: `restore it from git (git checkout -- ${shellQuote(VAULT_PENDING_FILE)}), then: ${RESUME}` });
    nextText = await decryptRegistryFile(root, admins, VAULT_PENDING_FILE, key);
  } else nextText = generateGenericToken(ctx.random(32));
  const pw: Passwords = { old, next: passwordBytes(nextText) };
  const exposedTo = input.resume ? await pendingReadersGone(root, loaded, admins) : [];
  if (exposedTo.length)
    say(ctx, `warning: the new password was encrypted when ${exposedTo.join(', ')} could read it, and they are no admin now: once this rotation is finished, rotate again: infra vault rotate --key FILE`);

  // Everything that can be refused is checked before anything changes.
  const checked = await scanChecked(ctx, root, folders, pw);
  const left = checked.files.filter((f) => f.next !== undefined).map((f) => f.file.rel);
  const alreadyDone = checked.files.filter((f) => f.next === undefined).map((f) => f.file.rel);
  for (const link of checked.links) say(ctx, `warning: ${link} is a symbolic link; infra does not follow it (re-encrypt what it leads to by hand if it is a vault file)`);

  let state: VaultState = before ?? { created_at: date, created_by: by };
  if (!input.resume || adopted) {
    const encrypted = adopted ? undefined : await encryptForAdmins(ctx, loaded, nextText);
    state = startVaultRotation(state, date, by, left);
    const started = state;
    await ctx.store.withLock('vault rotate', async () => {
      const { writeFileAtomic } = await import('../adapters/atomic-write.js');
      if ((await vaultState(root))?.pending) throw new InfraError(ExitCode.invalid, 'another rotation of the vault password started meanwhile', { hint: RESUME });
      if (encrypted) await writeFileAtomic(pendingAbs, encrypted, 0o644); // first: a record never points at a missing password
      await writeState(root, started);
    });
    if (encrypted) say(ctx, `stored the new vault password encrypted to ${admins.join(', ')} in ${VAULT_PENDING_FILE}; ${left.length} file(s) to re-encrypt`);
  }

  const rewritten: RotateVaultResult['rewritten'] = [];
  const stopped = (e: unknown): never => {
    const done = rewritten.map((r) => r.file);
    const base = e instanceof InfraError ? e : new InfraError(ExitCode.bug, `unexpected error: ${(e as Error)?.message ?? String(e)}`);
    throw new InfraError(base.exitCode, `${base.message}. The vault password rotation stopped part-way: re-encrypted: ${done.join(', ') || 'none'}; not yet: ${left.filter((f) => !done.includes(f)).join(', ') || 'none (only the final step)'}`, {
      hint: `${RESUME}${base.hint ? ` (${base.hint})` : ''}`,
      problems: base.problems,
    });
  };
  try {
    for (const [i, rel] of left.entries()) {
      if (input.cancelled?.()) throw new InfraError(ExitCode.cancelled, 'cancelled');
      const items = await ctx.store.withLock('vault rotate', async () => {
        const n = await rewriteFile(ctx, root, rel, pw);
        const current = (await vaultState(root)) ?? state;
        await writeState(root, vaultFileDone(current, rel));
        return n;
      });
      rewritten.push({ file: rel, items });
      say(ctx, `[${i + 1}/${left.length}] re-encrypted ${rel}`);
    }
    if (input.cancelled?.()) throw new InfraError(ExitCode.cancelled, 'cancelled');
    // The last step: one more sweep under the lock (nothing may have been written with the old password
    // meanwhile), then the new password replaces the old one.
    const finished = await ctx.store.withLock('vault rotate', async () => {
      const { writeFileAtomic } = await import('../adapters/atomic-write.js');
      const sweep = await scanChecked(ctx, root, folders, pw);
      for (const f of sweep.files) if (f.next !== undefined) await rewriteFile(ctx, root, f.file.rel, pw);
      const pendingText = await fs.readFile(pendingAbs, 'utf8');
      await writeFileAtomic(path.join(root, VAULT_PASSWORD_FILE), pendingText, 0o644);
      const done = finishVaultRotation((await vaultState(root)) ?? state, date, by);
      await writeState(root, done);
      await fs.rm(pendingAbs, { force: true });
      return { done, items: sweep.files.reduce((n, f) => n + f.file.items.length, 0) };
    });
    say(ctx, `the vault password is rotated: ${VAULT_PASSWORD_FILE} holds the new one; commit the registry and tell the admins to pull`);
    return {
      resumed: !!input.resume,
      rewritten,
      already_done: alreadyDone,
      items: finished.items,
      rotated_at: finished.done.rotated_at,
      rotated_by: finished.done.rotated_by,
      encrypted_to: [...admins],
      links_not_followed: checked.links,
      ...(exposedTo.length ? { readable_by_former_admins: exposedTo } : {}),
    };
  } catch (e) {
    return stopped(e);
  }
}
