/**
 * Signed changes (docs/reference.md, "Signed changes"): `infra verify` judges every commit of a range against
 * the registry at its first parent; `infra approve` makes a second admin's signed approval commit.
 *
 * Reading: one `git cat-file --batch` process serves every commit, tree and file (GitObjectReader). The
 * registry at a parent is loaded once per distinct registry tree, and each file once per blob (SnapshotMemo);
 * the signers it makes are kept by the allowed-signers text (SignatureChecker). Signatures are checked a
 * few at a time (each SSH one is an `ssh-keygen -Y verify` run, as `git log --show-signature` makes).
 */
import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { signerKeys, renderAllowedSigners } from '../core/allowed-signers.js';
import { fingerprintOf, parsePublicKey } from '../core/ssh-key.js';
import { runProgram } from '../adapters/run-program.js';
import { runGit } from '../adapters/git.js';
import type { Finding } from '../core/audit.js';
import { approvalTrailers, judgeRange, type CommitInput, type CommitVerdict, type FileChange, type RulesAtParent, type SignatureCheck, type Violation } from '../core/change-rules.js';
import { parseCommitObject, type CommitObject } from '../core/commit-object.js';
import { GitObjectReader } from '../adapters/git-objects.js';
import { cleanMergeTree, commitsInRange, diffTrees, isAncestor, openRepository, PIN_KEY, readConfig, readPin, resolveCommit, subtree, writeConfig, type Repository } from '../adapters/git-history.js';
import { gitTreeSource, loadSnapshot, newSnapshotMemo, type SnapshotMemo } from '../adapters/registry-source.js';
import { SignatureChecker, type SignerSet } from '../adapters/signature-check.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import type { Context } from './context.js';
import { mapLimit } from '../lib/map-limit.js';
import { OPENSSH_KEY_BEGIN, OPENSSH_KEY_END } from '../core/openssh-private-key.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface VerifyInput {
  since?: string;
  pin?: boolean;
}

export interface VerifyResult {
  ok: boolean;
  /** where the range starts: the --since commit, the pinned one, or none (from the root commit) */
  since?: string;
  sinceFrom: 'flag' | 'pin' | 'root';
  head: string;
  commits: CommitVerdict[];
  violations: Violation[];
  /** HEAD, when --pin recorded it */
  pinned?: string;
}

interface AtParent {
  rules: RulesAtParent;
  signers: SignerSet;
}

const TEXT_FILE_RE = /^(infra\.yml|keys\/[^/]+\/member\.yml)$/;
const SIGNATURE_CHECKS_AT_ONCE = 4;
const EMPTY_RULES: AtParent = { rules: { admins: [], twoAdmins: false, inventoryFolders: [] }, signers: { ssh: [], allowedSigners: '', pgp: [] } };

/** The rules and signers of the registry in the tree `registryTree`, once per distinct tree. */
class ParentRegistries {
  private readonly known = new Map<string, Promise<AtParent>>();
  private readonly memo: SnapshotMemo = newSnapshotMemo();
  constructor(private readonly reader: GitObjectReader) {}

  at(registryTree: string | undefined): Promise<AtParent> {
    if (!registryTree) return Promise.resolve(EMPTY_RULES);
    let found = this.known.get(registryTree);
    if (!found) {
      found = this.load(registryTree);
      this.known.set(registryTree, found);
    }
    return found;
  }

  private async load(tree: string): Promise<AtParent> {
    const snap = await loadSnapshot(gitTreeSource(this.reader, tree, '', tree), this.memo);
    // An infra.yml that did not validate there still names its admins: read them leniently.
    const raw = snap.config ? undefined : (snap.files.get('infra.yml')?.doc.toJS() as { admins?: unknown } | undefined);
    const named = snap.config?.admins ?? (Array.isArray(raw?.admins) ? raw.admins.filter((a): a is string => typeof a === 'string') : []);
    const humans = new Set(snap.members.filter((m) => m.kind === 'human' && m.status === 'active').map((m) => m.handle));
    const admins = named.filter((a) => humans.has(a));
    const pgp = snap.members
      .filter((m) => m.kind === 'human' && (m.status === 'active' || m.departed !== undefined) && snap.pgp.has(m.handle))
      .map((m) => ({ handle: m.handle, armored: snap.pgp.get(m.handle)!, ...(m.status === 'departed' ? { until: m.departed } : {}) }));
    return {
      rules: { admins, twoAdmins: snap.config?.policy.changes?.two_admins ?? admins.length >= 2, inventoryFolders: Object.values(snap.config?.environments ?? {}) },
      signers: { ssh: signerKeys(snap.members), allowedSigners: renderAllowedSigners(snap.members), pgp },
    };
  }
}

