/**
 * Bot tokens (SPEC §6): register one (add), list them, show one (and decrypt it with --reveal), rotate one
 * or every due one, and re-encrypt every stored value to the current admins.
 *
 * A rotation is a recorded sequence, so that a failure or a crash at any point leaves the registry saying
 * what is true: the new value is stored encrypted (tokens/<name>.pending.asc) together with the consumers
 * still to update (member.yml `pending.left`) in one transaction; each consumer written is recorded at once
 * (its own transaction); only when none is left does the pending value replace the old one and
 * rotated_at/rotated_by change. `--resume` picks the sequence up from the record. Each of these
 * transactions is an edit of the bot alone (store.mutateMember): with a peer index that describes the
 * registry, it reads infra.yml and the bot's member.yml, not every member.
 *
 * Secrets come from stdin, a hidden prompt, randomness or a homeserver login, never from argv, and are
 * written only to consumers and encrypted files. Errors are scrubbed of them before they leave.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Document, type YAMLMap } from 'yaml';
import type { GithubConsumer, GithubSecrets } from '../adapters/github-secrets.js';
import type { Matrix } from '../adapters/matrix.js';
import { inventoryFolder, loadInventories } from '../adapters/inventories.js';
import type { Loaded, Transaction } from '../adapters/store.js';
import {
  CONSUMER_FORMS,
  consumerKey,
  describeConsumer,
  exposedTo,
  finishRotation,
  formatConsumer,
  generateGenericToken,
  GITHUB_API_URL,
  githubNewTokenUrl,
  githubPermissions,
  githubRevokeUrl,
  githubTokenType,
  parseConsumer,
  planRotation,
  readSecretLine,
  reencrypted,
  startRotation,
  tokenDue,
  tokenPendingFile,
  tokenValueFile,
  vaultFilePath,
  consumerDone,
  type RotationPlan,
} from '../core/tokens.js';
import { HANDLE_RE, NAME_RE, type IsoDate, type Member, type TokenConsumer, type TokenEntry, type TokenKind } from '../core/types.js';
import { assertHandle, printable, TOKEN_KINDS } from '../core/validate.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { readArg, requireMember, say, today, type Context } from './context.js';

// ---------------------------------------------------------------- the remote sides, injectable

/** GitHub and Matrix as the token services use them; tests pass clients of local stand-in servers. */
export interface TokenRemotes {
  github(baseUrl: string): Promise<GithubSecrets>;
  matrix(homeserver: string): Promise<Matrix>;
}

export const realRemotes: TokenRemotes = {
  async github(baseUrl) {
    const { githubSecrets } = await import('../adapters/github-secrets.js');
    return githubSecrets({ baseUrl });
  },
  async matrix(homeserver) {
    const { matrixClient } = await import('../adapters/matrix.js');
    return matrixClient(homeserver);
  },
};

const githubApiUrl = (ctx: Context) => ctx.env.INFRA_GITHUB_API_URL || GITHUB_API_URL;
const isGithub = (c: TokenConsumer): c is GithubConsumer => !('ansible_vault_var' in c);

// ---------------------------------------------------------------- finding a token

export interface TokenRef {
  handle: string;
  name: string;
}

/** `HANDLE/NAME` -> its parts; anything else is a usage error that shows the form. */
export function parseTokenRef(ref: string): TokenRef {
  const [handle, name, ...rest] = ref.split('/');
  if (rest.length || !handle || !name || !HANDLE_RE.test(handle) || !NAME_RE.test(name))
    // not echoed: a token pasted here by mistake must not reach the terminal's scrollback or a log
    throw new InfraError(ExitCode.usage, 'name the token as HANDLE/NAME, e.g. roobot/github (a token value is never taken from the command line: give it on stdin)', { hint: 'see `infra tokens list`' });
  return { handle, name };
}

function requireToken(loaded: Loaded, ref: TokenRef): { member: Member; token: TokenEntry; index: number } {
  const member = requireMember(loaded.registry, ref.handle);
  const index = member.tokens.findIndex((t) => t.name === ref.name);
  if (index < 0)
    throw new InfraError(ExitCode.invalid, `${ref.handle} has no token "${ref.name}"`, {
      hint: member.tokens.length ? `its tokens: ${member.tokens.map((t) => `${ref.handle}/${t.name}`).join(', ')}` : `add one: infra tokens add ${ref.handle} ${ref.name} --kind generic --consumer ...`,
    });
  return { member, token: member.tokens[index], index };
}

// ---------------------------------------------------------------- add

export interface AddTokenInput {
  handle: string;
  name: string;
  kind: string;
  every?: number;
  consumers: string[];
  homeserver?: string;
}

export interface AddTokenResult {
  token: string;
  kind: TokenKind;
  consumers: string[];
  written: string[];
}

