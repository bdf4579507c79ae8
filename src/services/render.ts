/** `infra render`: grants and peers into each host's generated inventory file. */
import { inspectInventories, inventoryFolder, PLAYBOOK_FOLDER, previousRenders, shadowingProblems } from '../adapters/inventories.js';
import { readRenderStamp, renderStamp, writeRenderStamp } from '../adapters/render-stamp.js';
import { keepsDerivedState } from '../adapters/member-cache.js';
import { knownKeys } from '../adapters/member-facts.js';
import { allowedSignersUpdate, writeAllowedSigners } from '../adapters/allowed-signers-file.js';
import { assertWritable, renderSession } from '../adapters/render-files.js';
import { environmentNames } from '../core/grants.js';
import { keyParser } from '../core/key-summary.js';
import { renderTargets, type RenderTarget } from '../core/render.js';
import { ExitCode, InfraError, invalidRegistry } from '../lib/errors.js';
import { collectGarbage, collectGarbageAbove } from '../lib/memory.js';
import { say, type Context } from './context.js';
import { renderCertificates } from './certs-render.js';
import { shellQuote } from '../lib/shell-quote.js';

/** Characters of generated text written between two garbage collections (see collectGarbage). */
const GARBAGE_BUDGET = 64 * 1024 * 1024;

/**
 * Heap above which render collects once before writing. A load that parsed every member file (no
 * .infra-cache yet, or a new build) leaves its garbage behind: at 10,000 members the heap holds 241 MB
 * there instead of 116 MB, and the first render peaked at 418 MB of RSS.
 */
const HEAP_BEFORE_WRITES = 192 * 1024 * 1024;

/**
 * Files written at once: while one waits for the disk to sync it, the next is made and handed over (at
 * 2,000 hosts, 4 to 16 at once took 1.5 s less than one at a time; 8 is in the middle).
 */
export const WRITES_AT_ONCE = 8;

/**
 * The UTF-8 bytes of each shared text, encoded once: hosts with the same access get the same text (see
 * RenderTarget.sharedAs), so most of a big render is a few dozen texts written many times. Keyed by the
 * short name, never by the text: V8 hashes a long string by its length alone. Bounded.
 */
class SharedBytes {
  private readonly bytes = new Map<string, Uint8Array>();
  private size = 0;
  of(text: string, sharedAs: string | undefined): { bytes: Uint8Array; fresh: boolean } {
    const known = sharedAs === undefined ? undefined : this.bytes.get(sharedAs);
    if (known) return { bytes: known, fresh: false };
    const bytes = Buffer.from(text, 'utf8');
    if (sharedAs === undefined) return { bytes, fresh: true };
    if (this.size + bytes.length > SHARED_BYTES_KEPT) {
      this.bytes.clear();
      this.size = 0;
    }
    this.bytes.set(sharedAs, bytes);
    this.size += bytes.length;
    return { bytes, fresh: true };
  }
}
const SHARED_BYTES_KEPT = 48 * 1024 * 1024;

export interface RenderInput {
  env?: string;
  /** write nothing (--check, --dry-run) */
  dryRun?: boolean;
  /** render even when policy.changes.require_signed finds the history unverified */
  allowUnverified?: boolean;
}

export interface RenderResult {
  /** Files written (or, without writing, that would be), relative to the registry root. */
  written: string[];
  removed: string[];
  unchanged: number;
  /** What was dropped from previous generated files (not in the form infra writes); each names its file. Only when there is any. */
  warnings?: string[];
}