async function readCommit(reader: GitObjectReader, hash: string): Promise<CommitObject> {
  const o = await reader.read(hash);
  if (!o || o.type !== 'commit') throw new InfraError(ExitCode.invalid, `commit ${hash} is missing from this clone`, { hint: 'fetch the whole history: `git fetch --unshallow`' });
  return parseCommitObject(o.data);
}

function shallowError(pinned: string | undefined): InfraError {
  return new InfraError(ExitCode.invalid, `this clone is shallow: verification needs the history back to ${pinned ? `the commit ${pinned.slice(0, 12)}` : 'the root commit'}`, {
    hint: 'fetch the history first: `git fetch --unshallow` (in CI: actions/checkout with fetch-depth: 0, or GIT_DEPTH: 0 on GitLab)',
  });
}

/** Judges the commits after `since` (all but the root without it) up to `head`. */
export async function verifyRange(root: string, repo: Repository, since: string | undefined, head: string): Promise<{ commits: CommitVerdict[]; violations: Violation[] }> {
  const hashes = await commitsInRange(root, since, head);
  if (repo.shallow.size && (since === undefined || repo.shallow.has(since) || hashes.some((h) => repo.shallow.has(h)))) throw shallowError(since);
  const reader = new GitObjectReader(root);
  const checker = new SignatureChecker();
  try {
    const parents = new ParentRegistries(reader);
    const registryOf = async (commitTree: string) => subtree(reader, commitTree, repo.prefix);
    const gathered: Array<{ input: Omit<CommitInput, 'signature'>; obj: CommitObject; signers: SignerSet }> = [];
    for (const hash of hashes) {
      const obj = await readCommit(reader, hash);
      if (!obj.parents.length) continue; // a root: the trust root, or an unrelated history judged at its merge
      const first = await readCommit(reader, obj.parents[0]);
      const parentTree = await registryOf(first.tree);
      const { rules, signers } = await parents.at(parentTree);
      let base = parentTree;
      let cleanMerge = false;
      if (obj.parents.length === 2) {
        const merged = await cleanMergeTree(root, obj.parents[0], obj.parents[1]);
        if (merged.clean && merged.tree === obj.tree) cleanMerge = true;
        else if (merged.tree) base = await registryOf(merged.tree); // judge only what the merge itself changed
      }
      const tree = await registryOf(obj.tree);
      const changes: FileChange[] = cleanMerge ? [] : await Promise.all(
        (await diffTrees(reader, base, tree)).map(async (c) => {
          if (!TEXT_FILE_RE.test(c.path)) return { path: c.path };
          const text = async (oid?: string) => (oid ? (await reader.read(oid))?.data.toString('utf8') : undefined);
          const [before, after] = await Promise.all([text(c.before), text(c.after)]);
          return { path: c.path, ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) };
        }),
      );
      gathered.push({
        input: { commit: hash, author: obj.author, date: new Date(obj.committedAt * 1000).toISOString(), cleanMerge, changes, approves: approvalTrailers(obj.message), rules },
        obj,
        signers,
      });
    }
    // A signature matters only where something needs signing, or where it approves.
    const signatures = await mapLimit(gathered, SIGNATURE_CHECKS_AT_ONCE, async (g): Promise<SignatureCheck> => {
      if (g.input.cleanMerge || (!g.input.changes.length && !g.input.approves.length)) return g.obj.signature === undefined ? { status: 'none' } : checker.check(g.obj.signature, g.obj.payload, g.obj.committedAt, g.signers);
      return checker.check(g.obj.signature, g.obj.payload, g.obj.committedAt, g.signers);
    });
    return judgeRange(gathered.map((g, i) => ({ ...g.input, signature: signatures[i] })));
  } finally {
    checker.close();
    await reader.close();
  }
}