export async function addToken(ctx: Context, input: AddTokenInput): Promise<AddTokenResult> {
  assertHandle(input.handle);
  if (!NAME_RE.test(input.name)) throw new InfraError(ExitCode.invalid, `"${printable(input.name)}" is not a token name (letters, digits, . _ -; no spaces or /)`);
  if (!(TOKEN_KINDS as readonly string[]).includes(input.kind)) throw new InfraError(ExitCode.invalid, `--kind must be one of ${TOKEN_KINDS.join(', ')}`);
  const kind = input.kind as TokenKind;
  if (input.every !== undefined && (!Number.isInteger(input.every) || input.every < 1)) throw new InfraError(ExitCode.invalid, '--every must be a whole number of days, at least 1');
  if (kind === 'matrix' && !input.homeserver) throw new InfraError(ExitCode.usage, 'a matrix token needs --homeserver URL', { hint: `infra tokens add ${input.handle} ${input.name} --kind matrix --homeserver https://matrix.example` });
  if (kind !== 'matrix' && input.homeserver !== undefined) throw new InfraError(ExitCode.invalid, '--homeserver is only for --kind matrix');
  const consumers = input.consumers.map((c) => parseConsumer(c));
  const seen = new Set<string>();
  for (const c of consumers) {
    if (seen.has(consumerKey(c))) throw new InfraError(ExitCode.invalid, `--consumer ${formatConsumer(c)} is given twice`);
    seen.add(consumerKey(c));
  }
  const loaded = await ctx.store.load();
  await checkVaultTargets(loaded, consumers);

  const entry: Record<string, unknown> = { name: input.name, kind };
  if (input.every !== undefined) entry.rotate_every_days = input.every;
  if (input.homeserver) entry.homeserver = input.homeserver;
  // `- github_secret: {repo: a/b, name: X}`: one line per consumer, as people write them
  entry.consumers = consumers.map((c) => {
    const [kind, fields] = Object.entries(c)[0];
    const node = new Document().createNode(fields) as YAMLMap;
    node.flow = true;
    return { [kind]: node };
  });
  const { written } = await ctx.store.mutate('tokens add', (tx) => {
    const member = requireMember(tx.registry, input.handle);
    if (member.kind !== 'bot') throw new InfraError(ExitCode.invalid, `${input.handle} is a ${member.kind}; only bots hold tokens`, { hint: 'add the bot first: infra members add HANDLE --bot --name ... --org ... --email ...' });
    if (member.tokens.some((t) => t.name === input.name))
      throw new InfraError(ExitCode.invalid, `${input.handle} already has a token "${input.name}"`, { hint: `see it with \`infra tokens show ${input.handle}/${input.name}\`` });
    tx.editMember(input.handle).append(['tokens'], entry);
  });
  say(ctx, `Next: store its first value with \`infra tokens rotate ${input.handle}/${input.name}\`.`);
  return { token: `${input.handle}/${input.name}`, kind, consumers: consumers.map(formatConsumer), written };
}

/** Each ansible_vault_var consumer names an environment of infra.yml and a group its inventory has. */
async function checkVaultTargets(loaded: Loaded, consumers: TokenConsumer[]): Promise<void> {
  const vault = consumers.filter((c): c is Extract<TokenConsumer, { ansible_vault_var: unknown }> => 'ansible_vault_var' in c);
  if (!vault.length) return;
  const environments = loaded.registry.config.environments;
  for (const c of vault) {
    const env = c.ansible_vault_var.environment;
    if (environments[env] === undefined)
      throw new InfraError(ExitCode.invalid, `--consumer ${formatConsumer(c)}: no environment "${env}" in infra.yml (known: ${Object.keys(environments).join(', ') || 'none'})`, {
        hint: `write it as ${CONSUMER_FORMS.ansible_vault_var} with one of those environments`,
      });
  }
  const inventories = await loadInventories(loaded, [...new Set(vault.map((c) => c.ansible_vault_var.environment))]);
  for (const c of vault) {
    const { environment, group } = c.ansible_vault_var;
    const groups = [...inventories[environment].groups.keys()];
    if (!groups.includes(group))
      throw new InfraError(ExitCode.invalid, `--consumer ${formatConsumer(c)}: the ${environment} inventory has no group "${group}" (its groups: ${groups.join(', ')})`, {
        hint: `add the group to ${environments[environment]}, or name one it has`,
      });
  }
}

// ---------------------------------------------------------------- list and show

