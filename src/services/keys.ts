/** SSH keys: add (file, stdin, prompt, GitHub, GitLab), list, remove, check. */
import type { ForgeKey } from '../adapters/forge-keys.js';
import { keyDateMarks } from '../core/audit.js';
import { daysBetween } from '../core/dates.js';
import { findKey, planKeyAdds, type Candidate, type Verdict } from '../core/key-entries.js';
import { checkAuthorizedKeys, looksLikePrivateKey, parsePublicKey, policyProblems, splitKeyText, sshKeygenLine, type KeysCheckReport } from '../core/ssh-key.js';
import { DEFAULT_POLICY, NAME_RE, type Policy, type SshPolicy } from '../core/types.js';
import { assertHandle, isIsoDate, printable } from '../core/validate.js';
import { ExitCode, InfraError, invalidInput } from '../lib/errors.js';
import { clean } from '../lib/style.js';
import { command, inArgumentOrder } from './argument-order.js';
import { readArg, requireMember, say, today, type Context } from './context.js';
import { shellCommand, shellQuote } from '../lib/shell-quote.js';

export interface AddKeysInput {
  handle: string;
  /** a file, `-` for stdin, or undefined to prompt (or to use a forge) */
  file?: string;
  name?: string;
  expires?: string;
  github?: string;
  gitlab?: string;
  gitlabUrl?: string;
  /** with a forge: take every acceptable key without asking */
  all?: boolean;
}

export interface AddKeysResult {
  member: string;
  added: Array<{ name: string; type: string; bits: number; fingerprint: string; source?: string }>;
  skipped: Array<{ fingerprint: string; reason: string }>;
  /** keys the forge offered that fail policy or belong to someone else, with why */
  refused: Array<{ fingerprint: string; type: string; problems: string[] }>;
}

/** Where keys published on a forge come from; tests pass a local server's client. */
export interface KeySources {
  github(user: string): Promise<ForgeKey[]>;
  gitlab(user: string, baseUrl?: string): Promise<ForgeKey[]>;
}

const realSources: KeySources = {
  async github(user) {
    const { fetchGithubKeys } = await import('../adapters/forge-keys.js');
    return fetchGithubKeys(user);
  },
  async gitlab(user, baseUrl) {
    const { fetchGitlabKeys } = await import('../adapters/forge-keys.js');
    return fetchGitlabKeys(user, { baseUrl });
  },
};

const PRIVATE_KEY_HINT = 'give the PUBLIC key: the .pub file next to it (e.g. ~/.ssh/id_ed25519.pub), or `ssh-keygen -y -f KEY`';

export async function addKeys(ctx: Context, input: AddKeysInput, sources: KeySources = realSources): Promise<AddKeysResult> {
  // `keys add FILE HANDLE`: said back as `keys add HANDLE FILE` with the same flags
  const flags = [input.name !== undefined && '--name', input.name, input.expires !== undefined && '--expires', input.expires];
  const swapped = input.file !== undefined ? [{ member: input.file, corrected: command(['keys', 'add', input.file, input.handle, ...flags]) }] : [];
  return inArgumentOrder(ctx, input.handle, swapped, () => addKeysInOrder(ctx, input, sources));
}

