/**
 * `infra tokens rotate` (docs/reference.md "Rotating a token"): a recorded sequence, so that a failure, a
 * crash or Ctrl-C at any point leaves the registry saying what is true: the new value is stored encrypted
 * (tokens/<name>.pending.asc) with the consumers still to update (member.yml `pending.left`) in one
 * transaction; each consumer written is recorded at once; only when none is left does the pending value
 * replace the old one and rotated_at/rotated_by change. `--resume` picks the sequence up from the record
 * (refused when someone who has left could read the pending value); `--abort` gives it up.
 *
 * Secrets come from stdin, a hidden prompt, randomness or a homeserver login, never from argv, and are
 * written only to consumers and encrypted files. Errors are scrubbed of them before they leave.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { GithubSecrets } from '../adapters/github-secrets.js';
import type { Matrix } from '../adapters/matrix.js';
import type { Loaded } from '../adapters/registry-load.js';
import type { Transaction } from '../adapters/transaction.js';
import { catalogEntry, formerReaders, readerHandles } from '../core/secrets.js';
import { consumerSteps } from '../core/token-steps.js';
import {
  consumerDone,
  describeConsumer,
  finishRotation,
  formatConsumer,
  generateGenericToken,
  githubNewTokenUrl,
  githubPermissions,
  githubRevokeUrl,
  githubTokenType,
  planRotation,
  startRotation,
  tokenValueFile,
  type RotationPlan,
} from '../core/tokens.js';
import type { IsoDate, Member, TokenEntry, TokenKind } from '../core/types.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { say, today, type Context } from './context.js';
import {
  actor,
  adminKey,
  decryptFile,
  encryptForAdmins,
  exists,
  githubApiUrl,
  isGithub,
  parseTokenRef,
  readSecret,
  realRemotes,
  requireToken,
  scrubbed,
  type TokenRef,
  type TokenRemotes,
  type UnlockedKey,
} from './token-common.js';
import { vaultPasswordMissing, vaultSetup, type VaultSetup } from './vault-password.js';
import { shellQuote } from '../lib/shell-quote.js';

// ---------------------------------------------------------------- input and result

export interface RotateTokenInput {
  ref: string;
  dryRun?: boolean;
  resume?: boolean;
  key?: string;
  vaultPasswordFile?: string;
  /** Asked between steps: true after Ctrl+C, so the rotation stops at a recorded point. */
  cancelled?: () => boolean;
  /** Aborted by Ctrl+C: the request in flight is cancelled at once (exit 130, with the --resume command). */
  signal?: AbortSignal;
}

export interface RotateTokenResult {
  token: string;
  kind: TokenKind;
  dry_run: boolean;
  resumed: boolean;
  /** Consumers written by this run, in order. */
  updated: string[];
  /** Consumers that already held the new value (a resumed rotation). */
  already_done: string[];
  steps?: string[];
  /** --dry-run: what would stop a real run now (each with the command or setting that fixes it). */
  blocked_by?: Array<{ code: number; message: string; hint?: string }>;
  rotated_at?: IsoDate;
  rotated_by?: string;
  expires_at?: IsoDate;
  /** Who the stored value is encrypted to: handle and fingerprint. */
  encrypted_to?: Array<{ handle: string; fingerprint: string }>;
  /** GitHub: where the old token is revoked (the API cannot). */
  revoke_url?: string;
  /** Matrix: whether the old access token was logged out. */
  old_token_logged_out?: boolean;
  value_file: string;
}

/** The InfraError of a failure part-way, naming what is done and what is not, with the command that finishes it. */
function partWay(e: unknown, id: string, done: string[], left: string[], secrets: string[]): InfraError {
  const scrub = (s: string) => secrets.reduce((t, x) => (x && x.length >= 4 ? t.split(x).join('[REDACTED]') : t), s);
  const base = e instanceof InfraError ? e : new InfraError(ExitCode.bug, `unexpected error: ${(e as Error)?.message ?? String(e)}`);
  const message = `${scrub(base.message)}. Rotation of ${id} stopped part-way: done: ${done.join(', ') || 'none'}; not done: ${left.join(', ') || 'none (only the final step)'}`;
  const resume = `infra tokens rotate ${shellQuote(id)} --resume --key YOUR-KEY.asc`;
  const hint = base.exitCode === ExitCode.cancelled ? `to finish it: ${resume} (or give it up: infra tokens rotate ${shellQuote(id)} --abort)` : `after fixing that: ${resume}${base.hint ? ` (${scrub(base.hint)})` : ''}`;
  return new InfraError(base.exitCode, message, { hint });
}