export interface TokenRow {
  token: string;
  owner: string;
  name: string;
  kind: TokenKind;
  consumers: string[];
  rotated_at?: IsoDate;
  rotated_by?: string;
  next_due?: IsoDate;
  status: 'ok' | 'due-soon' | 'overdue';
  expires_at?: IsoDate;
  homeserver?: string;
  readable_by?: string[];
  /** A rotation in progress. */
  pending?: { started_at: IsoDate; started_by: string; left: string[] };
  /** Whether keys/<owner>/tokens/<name>.asc exists. */
  stored: boolean;
}

function tokenRow(loaded: Loaded, ctx: Context, member: Member, token: TokenEntry, stored: boolean): TokenRow {
  const { policy } = loaded.registry.config;
  const due = tokenDue(token, policy.tokens.rotate_every_days, today(ctx), policy.audit.horizon_days);
  return {
    token: `${member.handle}/${token.name}`,
    owner: member.handle,
    name: token.name,
    kind: token.kind,
    consumers: token.consumers.map(formatConsumer),
    ...(token.rotated_at ? { rotated_at: token.rotated_at } : {}),
    ...(token.rotated_by ? { rotated_by: token.rotated_by } : {}),
    ...(due.due ? { next_due: due.due } : {}),
    status: due.status,
    ...(token.expires_at ? { expires_at: token.expires_at } : {}),
    ...(token.homeserver ? { homeserver: token.homeserver } : {}),
    ...(token.readable_by ? { readable_by: token.readable_by } : {}),
    ...(token.pending ? { pending: token.pending } : {}),
    stored,
  };
}

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

export async function listTokens(ctx: Context): Promise<{ tokens: TokenRow[] }> {
  const loaded = await ctx.store.load();
  const tokens: TokenRow[] = [];
  for (const m of loaded.registry.members)
    for (const t of m.tokens) tokens.push(tokenRow(loaded, ctx, m, t, await exists(path.join(loaded.registry.root, tokenValueFile(m.handle, t.name)))));
  if (!tokens.length) say(ctx, 'no tokens; register one with `infra tokens add HANDLE NAME --kind K --consumer C`');
  return { tokens };
}

export interface ShowTokenInput {
  ref: string;
  reveal?: boolean;
  key?: string;
}

export async function showToken(ctx: Context, input: ShowTokenInput): Promise<TokenRow & { value?: string }> {
  const ref = parseTokenRef(input.ref);
  if (input.reveal && !input.key) throw new InfraError(ExitCode.usage, '--reveal needs --key FILE: your private OpenPGP key', { hint: `infra tokens show ${input.ref} --reveal --key YOUR-KEY.asc` });
  const loaded = await ctx.store.load();
  const { member, token } = requireToken(loaded, ref);
  const valueFile = tokenValueFile(ref.handle, ref.name);
  const stored = await exists(path.join(loaded.registry.root, valueFile));
  const row = tokenRow(loaded, ctx, member, token, stored);
  if (!input.reveal) return row;
  if (!stored) throw new InfraError(ExitCode.invalid, `${valueFile} does not exist: no value has been stored for ${row.token} yet`, { hint: `infra tokens rotate ${row.token}` });
  const unlock = await adminKey(ctx, input.key!);
  return { ...row, value: await decryptFile(loaded, valueFile, unlock) };
}

// ---------------------------------------------------------------- keys and values at rest

interface UnlockedKey {
  file: string;
  armored: string;
  passphrase?: string;
}

/** The admin's private key from --key, and its passphrase (INFRA_PGP_PASSPHRASE, else a hidden prompt when it is locked). */
async function adminKey(ctx: Context, file: string): Promise<UnlockedKey> {
  const armored = await readArg(ctx, file);
  if (file !== '-') {
    // as ssh does for an identity file: a private key others can read is worth a warning
    const { warnIfReadableByOthers } = await import('../adapters/secret-files.js');
    await warnIfReadableByOthers(path.resolve(ctx.cwd, file), (w) => say(ctx, `warning: ${w}`), 'private key file');
  }
  const { privateKeyIsLocked } = await import('../adapters/openpgp-tokens.js');
  let passphrase = ctx.env.INFRA_PGP_PASSPHRASE;
  if (passphrase === undefined && ctx.prompter && (await privateKeyIsLocked(armored))) passphrase = await ctx.prompter.password({ message: `Passphrase of ${file}` });
  return { file, armored, passphrase };
}

async function decryptFile(loaded: Loaded, rel: string, key: UnlockedKey): Promise<string> {
  const { decryptWithKey } = await import('../adapters/openpgp-tokens.js');
  let armored: string;
  try {
    armored = await fs.readFile(path.join(loaded.registry.root, rel), 'utf8');
  } catch {
    throw new InfraError(ExitCode.invalid, `${rel} is missing`, { hint: 'restore it from git (`git checkout -- FILE`), or rotate the token to write a new one' });
  }
  return decryptWithKey(armored, key.armored, key.passphrase, { messageFile: rel, keyFile: `--key ${key.file}` });
}

