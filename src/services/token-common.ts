/**
 * What the token services share: the remote sides (injectable), finding a token, the admin's key from --key,
 * values at rest (decrypted with it, encrypted to every admin), who is acting, secrets from stdin or a
 * hidden prompt, and errors scrubbed of secrets.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { GithubConsumer, GithubSecrets } from '../adapters/github-secrets.js';
import type { Matrix } from '../adapters/matrix.js';
import type { Loaded } from '../adapters/registry-load.js';
import { GITHUB_API_URL, readSecretLine } from '../core/tokens.js';
import { HANDLE_RE, NAME_RE, type Member, type TokenConsumer, type TokenEntry } from '../core/types.js';
import { printable } from '../core/validate.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { readArg, requireMember, say, type Context } from './context.js';
import { shellQuote } from '../lib/shell-quote.js';

// ---------------------------------------------------------------- the remote sides, injectable

/** GitHub and Matrix as the token services use them; tests pass clients of local stand-in servers. */
export interface TokenRemotes {
  /** `signal` aborts the request in flight (Ctrl-C): the call then fails as cancelled (130). */
  github(baseUrl: string, signal?: AbortSignal): Promise<GithubSecrets>;
  matrix(homeserver: string, signal?: AbortSignal): Promise<Matrix>;
}

export const realRemotes: TokenRemotes = {
  async github(baseUrl, signal) {
    const { githubSecrets } = await import('../adapters/github-secrets.js');
    return githubSecrets({ baseUrl, ...(signal ? { signal } : {}) });
  },
  async matrix(homeserver, signal) {
    const { matrixClient } = await import('../adapters/matrix.js');
    return matrixClient(homeserver, signal ? { signal } : {});
  },
};

export const githubApiUrl = (ctx: Context) => ctx.env.INFRA_GITHUB_API_URL || GITHUB_API_URL;
export const isGithub = (c: TokenConsumer): c is GithubConsumer => !('ansible_vault_var' in c);

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

export function requireToken(loaded: Loaded, ref: TokenRef): { member: Member; token: TokenEntry; index: number } {
  const member = requireMember(loaded.registry, ref.handle);
  const index = member.tokens.findIndex((t) => t.name === ref.name);
  if (index < 0)
    throw new InfraError(ExitCode.invalid, `${ref.handle} has no token "${ref.name}"`, {
      hint: member.tokens.length ? `its tokens: ${member.tokens.map((t) => `${ref.handle}/${t.name}`).join(', ')}` : `add one: infra tokens add ${shellQuote(ref.handle)} ${shellQuote(ref.name)} --kind generic --consumer ...`,
    });
  return { member, token: member.tokens[index], index };
}


export const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

// ---------------------------------------------------------------- keys and values at rest

export interface UnlockedKey {
  file: string;
  armored: string;
  passphrase?: string;
}

/** The admin's private key from --key, and its passphrase (INFRA_PGP_PASSPHRASE, else a hidden prompt when it is locked). */
export async function adminKey(ctx: Context, file: string): Promise<UnlockedKey> {
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

export async function decryptFile(loaded: Loaded, rel: string, key: UnlockedKey): Promise<string> {
  const { decryptWithKey } = await import('../adapters/openpgp-tokens.js');
  let armored: string;
  try {
    armored = await fs.readFile(path.join(loaded.registry.root, rel), 'utf8');
  } catch {
    throw new InfraError(ExitCode.invalid, `${rel} is missing`, { hint: 'restore it from git (`git checkout -- FILE`), or rotate the token to write a new one' });
  }
  return decryptWithKey(armored, key.armored, key.passphrase, { messageFile: rel, keyFile: `--key ${key.file}` });
}

/** The value encrypted to every current admin, and who it is encrypted to (handle and fingerprint). */
export async function encryptForAdmins(ctx: Context, loaded: Loaded, value: string): Promise<{ armored: string; recipients: Array<{ handle: string; fingerprint: string }> }> {
  const { encryptToAdminsNamed } = await import('../adapters/openpgp-tokens.js');
  const admins = await Promise.all(
    loaded.registry.config.admins.map(async (handle) => ({
      handle,
      armoredKey: await fs.readFile(path.join(loaded.registry.root, `keys/${handle}/pgp.asc`), 'utf8').catch(() => undefined),
    })),
  );
  return encryptToAdminsNamed(value, admins, ctx.now());
}

/**
 * Who is doing this, for rotated_by/started_by: the admin whose public key matches --key, else INFRA_ADMIN,
 * else the member whose email is git's user.email, else the member named like the login.
 */
export async function actor(ctx: Context, loaded: Loaded, key?: UnlockedKey): Promise<string> {
  const members = loaded.registry.members;
  const { admins } = loaded.registry.config;
  if (key) {
    const { keyFingerprints } = await import('../adapters/openpgp-tokens.js');
    const mine = await keyFingerprints(key.armored);
    for (const a of admins) {
      const pub = await fs.readFile(path.join(loaded.registry.root, `keys/${a}/pgp.asc`), 'utf8').catch(() => undefined);
      if (pub && (await keyFingerprints(pub)).some((f) => mine.includes(f))) return a;
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

export async function gitEmail(ctx: Context): Promise<string | undefined> {
  try {
    const { runProgram } = await import('../adapters/run-program.js');
    const r = await runProgram('git', ['config', 'user.email'], { cwd: ctx.cwd, timeoutMs: 5000 });
    return r.code === 0 ? r.stdout.trim() || undefined : undefined;
  } catch {
    return undefined;
  }
}

/** A secret from the hidden prompt on a terminal, else from stdin: one line, checked, never shown. */
export async function readSecret(ctx: Context, what: string, promptMessage: string, options: { allowSpaces?: boolean } = {}): Promise<string> {
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


export function scrubbed(e: unknown, secrets: string[]): InfraError {
  const scrub = (s: string | undefined) => (s === undefined ? undefined : secrets.reduce((t, x) => (x && x.length >= 4 ? t.split(x).join('[REDACTED]') : t), s));
  if (e instanceof InfraError) return new InfraError(e.exitCode, scrub(e.message)!, { hint: scrub(e.hint), problems: e.problems });
  if (e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError')) return new InfraError(ExitCode.cancelled, 'cancelled');
  return new InfraError(ExitCode.bug, `unexpected error: ${scrub(e instanceof Error ? e.message : String(e))}`);
}