const cancelledError = () => new InfraError(ExitCode.cancelled, 'cancelled');

// ---------------------------------------------------------------- what is checked before anything changes

/**
 * Who could read the pending value and has left since (departed, removed from admins, or a key no member
 * holds): then the value is exposed, and a resume would make it the live one.
 */
async function pendingExposure(loaded: Loaded, pendingFile: string): Promise<string[]> {
  const { readKeyring, secretFacts } = await import('../adapters/secret-catalog.js');
  const root = loaded.registry.root;
  const { members, config } = loaded.registry;
  const entry = catalogEntry(await secretFacts(root, pendingFile), members, await readKeyring(root, members));
  if (!entry) return [];
  const { handles, unknownKeys } = formerReaders(entry, config.admins, members);
  return [...handles, ...unknownKeys.map((k) => `key ${k}`)];
}

/** Every reason a real run would stop before a new value exists, in the order it would meet them. */
async function blockers(ctx: Context, loaded: Loaded, id: string, token: TokenEntry, plan: RotationPlan, input: RotateTokenInput): Promise<InfraError[]> {
  const out: InfraError[] = [];
  if (input.resume && !input.key) out.push(new InfraError(ExitCode.usage, '--resume needs --key FILE: your private OpenPGP key, to decrypt the pending value', { hint: `infra tokens rotate ${shellQuote(id)} --resume --key YOUR-KEY.asc` }));
  const vault = vaultPasswordMissing(ctx, plan.consumers, input.vaultPasswordFile, loaded, input.key);
  if (vault) out.push(vault);
  if (plan.consumers.some(isGithub) && token.kind !== 'github' && !ctx.env.GITHUB_TOKEN)
    out.push(
      new InfraError(ExitCode.usage, `${id} has GitHub consumers, and writing their secrets needs GITHUB_TOKEN (a token of yours that may write them)`, {
        hint: `GITHUB_TOKEN=$(gh auth token) infra tokens rotate ${shellQuote(id)}`,
      }),
    );
  if (token.kind === 'matrix' && !input.key && !input.resume)
    out.push(new InfraError(ExitCode.usage, `rotating a matrix token needs --key FILE: the old access token (${plan.value_file}) is decrypted to learn the bot's user and to log it out`, { hint: `infra tokens rotate ${shellQuote(id)} --key YOUR-KEY.asc` }));
  if (input.resume) {
    const former = await pendingExposure(loaded, plan.pending_file);
    if (former.length)
      out.push(
        new InfraError(ExitCode.invalid, `${id}: the pending value in ${plan.pending_file} could be read by ${former.join(', ')}, who is no longer an admin: finishing would make an exposed value the live one`, {
          hint: `give it up and start afresh: infra tokens rotate ${shellQuote(id)} --abort, then infra tokens rotate ${shellQuote(id)}`,
        }),
      );
  } else {
    // every admin key must take the value: found now, not after the value exists
    try {
      await encryptForAdmins(ctx, loaded, 'infra dry run');
    } catch (e) {
      if (!(e instanceof InfraError)) throw e;
      out.push(e);
    }
  }
  return out;
}

// ---------------------------------------------------------------- rotate

