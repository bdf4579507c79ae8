/**
 * Bot tokens (docs/reference.md "Tokens"): register one (add), list them, show one (and decrypt it with
 * --reveal), and rotate every due one. Rotating one token is token-rotation.ts's; re-encrypting every
 * admin-held secret is secrets-reencrypt.ts's; both are re-exported here for the commands.
 */
import path from 'node:path';
import { Document, type YAMLMap } from 'yaml';
import { loadInventories } from '../adapters/inventories.js';
import type { Loaded } from '../adapters/registry-load.js';
import { CONSUMER_FORMS, consumerKey, formatConsumer, parseConsumer, tokenDue, tokenValueFile, type RotationPlan } from '../core/tokens.js';
import { NAME_RE, type IsoDate, type Member, type TokenConsumer, type TokenEntry, type TokenKind } from '../core/types.js';
import { assertHandle, printable, TOKEN_KINDS } from '../core/validate.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { requireMember, say, today, type Context } from './context.js';
import { rotateToken, type RotateTokenResult } from './token-rotation.js';
import { realRemotes, type TokenRemotes, parseTokenRef, requireToken, exists, adminKey, decryptFile } from './token-common.js';
import { shellQuote } from '../lib/shell-quote.js';

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
  if (kind === 'matrix' && !input.homeserver) throw new InfraError(ExitCode.usage, 'a matrix token needs --homeserver URL', { hint: `infra tokens add ${shellQuote(input.handle)} ${shellQuote(input.name)} --kind matrix --homeserver https://matrix.example` });
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
      throw new InfraError(ExitCode.invalid, `${input.handle} already has a token "${input.name}"`, { hint: `see it with \`infra tokens show ${shellQuote(`${input.handle}/${input.name}`)}\`` });
    tx.editMember(input.handle).append(['tokens'], entry);
  });
  say(ctx, `Next: store its first value with \`infra tokens rotate ${shellQuote(`${input.handle}/${input.name}`)}\`.`);
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
  if (input.reveal && !input.key) throw new InfraError(ExitCode.usage, '--reveal needs --key FILE: your private OpenPGP key', { hint: `infra tokens show ${shellQuote(input.ref)} --reveal --key YOUR-KEY.asc` });
  const loaded = await ctx.store.load();
  const { member, token } = requireToken(loaded, ref);
  const valueFile = tokenValueFile(ref.handle, ref.name);
  const stored = await exists(path.join(loaded.registry.root, valueFile));
  const row = tokenRow(loaded, ctx, member, token, stored);
  if (!input.reveal) return row;
  if (!stored) throw new InfraError(ExitCode.invalid, `${valueFile} does not exist: no value has been stored for ${row.token} yet`, { hint: `infra tokens rotate ${shellQuote(row.token)}` });
  const unlock = await adminKey(ctx, input.key!);
  return { ...row, value: await decryptFile(loaded, valueFile, unlock) };
}

// ---------------------------------------------------------------- --due

export interface RotateDueResult {
  rotated: RotateTokenResult[];
  /** Due tokens a person must rotate (a GitHub token to paste, a Matrix password to give, a rotation to resume). */
  need_person: Array<{ token: string; kind: TokenKind; due?: IsoDate; why: string; command: string }>;
  failed: Array<{ token: string; code: number; message: string }>;
  dry_run: boolean;
}

export async function rotateDue(ctx: Context, input: { dryRun?: boolean; vaultPasswordFile?: string; cancelled?: () => boolean; signal?: AbortSignal }, remotes: TokenRemotes = realRemotes): Promise<RotateDueResult> {
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
      if (t.pending) person(`a rotation started ${t.pending.started_at} is not finished`, `infra tokens rotate ${shellQuote(id)} --resume --key YOUR-KEY.asc`);
      else if (t.kind === 'github') person('GitHub cannot mint tokens: a person makes a new one and pastes it', `infra tokens rotate ${shellQuote(id)}`);
      else if (t.kind === 'matrix') person("a new access token needs the bot's password", `infra tokens rotate ${shellQuote(id)} --key YOUR-KEY.asc`);
      else {
        try {
          out.rotated.push(await rotateToken(ctx, { ref: id, dryRun: input.dryRun, vaultPasswordFile: input.vaultPasswordFile, cancelled: input.cancelled, ...(input.signal ? { signal: input.signal } : {}) }, remotes));
        } catch (e) {
          if (!(e instanceof InfraError) || e.exitCode === ExitCode.cancelled) throw e;
          out.failed.push({ token: id, code: e.exitCode, message: e.message });
          say(ctx, `${id}: ${e.message}`);
        }
      }
    }
  return out;
}


export { parseTokenRef, realRemotes, type TokenRef, type TokenRemotes } from './token-common.js';
export { rotateToken, type RotateTokenInput, type RotateTokenResult } from './token-rotation.js';
export { reencryptTokens, type ReencryptResult } from './secrets-reencrypt.js';
export type { RotationPlan };
