/**
 * Edits of the registry: staged in memory, validated as a whole, then written atomically under the lock.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { InfraConfig, Member, Registry } from '../core/types.js';
import { membersView, type OthersView } from '../core/others-view.js';
import { crossCheck, crossCheckClean, validateConfig, validateMember, type Path } from '../core/validate.js';
import { ExitCode, InfraError, invalidRegistry, noMember, type Problem } from '../lib/errors.js';
import { YamlSourceEditor } from '../lib/yaml-edit.js';
import { writeFileAtomic } from './atomic-write.js';
import { digest } from './file-stamps.js';
import { factsFrom } from './member-facts.js';
import { CONFIG_FILE, exists, memberRel } from './registry-root.js';
import { inspectRegistry, locatedFor, YamlFiles, type Loaded } from './registry-load.js';
import { withLock } from './registry-lock.js';
import { lineOf, parseYamlFile, type YamlFile } from './yaml-load.js';

/** A problem without its line, which an edit above it may shift. */
const problemKey = (p: Problem) => `${p.file}\0${p.field}\0${p.message}`;


/**
 * An edit of the registry. Commands change YAML documents (or stage whole files), then `commit`
 * re-validates the result as a whole and writes every changed file, or nothing.
 */
export class Transaction {
  private readonly staged = new Map<string, { content: string; mode?: number }>();
  private readonly removed = new Set<string>();
  private readonly editors = new Map<string, YamlSourceEditor>();
  /** The members as the last validated result would have them (each changed one as validated from its new text). */
  protected resultMembers?: Map<string, Member>;

  constructor(
    readonly root: string,
    readonly loaded: Loaded,
    /** Problems the registry already had (between files only): the result may keep them, not add to them. */
    protected readonly existing: readonly Problem[] = [],
  ) {}

  get registry(): Registry {
    return this.loaded.registry;
  }

  /**
   * The source of a registry YAML file for editing in place: only the bytes an edit must change change
   * (see YamlSourceEditor). `rel` must be a file that was loaded.
   */
  edit(rel: string): YamlSourceEditor {
    let editor = this.editors.get(rel);
    if (!editor) {
      const file = this.loaded.files.get(rel);
      if (!file) throw new Error(`${rel} was not loaded`);
      editor = new YamlSourceEditor(file.text, file.doc); // the loaded document: not parsed again for the first edit
      this.editors.set(rel, editor);
    }
    return editor;
  }

  /**
   * What every member but `handle` holds (WireGuard keys, peer addresses), for an edit of `handle`: here from
   * the loaded members and the facts the load derived; an edit of one member answers from the peer index.
   */
  othersThan(handle: string): OthersView {
    return membersView(this.registry.config, this.registry.members, handle, factsFrom(this.loaded.memberFacts));
  }

  /** The member.yml of `handle` for editing; a handle with no file is the usual "no member" error. */
  editMember(handle: string): YamlSourceEditor {
    if (!this.loaded.files.has(memberRel(handle))) throw noMember(handle, this.registry.members.map((m) => m.handle));
    return this.edit(memberRel(handle));
  }

  /** Stage a whole new file (relative path), e.g. a new member.yml or a pgp.asc. */
  writeFile(rel: string, content: string, mode?: number): void {
    this.staged.set(rel, { content, mode });
  }

  removeFile(rel: string): void {
    this.removed.add(rel);
  }

  protected removedAny(): boolean {
    return this.removed.size > 0;
  }

  /** The files this transaction removes (relative paths). */
  protected removedFiles(): string[] {
    return [...this.removed];
  }

  private async assertUnchanged(rel: string): Promise<void> {
    const before = this.loaded.files.get(rel)?.text;
    let now: string | undefined;
    try {
      now = (await fs.readFile(path.join(this.root, rel))).toString('latin1');
    } catch {
      now = undefined;
    }
    // compared as bytes: a byte that is not UTF-8 written meanwhile must not decode to the text we read
    if (digest(now) !== digest(before === undefined ? undefined : Buffer.from(before, 'utf8').toString('latin1')))
      throw new InfraError(ExitCode.invalid, `${rel} changed on disk while infra was working on it; nothing was written`, {
        hint: 'run the command again',
      });
  }

  /** The new content of every changed file. */
  pending(): Map<string, { content: string; mode?: number }> {
    const out = new Map(this.staged);
    for (const [rel, editor] of this.editors) if (editor.text !== this.loaded.files.get(rel)!.text) out.set(rel, { content: editor.text });
    return out;
  }