async function addKeysInOrder(ctx: Context, input: AddKeysInput, sources: KeySources): Promise<AddKeysResult> {
  assertHandle(input.handle);
  if (input.name !== undefined && !NAME_RE.test(input.name))
    throw new InfraError(ExitCode.invalid, `--name: "${printable(input.name)}" is not a key name (letters, digits, . _ -; no spaces or /)`);
  if (input.expires !== undefined && !isIsoDate(input.expires)) throw new InfraError(ExitCode.invalid, '--expires must be a date YYYY-MM-DD');
  // Refused rather than warned: sshd stops accepting a key as its expiry-time day begins, so a key that
  // has already expired would grant nothing and only raise a high expired-key finding after render.
  if (input.expires !== undefined && input.expires <= today(ctx)) {
    const without = command(['keys', 'add', input.handle, input.file ?? (input.github !== undefined ? '--github' : input.gitlab !== undefined ? '--gitlab' : undefined), input.github ?? input.gitlab, input.name !== undefined && '--name', input.name]);
    throw new InfraError(ExitCode.invalid, `--expires ${input.expires} is not after today (${today(ctx)}): sshd would refuse the key from the start`, {
      hint: `give a later date, or leave --expires out${without ? `: ${without}` : ''}`,
    });
  }
  if (input.file !== undefined && (input.github !== undefined || input.gitlab !== undefined))
    throw new InfraError(ExitCode.usage, 'give either FILE or --github/--gitlab, not both', { hint: `infra keys add ${shellQuote(input.handle)} --${input.github !== undefined ? 'github' : 'gitlab'} ${shellQuote(input.github ?? input.gitlab ?? 'USER')} --all` });
  const loaded = await ctx.store.load();
  const member = requireMember(loaded.registry, input.handle);
  const policy = loaded.registry.config.policy.ssh;
  const date = today(ctx);
  const forge = input.github !== undefined ? `github ${input.github}` : input.gitlab !== undefined ? `gitlab ${input.gitlab}` : undefined;

  let candidates = forge ? await forgeCandidates(ctx, input, sources) : await inputCandidates(ctx, input.file);
  if (input.expires) candidates = candidates.map((c) => ({ ...c, expires: input.expires }));
  const origin = forge ? forge.replace(' ', ':') : input.file === '-' ? 'stdin' : (input.file ?? 'the pasted text');

  let refused: AddKeysResult['refused'] = [];
  if (forge) {
    // A forge lists whatever the user uploaded: take what passes, and say why the rest does not.
    const preview = planKeyAdds(member, loaded.registry.members, candidates, policy, date, input.name);
    refused = preview.filter(isRefused).map((v) => ({ fingerprint: v.key.fingerprint, type: v.key.type, problems: v.problems }));
    for (const r of refused) say(ctx, `not importing ${r.type} ${r.fingerprint}: ${r.problems.join('; ')}`);
    const refusedBlobs = new Set(preview.filter(isRefused).map((v) => v.key.base64));
    candidates = candidates.filter((c) => !refusedBlobs.has(c.key.base64));
    const fresh = preview.filter((v): v is Extract<Verdict, { kind: 'add' }> => v.kind === 'add');
    if (fresh.length && !input.all) {
      if (!ctx.prompter)
        throw new InfraError(ExitCode.usage, `${fresh.length} new key${fresh.length === 1 ? '' : 's'} found on ${forge.split(' ')[0] === 'github' ? 'GitHub' : 'GitLab'}; pass --all to add ${fresh.length === 1 ? 'it' : 'them all'} (or run on a terminal to pick)`, {
          hint: shellCommand(['infra', 'keys', 'add', input.handle, `--${forge.split(' ')[0]}`, forge.slice(forge.indexOf(' ') + 1), '--all']),
        });
      const chosen = await ctx.prompter.checkbox({
        message: 'Which keys should be added?',
        choices: fresh.map((v) => ({ name: clean(`${v.entry.name}: ${sshKeygenLine(v.key)}`), value: v.key.base64, checked: true })),
      });
      candidates = candidates.filter((c) => chosen.includes(c.key.base64) || !fresh.some((f) => f.key.base64 === c.key.base64));
    }
  }

  const { result } = await ctx.store.mutate('keys add', (tx) => {
    const current = requireMember(tx.registry, input.handle);
    const verdicts = planKeyAdds(current, tx.registry.members, candidates, tx.registry.config.policy.ssh, date, input.name);
    const blocked = verdicts.filter(isRefused);
    if (blocked.length)
      throw invalidInput(
        'keys refused',
        blocked.map((v) => ({ file: origin, field: `${v.key.type} ${v.key.fingerprint}`, message: v.problems.join('; ') })),
        'nothing was added; generate an accepted key with `ssh-keygen -t ed25519` and add its .pub file',
      );
    const editor = tx.editMember(input.handle);
    const out: AddKeysResult = { member: input.handle, added: [], skipped: [], refused };
    for (const v of verdicts) {
      if (v.kind === 'present') out.skipped.push({ fingerprint: v.key.fingerprint, reason: `already present as ${v.existing}` });
      if (v.kind !== 'add') continue;
      editor.append(['ssh_keys'], v.entry);
      out.added.push({ name: v.entry.name, type: v.key.type, bits: v.key.bits, fingerprint: v.key.fingerprint, ...(v.entry.source ? { source: v.entry.source } : {}) });
    }
    return out;
  });
  return result;
}