async function encryptForAdmins(ctx: Context, loaded: Loaded, value: string): Promise<string> {
  const { encryptToAdmins } = await import('../adapters/openpgp-tokens.js');
  const admins = await Promise.all(
    loaded.registry.config.admins.map(async (handle) => ({
      handle,
      armoredKey: await fs.readFile(path.join(loaded.registry.root, `keys/${handle}/pgp.asc`), 'utf8').catch(() => undefined),
    })),
  );
  return encryptToAdmins(value, admins, ctx.now());
}

/**
 * Who is doing this, for rotated_by/started_by: the admin whose public key matches --key, else INFRA_ADMIN,
 * else the member whose email is git's user.email, else the member named like the login.
 */
export async function actor(ctx: Context, loaded: Loaded, key?: UnlockedKey): Promise<string> {
  const members = loaded.registry.members;
  const { admins } = loaded.registry.config;
  if (key) {
    const { keyFingerprint } = await import('../adapters/openpgp-tokens.js');
    const mine = await keyFingerprint(key.armored);
    for (const a of admins) {
      const pub = await fs.readFile(path.join(loaded.registry.root, `keys/${a}/pgp.asc`), 'utf8').catch(() => undefined);
      if (mine && pub && (await keyFingerprint(pub)) === mine) return a;
    }
  }
  const named = ctx.env.INFRA_ADMIN;
  if (named) {
    if (!members.some((m) => m.handle === named && m.kind === 'human')) throw new InfraError(ExitCode.invalid, `INFRA_ADMIN=${printable(named)} is not a person in the registry`, { hint: 'set INFRA_ADMIN to your own handle' });
    return named;
  }
  const email = await gitEmail(ctx);
  const byEmail = email ? members.find((m) => m.kind === 'human' && m.email?.toLowerCase() === email.toLowerCase()) : undefined;
  if (byEmail) return byEmail.handle;
  const login = ctx.env.USER ?? ctx.env.LOGNAME;
  if (login && members.some((m) => m.handle === login && m.kind === 'human')) return login;
  throw new InfraError(ExitCode.usage, 'cannot tell who you are, for rotated_by: no --key of an admin, no INFRA_ADMIN, and git user.email matches no member', {
    hint: 'export INFRA_ADMIN=YOUR-HANDLE (or pass --key with your private key)',
  });
}

async function gitEmail(ctx: Context): Promise<string | undefined> {
  try {
    const { runProgram } = await import('../adapters/run-program.js');
    const r = await runProgram('git', ['config', 'user.email'], { cwd: ctx.cwd, timeoutMs: 5000 });
    return r.code === 0 ? r.stdout.trim() || undefined : undefined;
  } catch {
    return undefined;
  }
}

/** A secret from the hidden prompt on a terminal, else from stdin: one line, checked, never shown. */
async function readSecret(ctx: Context, what: string, promptMessage: string, options: { allowSpaces?: boolean } = {}): Promise<string> {
  let raw: string;
  if (ctx.prompter) raw = await ctx.prompter.password({ message: promptMessage });
  else if (ctx.stdin) raw = await ctx.stdin();
  else {
    const { readStdin } = await import('../adapters/input.js');
    try {
      raw = await readStdin();
    } catch (e) {
      if (e instanceof InfraError && e.exitCode === ExitCode.usage) throw new InfraError(ExitCode.usage, `${what} is read from stdin or a hidden prompt, and neither is available (--no-input on a terminal)`, { hint: `pipe it in: your-password-manager show ... | infra tokens rotate ...` });
      throw e;
    }
  }
  return readSecretLine(raw, what, options);
}

// ---------------------------------------------------------------- rotate

export interface RotateTokenInput {
  ref: string;
  dryRun?: boolean;
  resume?: boolean;
  key?: string;
  vaultPasswordFile?: string;
  /** Asked between steps: true after Ctrl+C, so the rotation stops at a recorded point. */
  cancelled?: () => boolean;
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
  rotated_at?: IsoDate;
  rotated_by?: string;
  expires_at?: IsoDate;
  /** GitHub: where the old token is revoked (the API cannot). */
  revoke_url?: string;
  /** Matrix: whether the old access token was logged out. */
  old_token_logged_out?: boolean;
  value_file: string;
}

interface VaultSetup {
  password?: Buffer;
  /** consumer CLI form -> vault file relative to the root */
  files: Record<string, string>;
}