export async function rotateToken(ctx: Context, input: RotateTokenInput, remotes: TokenRemotes = realRemotes): Promise<RotateTokenResult> {
  const ref = parseTokenRef(input.ref);
  const id = `${ref.handle}/${ref.name}`;
  const loaded = await ctx.store.load();
  const { member, token } = requireToken(loaded, ref);
  if (member.kind !== 'bot') throw new InfraError(ExitCode.invalid, `${ref.handle} is not a bot; only bots hold tokens`);
  const apiUrl = githubApiUrl(ctx);
  const vaultFiles = await vaultSetup(ctx, loaded, token.consumers, input.vaultPasswordFile, false);
  const plan = planRotation({ handle: ref.handle, token, admins: loaded.registry.config.admins, resume: input.resume, githubApiUrl: apiUrl, vaultFiles: vaultFiles.files });
  const blocked = await blockers(ctx, loaded, id, token, plan, input);
  if (input.dryRun) {
    const blocked_by = blocked.map((e) => ({ code: e.exitCode, message: e.message, ...(e.hint ? { hint: e.hint } : {}) }));
    return { token: id, kind: token.kind, dry_run: true, resumed: plan.resume, updated: [], already_done: plan.already_done, steps: plan.steps, ...(blocked_by.length ? { blocked_by } : {}), value_file: plan.value_file };
  }
  if (blocked.length) throw blocked[0];

  const vault = await vaultSetup(ctx, loaded, plan.consumers, input.vaultPasswordFile, true, input.key);
  const key = input.key ? await adminKey(ctx, input.key) : undefined;
  const by = await actor(ctx, loaded, key);
  const githubConsumers = plan.consumers.some(isGithub);
  const github = githubConsumers || token.kind === 'github' ? await remotes.github(apiUrl, input.signal) : undefined;
  const matrix = token.kind === 'matrix' ? await remotes.matrix(token.homeserver!, input.signal) : undefined;
  const run: Run = { ctx, loaded, ref, id, member, token, plan, input, key, by, apiUrl, github, matrix, vault, secrets: [] };

  const old = matrix ? await oldMatrixToken(run) : undefined;
  const { value, expiresAt } = input.resume ? await resumedValue(run) : await newValue(run, old?.user);
  if (!input.resume) await storePending(run, value);
  const updated = await updateConsumers(run, value);
  const done = await finish(run, value, expiresAt, updated);

  const result: RotateTokenResult = {
    token: id,
    kind: token.kind,
    dry_run: false,
    resumed: plan.resume,
    updated,
    already_done: plan.already_done,
    rotated_at: done.date,
    rotated_by: by,
    ...(token.kind === 'github' && expiresAt ? { expires_at: expiresAt } : {}),
    encrypted_to: done.recipients,
    value_file: plan.value_file,
  };
  if (matrix && old) {
    try {
      await matrix.logout(old.token);
      result.old_token_logged_out = true;
    } catch (e) {
      result.old_token_logged_out = false;
      say(ctx, `warning: the old access token could not be logged out (${scrubbed(e, run.secrets).message}); log out its device in a Matrix client`);
    }
  }
  if (token.kind === 'github') result.revoke_url = githubRevokeUrl(apiUrl, githubTokenType(value));
  return result;
}

/** One rotation's state, passed between its steps. */
interface Run {
  ctx: Context;
  loaded: Loaded;
  ref: TokenRef;
  id: string;
  member: Member;
  token: TokenEntry;
  plan: RotationPlan;
  input: RotateTokenInput;
  key?: UnlockedKey;
  by: string;
  apiUrl: string;
  github?: GithubSecrets;
  matrix?: Matrix;
  vault: VaultSetup;
  /** Every secret seen so far: scrubbed from every error. */
  secrets: string[];
}

/** A remote call that Ctrl+C may cancel: the error is then "cancelled" (130), whatever the client made of it. */
async function remote<T>(run: Run, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (run.input.signal?.aborted) throw cancelledError();
    throw e;
  }
}