const isRefused = (v: Verdict): v is Extract<Verdict, { kind: 'refused' }> => v.kind === 'refused';

async function inputCandidates(ctx: Context, file: string | undefined): Promise<Candidate[]> {
  let text: string;
  let origin: string;
  if (file !== undefined) {
    text = await readArg(ctx, file);
    origin = file === '-' ? 'stdin' : file;
  } else if (ctx.prompter) {
    text = await ctx.prompter.input({ message: 'Paste the public key (one line: ssh-ed25519 AAAA... comment)' });
    origin = 'the pasted text';
  } else {
    throw new InfraError(ExitCode.usage, 'no key given: pass FILE, - for stdin, --github USER or --gitlab USER', { hint: 'infra keys add HANDLE ~/.ssh/id_ed25519.pub' });
  }
  if (looksLikePrivateKey(text)) throw new InfraError(ExitCode.invalid, `${origin}: this is a PRIVATE key; nothing of it was stored or printed`, { hint: PRIVATE_KEY_HINT });
  const items = splitKeyText(text);
  const bad = items.filter((i) => i.problem);
  if (bad.length)
    throw invalidInput(
      `${origin} holds lines that are not public keys`,
      bad.map((i) => ({ file: origin, line: i.line, field: 'key', message: i.problem! })),
      bad.find((b) => b.hint)?.hint ?? 'nothing was added; fix the file and run the command again',
    );
  if (!items.length) throw new InfraError(ExitCode.invalid, `${origin}: no public key in it`, { hint: 'a public key line looks like: ssh-ed25519 AAAAC3Nza... you@laptop' });
  return items.map((i) => ({ key: i.key! }));
}

async function forgeCandidates(ctx: Context, input: AddKeysInput, sources: KeySources): Promise<Candidate[]> {
  const github = input.github !== undefined;
  const found = github ? await sources.github(input.github!) : await sources.gitlab(input.gitlab!, input.gitlabUrl);
  say(ctx, `found ${found.length} key${found.length === 1 ? '' : 's'} on ${github ? 'GitHub' : 'GitLab'}`);
  const out: Candidate[] = [];
  for (const k of found) {
    let key;
    try {
      key = parsePublicKey(k.key);
    } catch (e) {
      say(ctx, `skipped ${k.source}: ${(e as Error).message}`);
      continue;
    }
    // GitHub returns keys without comments: the title, when there is one, is the better comment.
    const withComment = k.title && !key.comment ? { ...key, comment: k.title } : key;
    out.push({ key: withComment, source: k.source, ...(k.expires ? { expires: k.expires } : {}), suggestedName: `${github ? 'github' : 'gitlab'}-${k.id}` });
  }
  return out;
}

export interface KeyRow {
  member: string;
  name: string;
  type: string;
  bits: number;
  fingerprint: string;
  comment: string;
  added: string;
  age_days: number;
  expires?: string;
  source?: string;
  status: 'active' | 'departed';
  problems: string[];
  /** The audit's date judgements (expired-key, key-expiring, old-key) as of today; none for a departed member's keys, which grant nothing. */
  marks: KeyMark[];
}

export interface KeyMark {
  code: string;
  severity: string;
  note: string;
}