  /**
   * Problems in the registry as it would be after this transaction. What was loaded already validated,
   * so only the changed files are parsed and validated again, then the cross-file checks run over the result.
   */
  protected async validateResult(pending: Map<string, { content: string }>): Promise<Problem[]> {
    const problems: Problem[] = [];
    const files = this.loaded.files instanceof YamlFiles ? this.loaded.files.copy() : new Map(this.loaded.files);
    let config = this.loaded.registry.config;
    const members = new Map(this.loaded.registry.members.map((m) => [m.handle, m]));
    for (const rel of this.removed) {
      const m = /^keys\/([^/]+)\/member\.yml$/.exec(rel);
      if (m) members.delete(m[1]);
    }
    for (const [rel, { content }] of pending) {
      if (!rel.endsWith('.yml')) continue;
      const parsed = parseYamlFile(rel, content);
      files.set(rel, parsed.file);
      problems.push(...parsed.problems);
      if (parsed.problems.length) continue;
      const locate = (p: Path) => lineOf(parsed.file, p);
      if (rel === CONFIG_FILE) {
        const r = validateConfig(parsed.file.doc.toJS(), rel, locate);
        problems.push(...r.problems);
        if (r.config) config = r.config;
        continue;
      }
      const handle = /^keys\/([^/]+)\/member\.yml$/.exec(rel)?.[1];
      if (!handle) continue;
      const pgp = `keys/${handle}/pgp.asc`;
      const hasPgp = pending.has(pgp) || (!this.removed.has(pgp) && (await exists(path.join(this.root, pgp))));
      const r = validateMember(handle, parsed.file.doc.toJS(), rel, locate, hasPgp);
      problems.push(...r.problems);
      if (r.member) members.set(handle, r.member);
    }
    if (problems.length) return problems;
    this.resultMembers = members;
    return this.crossFileProblems(config, members, files, pending);
  }

  /** The cross-file problems of the result, whose files are each valid on their own. */
  protected crossFileProblems(config: InfraConfig, members: Map<string, Member>, files: Map<string, YamlFile>, pending: Map<string, { content: string }>): Problem[] {
    const sorted = [...members.values()].sort((a, b) => (a.handle < b.handle ? -1 : 1));
    // The loaded registry had no cross-file problem (none carried in `existing`) and infra.yml is the same:
    // only the changed members can be in one, so they alone are compared with the rest.
    if (this.existing.length === 0 && config === this.loaded.registry.config) {
      const changed = new Set([...pending.keys()].map((rel) => /^keys\/([^/]+)\/member\.yml$/.exec(rel)?.[1]).filter((h): h is string => h !== undefined));
      // the unchanged members are the loaded ones: their facts from the load
      if (crossCheckClean(config, sorted, changed, factsFrom(this.loaded.memberFacts))) return [];
    }
    return crossCheck(config, sorted, locatedFor(files));
  }

  async commit(): Promise<string[]> {
    const pending = this.pending();
    if (pending.size === 0 && this.removed.size === 0) return [];
    // The result must be a valid registry: validate the new texts before anything touches the disk.
    const known = new Set(this.existing.map(problemKey));
    const problems = (await this.validateResult(pending)).filter((p) => !known.has(problemKey(p)));
    if (problems.length) throw invalidRegistry(problems, 'nothing was written');
    for (const rel of [...pending.keys(), ...this.removed]) if (this.loaded.files.has(rel)) await this.assertUnchanged(rel);
    for (const [rel, { content, mode }] of pending) await writeFileAtomic(path.join(this.root, rel), content, mode);
    for (const rel of this.removed) await fs.rm(path.join(this.root, rel), { force: true });
    return [...pending.keys(), ...this.removed].sort();
  }
}

/** Lock, load fresh, let `fn` edit, commit. The registry is re-read under the lock so no edit is lost. */
export async function mutateRegistry<T>(root: string, command: string, fn: (tx: Transaction) => Promise<T> | T): Promise<{ result: T; written: string[] }> {
  return withLock(root, command, async () => {
    // An edit may start on a registry whose every file is valid but whose files disagree (one key under two
    // members, one address held twice): removing one of them is how that gets fixed. It must add no problem.
    const { loaded, partial, problems, betweenFilesOnly } = await inspectRegistry(root);
    const base = loaded ?? (betweenFilesOnly ? partial : undefined);
    if (!base) throw invalidRegistry(problems);
    const tx = new Transaction(root, base, problems);
    const result = await fn(tx);
    const written = await tx.commit();
    return { result, written };
  });
}