/** The old Matrix token: who the bot is, and what to log out at the end. */
async function oldMatrixToken(run: Run): Promise<{ token: string; user?: string }> {
  const { ref, id, key, loaded } = run;
  const oldFile = tokenValueFile(ref.handle, ref.name);
  if (!key) throw new InfraError(ExitCode.usage, `rotating a matrix token needs --key FILE: the old access token (${oldFile}) is decrypted to learn the bot's user and to log it out`, { hint: `infra tokens rotate ${shellQuote(id)} --key YOUR-KEY.asc` });
  if (!(await exists(path.join(loaded.registry.root, oldFile)))) throw new InfraError(ExitCode.invalid, `${oldFile} does not exist, so the bot's Matrix user is unknown`, { hint: `restore ${oldFile} from git, or rotate this token by hand` });
  const token = await decryptFile(loaded, oldFile, key);
  run.secrets.push(token);
  if (run.input.resume) return { token };
  return { token, user: (await remote(run, () => run.matrix!.whoAmI(token))).userId };
}

/** --resume: the value stored when the rotation started. */
async function resumedValue(run: Run): Promise<{ value: string; expiresAt?: IsoDate }> {
  const value = await decryptFile(run.loaded, run.plan.pending_file, run.key!);
  run.secrets.push(value);
  const expiresAt = run.token.kind === 'github' ? (await remote(run, () => run.github!.whoAmI(value))).expiresAt : undefined;
  return { value, ...(expiresAt ? { expiresAt } : {}) };
}

/** A new value: pasted (GitHub), from a login (Matrix) or random (generic), checked before anything is stored. */
async function newValue(run: Run, matrixUser: string | undefined): Promise<{ value: string; expiresAt?: IsoDate }> {
  const { ctx, member, token, ref, secrets } = run;
  if (token.kind === 'github') {
    if (!member.github) throw new InfraError(ExitCode.invalid, `${ref.handle} has no github login in keys/${ref.handle}/member.yml, so the new token cannot be checked`, { hint: `infra members edit ${shellQuote(ref.handle)} --github LOGIN` });
    const perms = githubPermissions(token.consumers);
    if (ctx.prompter)
      say(ctx, `Make a new token for ${member.github} at ${githubNewTokenUrl(run.apiUrl)}${perms.fineGrained.length ? ` with: ${perms.fineGrained.join('; ')} (classic: ${perms.classicScopes.join(', ')})` : ''}.`);
    const value = await readSecret(ctx, 'the new GitHub token', `New GitHub token of ${member.github} (hidden)`);
    secrets.push(value);
    const who = await remote(run, () => run.github!.whoAmI(value));
    if (who.login.toLowerCase() !== member.github.toLowerCase())
      throw new InfraError(ExitCode.invalid, `the new token belongs to GitHub user ${who.login}, not to ${ref.handle}'s ${member.github}; nothing was changed`, { hint: `make the token while signed in as ${member.github}` });
    return { value, ...(who.expiresAt ? { expiresAt: who.expiresAt } : {}) };
  }
  if (token.kind === 'matrix') {
    const matrix = run.matrix!;
    const password = await readSecret(ctx, `the Matrix password of ${matrixUser}`, `Matrix password of ${matrixUser} (hidden, not stored)`, { allowSpaces: true });
    secrets.push(password);
    const login = await remote(run, () => matrix.passwordLogin(matrixUser!, password));
    secrets.push(login.accessToken);
    try {
      const who = await remote(run, () => matrix.whoAmI(login.accessToken));
      if (who.userId !== matrixUser) throw new InfraError(ExitCode.remote, `the homeserver says the new access token is ${who.userId}'s, not ${matrixUser}'s; nothing was changed`);
    } catch (e) {
      await matrix.logout(login.accessToken).catch(() => undefined); // do not leave an unrecorded session behind
      throw e;
    }
    return { value: login.accessToken };
  }
  const value = generateGenericToken(ctx.random(32));
  secrets.push(value);
  return { value };
}