/** Plan over the registry and inventories, then (unless a dry run) write only the files whose bytes change. */
export async function render(ctx: Context, input: RenderInput): Promise<RenderResult> {
  const work = async (cleanedTemps: string[] = []): Promise<RenderResult> => {
    const loaded = await ctx.store.load();
    if (loaded.registry.config.policy.changes?.require_signed && !input.allowUnverified) await requireVerified(ctx);
    // allowed_signers at the root (who may sign commits): written with the render, checked by --check
    const signers = await allowedSignersUpdate(await ctx.store.root(), loaded.registry.members);
    const withSigners = async (result: RenderResult): Promise<RenderResult> => {
      if (!signers) return result;
      if (!input.dryRun) await writeAllowedSigners(await ctx.store.root(), signers);
      return { ...result, written: [...result.written, signers.rel] };
    };
    const known = environmentNames(loaded.registry.config);
    if (input.env !== undefined && !known.includes(input.env))
      throw new InfraError(ExitCode.invalid, `no environment "${input.env}" in infra.yml (known: ${known.join(', ') || 'none'})`, {
        hint: known.length ? `infra render --env ${shellQuote(known[0])}` : 'add an environment under environments: in infra.yml',
      });
    const environments = input.env === undefined ? known : [input.env];
    const root = await ctx.store.root();
    // Each reached host's CAs and KRL (none without a CA): they depend on ca/*.pub and the clock, so they are part of the stamp.
    const certificates = await renderCertificates(ctx, loaded);
    // Nothing render reads changed since a render that found nothing to do: neither is there now.
    const baseStamp = keepsDerivedState(loaded.registry.members.length)
      ? await renderStamp(root, loaded, environments, [...(await Promise.all(known.map((e) => inventoryFolder(root, loaded.registry.config.environments[e])))), PLAYBOOK_FOLDER])
      : undefined;
    const stamp = baseStamp === undefined ? undefined : `${baseStamp}${certificates ? `|certs:${certificates.digest}` : ''}`;
    const recorded = stamp === undefined ? undefined : await readRenderStamp(root);
    if (stamp !== undefined && recorded?.stamp === stamp) {
      if (cleanedTemps.length) say(ctx, `removed ${cleanedTemps.length} temporary file(s) a killed infra left: ${cleanedTemps.join(', ')}`);
      return withSigners({ written: [], removed: [], unchanged: recorded.unchanged });
    }
    const { inventories, folders, problems } = await inspectInventories(loaded);
    if (problems.length) throw invalidRegistry(problems, 'fix these, then run `infra render` again (nothing was written)');
    const envFolders = environments.map((e) => folders[e]);
    // Another vars file defining infra_* would override the generated one: refuse (docs/reference.md, "Render", shadowed-render).
    const shadowing = await shadowingProblems(root, folders, inventories);
    if (shadowing.length) throw invalidRegistry(shadowing, 'only `infra render` writes infra_* variables: remove each one named above, then run `infra render` again (nothing was written)');
    const previous = await previousRenders(root, envFolders);
    // Each key as the load already parsed it (the member cache keeps that too): not parsed again here.
    const parseKey = keyParser(knownKeys(loaded));
    const { targets, remove } = renderTargets(loaded.registry, inventories, previous, { environments, inventoryFolders: folders, parseKey, ...(certificates ? { certificates: certificates.rendered } : {}) });
    // Files that exist are made first: kept only when they change (their old text is held anyway), and
    // their warnings (what was dropped from them) are all there is to say before writing. A file that does
    // not exist yet is always written: it is made when written, so no more than one is held at a time.
    const warningsAt: string[][] = targets.map(() => []);
    const changedText = new Map<string, { content: string; sharedAs?: string }>();
    let unchanged = 0;
    targets.forEach((target, i) => {
      if (!previous.has(target.rel)) return;
      const made = target.make();
      warningsAt[i] = made.warnings;
      if (target.dropped) return;
      if (previous.get(target.rel) === made.content) unchanged++;
      else changedText.set(target.rel, made);
    });
    const isWritten = (t: RenderTarget) => !t.dropped && (!previous.has(t.rel) || changedText.has(t.rel));
    const written = targets.filter(isWritten).map((t) => t.rel);
    for (const warning of warningsAt.flat()) say(ctx, `warning: ${warning}`);
    const makeNew = (i: number) => {
      const made = targets[i].make();
      for (const warning of made.warnings) say(ctx, `warning: ${warning}`);
      warningsAt[i] = made.warnings;
      return made;
    };
    if (!input.dryRun) {
      // Killed writers leave temporary copies (a render's hold key lists): the lock removed them before we write.
      if (cleanedTemps.length) say(ctx, `removed ${cleanedTemps.length} temporary file(s) a killed infra left: ${cleanedTemps.join(', ')}`);
      await assertWritable(root, [...written, ...remove]);
      const session = renderSession(root, written.length + remove.length, undefined, WRITES_AT_ONCE);
      const encoded = new SharedBytes();
      collectGarbageAbove(HEAP_BEFORE_WRITES);
      let sinceCollected = 0;
      for (const [i, target] of targets.entries()) {
        if (!isWritten(target)) continue;
        const { content, sharedAs } = changedText.get(target.rel) ?? makeNew(i);
        changedText.delete(target.rel);
        const { bytes, fresh } = encoded.of(content, sharedAs);
        await session.write(target.rel, bytes);
        // Each new text is dropped once written; without a collection now and then V8 keeps them all (1 GB at
        // 10,000 members). Texts shared by many hosts (see renderTargets) are made once and cost nothing more.
        if (fresh) sinceCollected += content.length;
        if (sinceCollected > GARBAGE_BUDGET) {
          collectGarbage();
          sinceCollected = 0;
        }
      }
      // every file is in place before a stale one goes
      await session.finish();
      for (const rel of remove) await session.remove(rel);
      await session.finish();
    } else {
      // made anyway: a value render refuses is refused in a dry run too
      for (const [i, target] of targets.entries()) if (!previous.has(target.rel)) makeNew(i);
    }
    const warnings = warningsAt.flat();
    if (stamp !== undefined) {
      const nothingToDo = written.length === 0 && remove.length === 0 && warnings.length === 0;
      await writeRenderStamp(root, nothingToDo ? { stamp, unchanged } : undefined);
    }
    return withSigners({ written, removed: remove, unchanged, ...(warnings.length ? { warnings } : {}) });
  };
  return input.dryRun ? work() : ctx.store.withLock('render', work);
}

/** policy.changes.require_signed: the history since the pinned commit must verify before anything is rendered. */
async function requireVerified(ctx: Context): Promise<void> {
  const { verifyHistory } = await import('./signed-changes.js');
  const result = await verifyHistory(ctx, {});
  if (result.ok) return;
  throw new InfraError(ExitCode.checkFailed, `policy.changes.require_signed: ${result.violations.length} commit${result.violations.length === 1 ? '' : 's'} since ${result.since ? result.since.slice(0, 12) : 'the root commit'} do not verify; nothing was rendered`, {
    hint: 'run `infra verify` to see them and who must sign or approve; `infra render --allow-unverified` renders anyway',
  });
}