/** Where `infra verify` starts: --since, else the pinned commit (which HEAD must descend from), else the root. */
async function rangeStart(root: string, since: string | undefined, head: string): Promise<{ since?: string; from: VerifyResult['sinceFrom'] }> {
  if (since !== undefined) return { since: await resolveCommit(root, since, '--since'), from: 'flag' };
  const pinned = await readPin(root);
  if (pinned === undefined) return { from: 'root' };
  const commit = await resolveCommit(root, pinned, `the pinned commit (git config ${shellQuote(PIN_KEY)})`).catch(() => {
    throw new InfraError(ExitCode.invalid, `the pinned commit ${pinned.slice(0, 12)} (git config ${shellQuote(PIN_KEY)}) is not in this clone`, {
      hint: `fetch the history (\`git fetch --unshallow\`), or verify from the root and pin again: \`git config --unset ${shellQuote(PIN_KEY)} && infra verify --pin\``,
    });
  });
  if (!(await isAncestor(root, commit, head)))
    throw new InfraError(ExitCode.checkFailed, `HEAD does not descend from the pinned commit ${commit.slice(0, 12)}: the history verified before was rewritten`, {
      hint: `find out who rewrote it; to start over from the root: \`git config --unset ${shellQuote(PIN_KEY)} && infra verify\``,
    });
  return { since: commit, from: 'pin' };
}

export async function verifyHistory(ctx: Context, input: VerifyInput): Promise<VerifyResult> {
  const root = await ctx.store.root();
  const repo = await openRepository(root);
  const head = await resolveCommit(root, 'HEAD', 'the registry\'s').catch(() => {
    throw new InfraError(ExitCode.invalid, 'the registry\'s git repository has no commits yet', { hint: `commit the registry first: \`git -C ${shellQuote(root)} add -A && git -C ${shellQuote(root)} commit -S -m "infra registry"\`` });
  });
  const start = await rangeStart(root, input.since, head);
  const { commits, violations } = await verifyRange(root, repo, start.since, head);
  const ok = violations.length === 0;
  let pinned: string | undefined;
  if (ok && input.pin) {
    await writeConfig(root, PIN_KEY, head);
    pinned = head;
  }
  return { ok, ...(start.since ? { since: start.since } : {}), sinceFrom: start.from, head, commits, violations, ...(pinned ? { pinned } : {}) };
}

export interface ApproveInput {
  rev?: string;
}

export interface ApproveResult {
  /** the approval commit made */
  commit: string;
  approves: string;
  approver: string;
  /** protected changes up to `approves` that this approval cannot approve: the approver signed them */
  stillUnapproved: string[];
}