/** The value exists now: store it encrypted and record the sequence before any consumer sees it. */
async function storePending(run: Run, value: string): Promise<void> {
  const { ctx, loaded, ref, id, plan } = run;
  try {
    const { armored, recipients } = await encryptForAdmins(ctx, loaded, value);
    await ctx.store.mutateMember(ref.handle, 'tokens rotate', (tx) => {
      const current = requireToken(tx.loaded, ref);
      if (current.token.pending) throw new InfraError(ExitCode.invalid, `${id}: another rotation started meanwhile`, { hint: `infra tokens rotate ${shellQuote(id)} --resume --key YOUR-KEY.asc` });
      tx.writeFile(plan.pending_file, armored, 0o644);
      tx.editMember(ref.handle).setBlock(['tokens', current.index, 'pending'], startRotation(current.token, today(ctx), run.by).pending!);
    });
    say(ctx, `stored the new value of ${id} encrypted to ${recipients.map((r) => `${r.handle} (${r.fingerprint})`).join(', ')} in ${plan.pending_file}`);
  } catch (e) {
    if (run.matrix) await run.matrix.logout(value).catch(() => undefined);
    throw scrubbed(e, run.secrets);
  }
}

/**
 * Each step's consumers, recorded as soon as they hold the value: a GitHub consumer alone, the vault
 * consumers of one vars file together (one write of the file, one record; see consumerSteps).
 */
async function updateConsumers(run: Run, value: string): Promise<string[]> {
  const { ctx, ref, id, plan, vault } = run;
  const updated: string[] = [];
  const total = plan.consumers.length;
  const authToken = ctx.env.GITHUB_TOKEN || value;
  for (const step of consumerSteps(plan.consumers, vault.files)) {
    try {
      if (run.input.cancelled?.() || run.input.signal?.aborted) throw cancelledError();
      const [first] = step.consumers;
      if (isGithub(first)) await remote(run, () => run.github!.writeSecret(first, value, authToken));
      await ctx.store.mutateMember(ref.handle, 'tokens rotate', async (tx) => {
        const current = requireToken(tx.loaded, ref);
        if (step.file !== undefined) await stageVaultVars(ctx, tx, step.file, step.consumers.flatMap((c) => ('ansible_vault_var' in c ? [c.ansible_vault_var.var] : [])), value, vault.password!);
        const after = step.consumers.reduce((token, c) => consumerDone(token, c), current.token);
        tx.editMember(ref.handle).setList(['tokens', current.index, 'pending', 'left'], after.pending!.left);
      });
    } catch (e) {
      const done = new Set(updated);
      const left = plan.consumers.map(formatConsumer).filter((c) => !done.has(c));
      throw partWay(scrubbed(e, run.secrets), id, [...plan.already_done, ...updated], left, run.secrets);
    }
    for (const c of step.consumers) {
      updated.push(formatConsumer(c));
      say(ctx, `[${updated.length}/${total}] wrote ${describeConsumer(c)}`);
    }
  }
  return updated;
}

/**
 * Every consumer has it: the value is stored encrypted to the current admins, and the rotation is recorded
 * once. readable_by is who the ciphertexts this value has had are really encrypted to (the pending one and
 * the final one), read from the messages.
 */
async function finish(run: Run, value: string, expiresAt: IsoDate | undefined, updated: string[]): Promise<{ date: IsoDate; recipients: Array<{ handle: string; fingerprint: string }> }> {
  const { ctx, loaded, ref, id, plan } = run;
  const date = today(ctx);
  let recipients: Array<{ handle: string; fingerprint: string }> = [];
  try {
    if (run.input.cancelled?.() || run.input.signal?.aborted) throw cancelledError();
    const { readKeyring, secretFacts } = await import('../adapters/secret-catalog.js');
    const { members } = loaded.registry;
    const pending = catalogEntry(await secretFacts(loaded.registry.root, plan.pending_file), members, await readKeyring(loaded.registry.root, members));
    const final = await encryptForAdmins(ctx, loaded, value);
    recipients = final.recipients;
    const readers = [...new Set([...(pending?.ever_readable_by ?? readerHandles([])), ...recipients.map((r) => r.handle)])].sort();
    await ctx.store.mutateMember(ref.handle, 'tokens rotate', (tx) => {
      const current = requireToken(tx.loaded, ref);
      const finished = finishRotation(current.token, date, run.by, readers, expiresAt);
      const editor = tx.editMember(ref.handle);
      const at = ['tokens', current.index];
      editor.removeKey([...at, 'pending']);
      editor.set([...at, 'rotated_at'], date, current.token.rotate_every_days !== undefined ? 'rotate_every_days' : 'kind');
      editor.set([...at, 'rotated_by'], run.by, 'rotated_at');
      if (finished.expires_at) editor.set([...at, 'expires_at'], finished.expires_at, 'rotated_by');
      else editor.removeKey([...at, 'expires_at']);
      editor.setList([...at, 'readable_by'], finished.readable_by!);
      tx.writeFile(plan.value_file, final.armored, 0o644);
      tx.removeFile(plan.pending_file);
    });
    await removeHistory(loaded, plan.pending_file);
  } catch (e) {
    throw partWay(scrubbed(e, run.secrets), id, [...plan.already_done, ...updated], [], run.secrets);
  }
  say(ctx, `rotated ${id}: ${plan.value_file} holds the new value, encrypted to ${recipients.map((r) => `${r.handle} (${r.fingerprint})`).join(', ')}`);
  return { date, recipients };
}