async function vaultSetup(ctx: Context, loaded: Loaded, consumers: TokenConsumer[], flagFile: string | undefined, needPassword: boolean, keyFile?: string): Promise<VaultSetup> {
  const files: Record<string, string> = {};
  const vault = consumers.filter((c): c is Extract<TokenConsumer, { ansible_vault_var: unknown }> => 'ansible_vault_var' in c);
  for (const c of vault) {
    const folder = loaded.registry.config.environments[c.ansible_vault_var.environment];
    files[formatConsumer(c)] = vaultFilePath(await inventoryFolder(loaded.registry.root, folder), c.ansible_vault_var.group);
  }
  // A link on the way would have the vault file written wherever it points: refused before anything changes.
  const { linkOnPath } = await import('../adapters/vars-files.js');
  for (const [consumer, rel] of Object.entries(files)) {
    const link = await linkOnPath(loaded.registry.root, rel);
    if (link !== undefined)
      throw new InfraError(ExitCode.invalid, `${link} is a symbolic link: infra does not write ${rel} (for ${consumer}) through it`, {
        hint: `replace the link ${link} with a real folder or file inside the registry, then run the command again; nothing was changed`,
        problems: [{ file: link, field: '(link)', message: `is a symbolic link on the way to ${rel}` }],
      });
  }
  if (!vault.length || !needPassword) return { files };
  const file = flagFile ?? ctx.env.ANSIBLE_VAULT_PASSWORD_FILE;
  if (!file) {
    // else the registry's own: vault/password.asc, decrypted with --key (docs/reference.md, "Vault password")
    const { registryVaultPassword } = await import('./vault.js');
    if (keyFile || (await fs.access(path.join(loaded.registry.root, 'vault/password.asc')).then(() => true, () => false)))
      return { password: await registryVaultPassword(ctx, loaded, keyFile), files };
    throw new InfraError(ExitCode.usage, `${vault.map(formatConsumer).join(', ')} need${vault.length === 1 ? 's' : ''} the Ansible vault password: set ANSIBLE_VAULT_PASSWORD_FILE or pass --vault-password-file FILE (or store it in the registry: infra vault init)`, {
      hint: 'export ANSIBLE_VAULT_PASSWORD_FILE=~/.ansible/vault-pass (the file Ansible reads it from)',
    });
  }
  const { readVaultPasswordFile } = await import('../adapters/ansible-vault.js');
  const { password, warnings } = await readVaultPasswordFile(path.resolve(ctx.cwd, file));
  for (const w of warnings) say(ctx, `warning: ${w}`);
  return { password, files };
}

/** The InfraError of a failure part-way, naming what is done and what is not, with the command that finishes it. */
function partWay(e: unknown, id: string, done: string[], left: string[], secrets: string[]): InfraError {
  const scrub = (s: string) => secrets.reduce((t, x) => (x && x.length >= 4 ? t.split(x).join('[REDACTED]') : t), s);
  const base = e instanceof InfraError ? e : new InfraError(ExitCode.bug, `unexpected error: ${(e as Error)?.message ?? String(e)}`);
  const message = `${scrub(base.message)}. Rotation of ${id} stopped part-way: done: ${done.join(', ') || 'none'}; not done: ${left.join(', ') || 'none (only the final step)'}`;
  return new InfraError(base.exitCode, message, { hint: `after fixing that: infra tokens rotate ${id} --resume --key YOUR-KEY.asc${base.hint ? ` (${scrub(base.hint)})` : ''}` });
}