/** The member the configured signing key (git config gpg.format, user.signingkey) belongs to in `at`, if any. */
async function configuredSigner(root: string, at: AtParent): Promise<{ handle?: string; described: string }> {
  const format = (await readConfig(root, 'gpg.format')) ?? 'openpgp';
  const key = await readConfig(root, 'user.signingkey');
  if (format === 'ssh') {
    if (!key) throw new InfraError(ExitCode.usage, 'git has no SSH signing key configured (user.signingkey)', { hint: 'git config user.signingkey ~/.ssh/id_ed25519.pub (the key registered in your member.yml)' });
    let text = key.startsWith('key::') ? key.slice(5) : undefined;
    if (text === undefined) {
      const file = key.replace(/^~(?=\/)/, homedir());
      const read = (f: string) => fs.readFile(path.resolve(root, f), 'utf8').catch(() => undefined);
      const body = await read(file);
      text = body !== undefined && !/PRIVATE KEY/.test(body) ? body : ((await read(`${file}.pub`)) ?? (body && publicOfPrivateKey(body)));
      if (text === undefined) throw new InfraError(ExitCode.invalid, `cannot read the signing key ${key} (git config user.signingkey) or its .pub`, { hint: 'point user.signingkey at your public key file' });
    }
    let blob: string;
    try {
      blob = parsePublicKey(text.trim().split('\n')[0]).blob.toString('base64');
    } catch (e) {
      throw new InfraError(ExitCode.invalid, `the signing key ${key} is not an SSH public key: ${(e as Error).message}`, { hint: 'point user.signingkey at your public key file' });
    }
    const found = at.signers.ssh.find((k) => k.blob === blob);
    return { ...(found ? { handle: found.handle } : {}), described: `SSH key ${fingerprintOf(Buffer.from(blob, 'base64'))}` };
  }
  if (format !== 'openpgp') throw new InfraError(ExitCode.invalid, `git's gpg.format is ${format}: infra verifies SSH and OpenPGP signatures only`, { hint: 'git config gpg.format ssh' });
  if (!key) throw new InfraError(ExitCode.usage, 'git has no OpenPGP signing key configured (user.signingkey)', { hint: 'git config user.signingkey <your key fingerprint> (the key in your pgp.asc)' });
  const wanted = key.replace(/!$/, '').replace(/^0x/i, '').toUpperCase();
  const openpgp = await import('openpgp');
  for (const { handle, armored } of at.signers.pgp) {
    const k = await openpgp.readKey({ armoredKey: armored }).catch(() => undefined);
    if (k?.getKeys().some((s) => s.getFingerprint().toUpperCase().endsWith(wanted) || s.getKeyID().toHex().toUpperCase() === wanted)) return { handle, described: `OpenPGP key ${wanted}` };
  }
  return { described: `OpenPGP key ${wanted}` };
}

/** `infra approve [REV]`: an empty commit, signed by this clone's signing key, with `Infra-Approves: <REV>`. */
export async function approveChange(ctx: Context, input: ApproveInput): Promise<ApproveResult> {
  const root = await ctx.store.root();
  const repo = await openRepository(root);
  const head = await resolveCommit(root, 'HEAD', 'the registry\'s');
  const target = await resolveCommit(root, input.rev ?? 'HEAD', 'approve');
  if (!(await isAncestor(root, target, head))) throw new InfraError(ExitCode.invalid, `${target.slice(0, 12)} is not in the history of HEAD: only a commit HEAD contains can be approved`, { hint: 'check out the branch that holds it first' });
  const reader = new GitObjectReader(root);
  let at: AtParent;
  try {
    at = await new ParentRegistries(reader).at(await subtree(reader, (await readCommit(reader, head)).tree, repo.prefix));
  } finally {
    await reader.close();
  }
  const me = await configuredSigner(root, at);
  if (!me.handle) throw new InfraError(ExitCode.invalid, `your signing key (${me.described}) belongs to no member of the registry at HEAD`, { hint: 'sign with the key registered in your keys/<handle>/member.yml (git config user.signingkey)' });
  if (!at.rules.admins.includes(me.handle))
    throw new InfraError(ExitCode.invalid, `${me.handle} is not an admin at HEAD: only an admin approves a protected change`, { hint: `an admin (${at.rules.admins.join(', ') || 'none'}) runs \`infra approve ${shellQuote(target.slice(0, 12))}\`` });
  const start = await rangeStart(root, undefined, head);
  const { commits } = await verifyRange(root, repo, start.since, head);
  const upTo = commits.findIndex((c) => c.commit === target);
  if (upTo < 0) throw new InfraError(ExitCode.invalid, `${target.slice(0, 12)} is not in the range \`infra verify\` checks (after ${start.since ? start.since.slice(0, 12) : 'the root commit'}): there is nothing to approve`, { hint: 'approve a commit made since the pinned one' });
  if (commits[upTo].signer === me.handle)
    throw new InfraError(ExitCode.invalid, `${target.slice(0, 12)} is signed by ${me.handle}, and an admin cannot approve their own change`, { hint: `another admin (${at.rules.admins.filter((a) => a !== me.handle).join(', ') || 'none: add a second admin'}) runs \`infra approve ${shellQuote(target.slice(0, 12))}\`` });
  const stillUnapproved = commits.slice(0, upTo + 1).filter((c) => c.signer === me.handle && c.changed.some((x) => x.need === 'protected')).map((c) => c.commit);
  const subject = (await readCommitSubject(root, target)).slice(0, 60);
  const r = await runProgram('git', ['-C', root, 'commit', '--allow-empty', '--no-verify', '-S', '-m', `Approve ${target.slice(0, 12)}: ${subject}`, '-m', `Infra-Approves: ${target}`], {
    timeoutMs: 120_000, // a passphrase prompt from the signing agent
    env: { ...process.env, LC_ALL: 'C' },
  });
  if (r.code !== 0) throw new InfraError(ExitCode.remote, `git commit -S failed: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 300)}`, { hint: 'check that `git commit -S --allow-empty -m test` works with your signing key' });
  const made = await resolveCommit(root, 'HEAD', 'the new');
  return { commit: made, approves: target, approver: me.handle, stillUnapproved };
}