/** The record of who could read a pending value goes with it. */
async function removeHistory(loaded: Loaded, rel: string): Promise<void> {
  const { historyFile } = await import('../adapters/secret-catalog.js');
  await fs.rm(path.join(loaded.registry.root, historyFile(rel)), { force: true });
}

/** Writes `VAR: !vault |` for each of `varNames` into the vars file as one write of `tx` (other variables kept). */
async function stageVaultVars(ctx: Context, tx: Transaction, rel: string, varNames: string[], value: string, password: Buffer): Promise<void> {
  const { setVaultVar, vaultEncrypt } = await import('../adapters/ansible-vault.js');
  let text = await fs.readFile(path.join(tx.root, rel), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  for (const varName of varNames) text = setVaultVar(text, varName, vaultEncrypt(value, password, ctx.random), rel);
  tx.writeFile(rel, text!);
}

// ---------------------------------------------------------------- abort

export interface AbortRotationResult {
  token: string;
  /** The pending value destroyed. */
  discarded: string;
  /** Consumers that already hold the discarded value: they need the fresh rotation. */
  consumers_updated: string[];
  consumers_not_updated: string[];
  written: string[];
}

/** Gives up a pending rotation: the pending value and its record go; a fresh rotation then starts clean. */
export async function abortRotation(ctx: Context, refText: string): Promise<AbortRotationResult> {
  const ref = parseTokenRef(refText);
  const id = `${ref.handle}/${ref.name}`;
  const loaded = await ctx.store.load();
  const { token } = requireToken(loaded, ref);
  if (!token.pending) throw new InfraError(ExitCode.invalid, `${id}: no rotation is in progress, nothing to abort`, { hint: `infra tokens rotate ${shellQuote(id)}` });
  const plan = planRotation({ handle: ref.handle, token, admins: loaded.registry.config.admins.length ? loaded.registry.config.admins : ['-'], resume: true });
  const { result, written } = await ctx.store.mutateMember(ref.handle, 'tokens rotate --abort', async (tx) => {
    const current = requireToken(tx.loaded, ref);
    if (!current.token.pending) throw new InfraError(ExitCode.invalid, `${id}: no rotation is in progress, nothing to abort`, { hint: `infra tokens rotate ${shellQuote(id)}` });
    const left = current.token.pending.left;
    tx.editMember(ref.handle).removeKey(['tokens', current.index, 'pending']);
    if (await exists(path.join(tx.root, plan.pending_file))) tx.removeFile(plan.pending_file);
    return { token: id, discarded: plan.pending_file, consumers_updated: plan.already_done, consumers_not_updated: [...left] };
  });
  await removeHistory(loaded, plan.pending_file);
  say(ctx, `gave up the rotation of ${id}: ${plan.pending_file} is destroyed`);
  if (result.consumers_updated.length)
    say(ctx, `these consumers already hold the discarded value, which will not be kept: ${result.consumers_updated.join(', ')}; run \`infra tokens rotate ${shellQuote(id)}\` now so they get a kept one`);
  return { ...result, written };
}

export type { RotationPlan };