export async function rotateToken(ctx: Context, input: RotateTokenInput, remotes: TokenRemotes = realRemotes): Promise<RotateTokenResult> {
  const ref = parseTokenRef(input.ref);
  const id = `${ref.handle}/${ref.name}`;
  const loaded = await ctx.store.load();
  const { member, token } = requireToken(loaded, ref);
  if (member.kind !== 'bot') throw new InfraError(ExitCode.invalid, `${ref.handle} is not a bot; only bots hold tokens`);
  const apiUrl = githubApiUrl(ctx);
  const vaultFiles = await vaultSetup(ctx, loaded, token.consumers, input.vaultPasswordFile, false);
  const plan = planRotation({ handle: ref.handle, token, admins: loaded.registry.config.admins, resume: input.resume, githubApiUrl: apiUrl, vaultFiles: vaultFiles.files });
  if (input.dryRun) return { token: id, kind: token.kind, dry_run: true, resumed: plan.resume, updated: [], already_done: plan.already_done, steps: plan.steps, value_file: plan.value_file };
  if (input.resume && !input.key) throw new InfraError(ExitCode.usage, '--resume needs --key FILE: your private OpenPGP key, to decrypt the pending value', { hint: `infra tokens rotate ${id} --resume --key YOUR-KEY.asc` });

  // Everything that can be refused is checked before a new value exists.
  const vault = await vaultSetup(ctx, loaded, plan.consumers, input.vaultPasswordFile, true, input.key);
  const githubConsumers = plan.consumers.some(isGithub);
  if (githubConsumers && token.kind !== 'github' && !ctx.env.GITHUB_TOKEN)
    throw new InfraError(ExitCode.usage, `${id} has GitHub consumers, and writing their secrets needs GITHUB_TOKEN (a token of yours that may write them)`, {
      hint: `GITHUB_TOKEN=$(gh auth token) infra tokens rotate ${id}`,
    });
  const key = input.key ? await adminKey(ctx, input.key) : undefined;
  const by = await actor(ctx, loaded, key);
  const root = loaded.registry.root;
  const github = githubConsumers || token.kind === 'github' ? await remotes.github(apiUrl) : undefined;
  const matrix = token.kind === 'matrix' ? await remotes.matrix(token.homeserver!) : undefined;
  const secrets: string[] = [];

  // The old Matrix token: who the bot is, and what to log out at the end.
  let oldMatrixToken: string | undefined;
  let matrixUser: string | undefined;
  if (matrix) {
    const oldFile = tokenValueFile(ref.handle, ref.name);
    if (!key) throw new InfraError(ExitCode.usage, `rotating a matrix token needs --key FILE: the old access token (${oldFile}) is decrypted to learn the bot's user and to log it out`, { hint: `infra tokens rotate ${id} --key YOUR-KEY.asc` });
    if (!(await exists(path.join(root, oldFile)))) throw new InfraError(ExitCode.invalid, `${oldFile} does not exist, so the bot's Matrix user is unknown`, { hint: `restore ${oldFile} from git, or rotate this token by hand` });
    oldMatrixToken = await decryptFile(loaded, oldFile, key);
    secrets.push(oldMatrixToken);
    if (!input.resume) matrixUser = (await matrix.whoAmI(oldMatrixToken)).userId;
  }

  let value: string;
  let expiresAt: IsoDate | undefined;
  if (input.resume) {
    value = await decryptFile(loaded, plan.pending_file, key!);
    secrets.push(value);
    if (token.kind === 'github') expiresAt = (await github!.whoAmI(value)).expiresAt;
  } else {
    if (token.kind === 'github') {
      if (!member.github) throw new InfraError(ExitCode.invalid, `${ref.handle} has no github login in keys/${ref.handle}/member.yml, so the new token cannot be checked`, { hint: `infra members edit ${ref.handle} --github LOGIN` });
      const perms = githubPermissions(token.consumers);
      if (ctx.prompter)
        say(ctx, `Make a new token for ${member.github} at ${githubNewTokenUrl(apiUrl)}${perms.fineGrained.length ? ` with: ${perms.fineGrained.join('; ')} (classic: ${perms.classicScopes.join(', ')})` : ''}.`);
      value = await readSecret(ctx, 'the new GitHub token', `New GitHub token of ${member.github} (hidden)`);
      secrets.push(value);
      const who = await github!.whoAmI(value);
      if (who.login.toLowerCase() !== member.github.toLowerCase())
        throw new InfraError(ExitCode.invalid, `the new token belongs to GitHub user ${who.login}, not to ${ref.handle}'s ${member.github}; nothing was changed`, { hint: `make the token while signed in as ${member.github}` });
      expiresAt = who.expiresAt;
    } else if (token.kind === 'matrix') {
      const password = await readSecret(ctx, `the Matrix password of ${matrixUser}`, `Matrix password of ${matrixUser} (hidden, not stored)`, { allowSpaces: true });
      secrets.push(password);
      const login = await matrix!.passwordLogin(matrixUser!, password);
      value = login.accessToken;
      secrets.push(value);
      try {
        const who = await matrix!.whoAmI(value);
        if (who.userId !== matrixUser) throw new InfraError(ExitCode.remote, `the homeserver says the new access token is ${who.userId}'s, not ${matrixUser}'s; nothing was changed`);
      } catch (e) {
        await matrix!.logout(value).catch(() => undefined); // do not leave an unrecorded session behind
        throw e;
      }
    } else {
      value = generateGenericToken(ctx.random(32));
      secrets.push(value);
    }
    // The value exists now: store it encrypted and record the sequence before any consumer sees it.
    try {
      const encrypted = await encryptForAdmins(ctx, loaded, value);
      await ctx.store.mutateMember(ref.handle, 'tokens rotate', (tx) => {
        const current = requireToken(tx.loaded, ref);
        if (current.token.pending) throw new InfraError(ExitCode.invalid, `${id}: another rotation started meanwhile`, { hint: `infra tokens rotate ${id} --resume --key YOUR-KEY.asc` });
        tx.writeFile(plan.pending_file, encrypted, 0o644);
        tx.editMember(ref.handle).setBlock(['tokens', current.index, 'pending'], startRotation(current.token, today(ctx), by).pending!);
      });
    } catch (e) {
      if (matrix) await matrix.logout(value).catch(() => undefined);
      throw scrubbed(e, secrets);
    }
    say(ctx, `stored the new value of ${id} encrypted to ${loaded.registry.config.admins.join(', ')} in ${plan.pending_file}`);
  }

  // Each consumer, recorded as soon as it holds the value.
  const updated: string[] = [];
  const total = plan.consumers.length;
  const authToken = ctx.env.GITHUB_TOKEN || value;
  for (const [i, c] of plan.consumers.entries()) {
    const cli = formatConsumer(c);
    try {
      if (input.cancelled?.()) throw new InfraError(ExitCode.cancelled, 'cancelled');
      if (isGithub(c)) await github!.writeSecret(c, value, authToken);
      await ctx.store.mutateMember(ref.handle, 'tokens rotate', async (tx) => {
        const current = requireToken(tx.loaded, ref);
        if (!isGithub(c)) await stageVaultVar(ctx, tx, vault.files[cli], c.ansible_vault_var.var, value, vault.password!);
        tx.editMember(ref.handle).setList(['tokens', current.index, 'pending', 'left'], consumerDone(current.token, c).pending!.left);
      });
    } catch (e) {
      const left = plan.consumers.slice(i).map(formatConsumer);
      throw partWay(scrubbed(e, secrets), id, [...plan.already_done, ...updated], left, secrets);
    }
    updated.push(cli);
    say(ctx, `[${i + 1}/${total}] wrote ${describeConsumer(c)}`);
  }

  // Every consumer has it: the pending value becomes the value, and the rotation is recorded once.
  const admins = loaded.registry.config.admins;
  const date = today(ctx);
  try {
    if (input.cancelled?.()) throw new InfraError(ExitCode.cancelled, 'cancelled');
    const pendingText = await fs.readFile(path.join(root, plan.pending_file), 'utf8');
    await ctx.store.mutateMember(ref.handle, 'tokens rotate', (tx) => {
      const current = requireToken(tx.loaded, ref);
      const finished = finishRotation(current.token, date, by, admins, expiresAt);
      const editor = tx.editMember(ref.handle);
      const at = ['tokens', current.index];
      editor.removeKey([...at, 'pending']);
      editor.set([...at, 'rotated_at'], date, current.token.rotate_every_days !== undefined ? 'rotate_every_days' : 'kind');
      editor.set([...at, 'rotated_by'], by, 'rotated_at');
      if (finished.expires_at) editor.set([...at, 'expires_at'], finished.expires_at, 'rotated_by');
      else editor.removeKey([...at, 'expires_at']);
      editor.setList([...at, 'readable_by'], finished.readable_by!);
      tx.writeFile(plan.value_file, pendingText, 0o644);
      tx.removeFile(plan.pending_file);
    });
  } catch (e) {
    throw partWay(scrubbed(e, secrets), id, [...plan.already_done, ...updated], [], secrets);
  }
  say(ctx, `rotated ${id}: ${plan.value_file} holds the new value`);

  const result: RotateTokenResult = {
    token: id,
    kind: token.kind,
    dry_run: false,
    resumed: plan.resume,
    updated,
    already_done: plan.already_done,
    rotated_at: date,
    rotated_by: by,
    ...(token.kind === 'github' && expiresAt ? { expires_at: expiresAt } : {}),
    value_file: plan.value_file,
  };
  if (matrix && oldMatrixToken) {
    try {
      await matrix.logout(oldMatrixToken);
      result.old_token_logged_out = true;
    } catch (e) {
      result.old_token_logged_out = false;
      say(ctx, `warning: the old access token could not be logged out (${scrubbed(e, secrets).message}); log out its device in a Matrix client`);
    }
  }
  if (token.kind === 'github') result.revoke_url = githubRevokeUrl(apiUrl, githubTokenType(value));
  return result;
}