async function readCommitSubject(root: string, hash: string): Promise<string> {
  const reader = new GitObjectReader(root);
  try {
    return (await readCommit(reader, hash)).message.split('\n')[0].replace(/[\u0000-\u001f\u007f]/g, ' ');
  } finally {
    await reader.close();
  }
}

/**
 * The public key an OpenSSH private key file carries in the clear (format openssh-key-v1: magic, cipher,
 * KDF, KDF options, key count, then the public keys), so a signing key configured as the private file
 * (as git allows) is matched without its passphrase.
 */
export function publicOfPrivateKey(text: string): string | undefined {
  const start = text.indexOf(OPENSSH_KEY_BEGIN);
  const end = start < 0 ? -1 : text.indexOf(OPENSSH_KEY_END, start);
  const m = start < 0 || end < 0 ? null : [text.slice(start, end + OPENSSH_KEY_END.length), text.slice(start + OPENSSH_KEY_BEGIN.length, end)];
  if (!m) return undefined;
  const blob = Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
  const magic = 'openssh-key-v1\0';
  if (blob.subarray(0, magic.length).toString('latin1') !== magic) return undefined;
  let at = magic.length;
  const next = (): Buffer | undefined => {
    if (at + 4 > blob.length) return undefined;
    const len = blob.readUInt32BE(at);
    if (at + 4 + len > blob.length) return undefined;
    const v = blob.subarray(at + 4, at + 4 + len);
    at += 4 + len;
    return v;
  };
  if (!next() || !next() || !next()) return undefined; // cipher, KDF, KDF options
  if (at + 4 > blob.length || blob.readUInt32BE(at) < 1) return undefined;
  at += 4;
  const pub = next();
  if (!pub || pub.length < 4) return undefined;
  const type = pub.subarray(4, 4 + pub.readUInt32BE(0)).toString('latin1');
  return `${type} ${pub.toString('base64')}`;
}

/**
 * audit --since: the verdict of each commit since a date (the commits after the last one before that day)
 * or a ref, as `infra verify` gives it, and a finding per violation.
 */
export async function judgeSince(root: string, since: string): Promise<{ of: (commit: string) => { signer?: string; verdict?: 'allowed' | 'violation' }; findings: Finding[] }> {
  const repo = await openRepository(root);
  const head = await resolveCommit(root, 'HEAD', 'the registry\'s');
  let base: string | undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(since)) {
    const r = await runGit(root, ['rev-list', '-1', `--before=${since} 00:00:00`, head], {});
    base = r.stdout.toString('utf8').trim() || undefined;
  } else base = await resolveCommit(root, since, '--since');
  const { commits, violations } = await verifyRange(root, repo, base, head);
  const of = (short: string) => {
    const c = commits.find((x) => x.commit.startsWith(short));
    return c ? { ...(c.signer ? { signer: c.signer } : {}), verdict: c.verdict } : {};
  };
  const findings: Finding[] = violations.map((v) => ({
    code: v.code,
    severity: 'high', // every violation: a change to who reaches the servers that nobody allowed
    subject: `${v.commit.slice(0, 12)} ${v.author}`,
    detail: `${v.changed.join('; ')}: ${v.rule}`,
    fix: v.fix,
  }));
  return { of, findings };
}