/** The audit's date judgements on one key, for tables: `expired 2026-10-31`, `expires in 11 days`, `old: over 730 days`. */
export function keyMarks(status: 'active' | 'departed', k: { added: string; expires?: string }, policy: Policy, asOf: string): KeyMark[] {
  return status === 'active' ? keyDateMarks(k, policy, asOf).map(({ code, severity, note }) => ({ code, severity, note })) : [];
}

export async function listKeys(ctx: Context, handle?: string): Promise<{ keys: KeyRow[] }> {
  const { registry } = await ctx.store.load();
  const members = handle === undefined ? registry.members : [requireMember(registry, handle)];
  const date = today(ctx);
  const keys = members.flatMap((m) =>
    m.ssh_keys.map((k): KeyRow => {
      const p = parsePublicKey(k.key);
      return {
        member: m.handle,
        name: k.name,
        type: p.type,
        bits: p.bits,
        fingerprint: p.fingerprint,
        comment: p.comment,
        added: k.added,
        age_days: daysBetween(k.added, date),
        ...(k.expires ? { expires: k.expires } : {}),
        ...(k.source ? { source: k.source } : {}),
        status: m.status,
        problems: policyProblems(p, registry.config.policy.ssh),
        marks: keyMarks(m.status, k, registry.config.policy, date),
      };
    }),
  );
  return { keys };
}

export interface RemoveKeyResult {
  member: string;
  name: string;
  fingerprint: string;
  written: string[];
}

export async function removeKey(ctx: Context, handle: string, ref: string): Promise<RemoveKeyResult> {
  // `keys remove KEY HANDLE`: said back as `keys remove HANDLE KEY`
  return inArgumentOrder(ctx, handle, [{ member: ref, corrected: command(['keys', 'remove', ref, handle]) }], () => removeKeyInOrder(ctx, handle, ref));
}

async function removeKeyInOrder(ctx: Context, handle: string, ref: string): Promise<RemoveKeyResult> {
  assertHandle(handle);
  const { result, written } = await ctx.store.mutate('keys remove', (tx) => {
    const member = requireMember(tx.registry, handle);
    const index = findKey(member, ref);
    if (index < 0)
      throw new InfraError(ExitCode.invalid, `${handle} has no key named or fingerprinted "${printable(ref)}"`, {
        hint: `their keys: ${member.ssh_keys.map((k) => k.name).join(', ') || 'none'} (see \`infra keys list ${shellQuote(handle)}\`)`,
      });
    const entry = member.ssh_keys[index];
    tx.editMember(handle).remove(['ssh_keys'], index);
    return { member: handle, name: entry.name, fingerprint: parsePublicKey(entry.key).fingerprint };
  });
  return { ...result, written };
}

export interface CheckKeysResult extends KeysCheckReport {
  files?: Array<{ file: string } & KeysCheckReport>;
}

/** authorized_keys-format files (or stdin) against the registry's policy, or the defaults outside a registry. */
export async function checkKeys(ctx: Context, files: string[]): Promise<CheckKeysResult & { reports: Array<{ file: string } & KeysCheckReport>; failed: number }> {
  const inputs = files.length ? files : ['-'];
  if (inputs.filter((f) => f === '-').length > 1) throw new InfraError(ExitCode.usage, 'stdin (-) can be read only once');
  const policy = await policyOrDefault(ctx);
  const reports: Array<{ file: string } & KeysCheckReport> = [];
  for (const file of inputs) {
    const text = await readArg(ctx, file);
    reports.push({ file: file === '-' ? '(stdin)' : file, ...checkAuthorizedKeys(text, policy) });
  }
  const keys = reports.flatMap((r) => r.keys);
  const errors = reports.flatMap((r) => r.errors);
  const failed = keys.filter((k) => !k.ok).length + errors.length;
  return { keys, errors, ...(reports.length > 1 ? { files: reports } : {}), reports, failed };
}

/** Checking a host's file needs no registry: outside one, the default policy applies. */
async function policyOrDefault(ctx: Context): Promise<SshPolicy> {
  try {
    await ctx.store.root();
  } catch {
    return DEFAULT_POLICY.ssh;
  }
  return (await ctx.store.loadConfig()).policy.ssh;
}