/** Writes `VAR: !vault |` into the vars file as part of `tx` (other variables kept). */
async function stageVaultVar(ctx: Context, tx: Transaction, rel: string, varName: string, value: string, password: Buffer): Promise<void> {
  const { setVaultVar, vaultEncrypt } = await import('../adapters/ansible-vault.js');
  const existing = await fs.readFile(path.join(tx.root, rel), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  tx.writeFile(rel, setVaultVar(existing, varName, vaultEncrypt(value, password, ctx.random), rel));
}

function scrubbed(e: unknown, secrets: string[]): InfraError {
  const scrub = (s: string | undefined) => (s === undefined ? undefined : secrets.reduce((t, x) => (x && x.length >= 4 ? t.split(x).join('[REDACTED]') : t), s));
  if (e instanceof InfraError) return new InfraError(e.exitCode, scrub(e.message)!, { hint: scrub(e.hint), problems: e.problems });
  if (e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError')) return new InfraError(ExitCode.cancelled, 'cancelled');
  return new InfraError(ExitCode.bug, `unexpected error: ${scrub(e instanceof Error ? e.message : String(e))}`);
}

// ---------------------------------------------------------------- --due

export interface RotateDueResult {
  rotated: RotateTokenResult[];
  /** Due tokens a person must rotate (a GitHub token to paste, a Matrix password to give, a rotation to resume). */
  need_person: Array<{ token: string; kind: TokenKind; due?: IsoDate; why: string; command: string }>;
  failed: Array<{ token: string; code: number; message: string }>;
  dry_run: boolean;
}

export async function rotateDue(ctx: Context, input: { dryRun?: boolean; vaultPasswordFile?: string; cancelled?: () => boolean }, remotes: TokenRemotes = realRemotes): Promise<RotateDueResult> {
  const loaded = await ctx.store.load();
  const { policy } = loaded.registry.config;
  const date = today(ctx);
  const out: RotateDueResult = { rotated: [], need_person: [], failed: [], dry_run: !!input.dryRun };
  for (const m of loaded.registry.members)
    for (const t of m.tokens) {
      const due = tokenDue(t, policy.tokens.rotate_every_days, date, policy.audit.horizon_days);
      if (due.due !== undefined && due.due > date && !t.pending) continue;
      const id = `${m.handle}/${t.name}`;
      const person = (why: string, command: string) => out.need_person.push({ token: id, kind: t.kind, ...(due.due ? { due: due.due } : {}), why, command });
      if (t.pending) person(`a rotation started ${t.pending.started_at} is not finished`, `infra tokens rotate ${id} --resume --key YOUR-KEY.asc`);
      else if (t.kind === 'github') person('GitHub cannot mint tokens: a person makes a new one and pastes it', `infra tokens rotate ${id}`);
      else if (t.kind === 'matrix') person("a new access token needs the bot's password", `infra tokens rotate ${id} --key YOUR-KEY.asc`);
      else {
        try {
          out.rotated.push(await rotateToken(ctx, { ref: id, dryRun: input.dryRun, vaultPasswordFile: input.vaultPasswordFile, cancelled: input.cancelled }, remotes));
        } catch (e) {
          if (!(e instanceof InfraError) || e.exitCode === ExitCode.cancelled) throw e;
          out.failed.push({ token: id, code: e.exitCode, message: e.message });
          say(ctx, `${id}: ${e.message}`);
        }
      }
    }
  return out;
}

// ---------------------------------------------------------------- reencrypt

export interface ReencryptResult {
  /** Files written again, encrypted to the current admins. */
  reencrypted: string[];
  admins: string[];
  /** Tokens whose current value a former admin could read: rotate them. */
  exposed: Array<{ token: string; readable_by_former_admins: string[]; command: string }>;
  written: string[];
}

export async function reencryptTokens(ctx: Context, input: { key?: string }): Promise<ReencryptResult> {
  if (!input.key) throw new InfraError(ExitCode.usage, 'reencrypt needs --key FILE: the private OpenPGP key of an admin who can read the tokens now', { hint: 'infra tokens reencrypt --key YOUR-KEY.asc' });
  const loaded = await ctx.store.load();
  const key = await adminKey(ctx, input.key);
  const admins = loaded.registry.config.admins;
  const root = loaded.registry.root;
  // Decrypt and encrypt everything first: one file that cannot be read means nothing is written.
  const files = new Map<string, string>();
  for (const m of loaded.registry.members)
    for (const t of m.tokens)
      for (const rel of [tokenValueFile(m.handle, t.name), tokenPendingFile(m.handle, t.name)])
        if (await exists(path.join(root, rel))) files.set(rel, await encryptForAdmins(ctx, loaded, await decryptFile(loaded, rel, key)));
  const { result, written } = await ctx.store.mutate('tokens reencrypt', (tx) => {
    for (const [rel, text] of files) tx.writeFile(rel, text, 0o644);
    const exposed: ReencryptResult['exposed'] = [];
    for (const m of tx.registry.members)
      m.tokens.forEach((t, i) => {
        const stored = files.has(tokenValueFile(m.handle, t.name)) || files.has(tokenPendingFile(m.handle, t.name));
        const after = stored ? reencrypted(t, admins) : t;
        if (stored) tx.editMember(m.handle).setList(['tokens', i, 'readable_by'], after.readable_by!);
        const former = exposedTo(after, admins);
        if (former.length) exposed.push({ token: `${m.handle}/${t.name}`, readable_by_former_admins: former, command: `infra tokens rotate ${m.handle}/${t.name}` });
      });
    return { reencrypted: [...files.keys()].sort(), admins: [...admins], exposed };
  });
  return { ...result, written };
}

export type { RotationPlan };
