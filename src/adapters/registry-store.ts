import type { InfraConfig } from '../core/types.js';
import type { Problem } from '../lib/errors.js';
import { findRoot, type FindOptions } from './registry-root.js';
import { inspectRegistry, loadConfig, loadRegistry, type Loaded } from './registry-load.js';
import { withLock, type LockSession } from './registry-lock.js';
import { mutateRegistry, type Transaction } from './transaction.js';
import { mutateMember, type RepeatableMemberEdit } from './member-transaction.js';

/**
 * The registry as services see it: found once (--dir > INFRA_DIR > nearest infra.yml upward), then
 * loaded, inspected or edited under the lock.
 */
export class RegistryStore {
  private found?: Promise<string>;
  /** The locks of this command's one-member edits (see LockSession). */
  private readonly memberEdits: LockSession = { tempsRemoved: false };

  constructor(private readonly find: FindOptions) {}

  root(): Promise<string> {
    this.found ??= findRoot(this.find);
    return this.found;
  }

  async load(): Promise<Loaded> {
    return loadRegistry(await this.root());
  }

  async loadConfig(): Promise<InfraConfig> {
    return loadConfig(await this.root());
  }

  async inspect(): Promise<{ loaded?: Loaded; partial?: Loaded; problems: Problem[] }> {
    return inspectRegistry(await this.root());
  }

  /** Lock, load fresh, let `fn` edit, commit: re-read under the lock so no edit is lost. */
  async mutate<T>(command: string, fn: (tx: Transaction) => Promise<T> | T): Promise<{ result: T; written: string[] }> {
    return mutateRegistry(await this.root(), command, fn);
  }

  /** Lock, load, let `edit` change the one member `handle`, commit (see RepeatableMemberEdit: `edit` may run twice). */
  async mutateMember<T>(handle: string, command: string, edit: RepeatableMemberEdit<T>): Promise<{ result: T; written: string[] }> {
    return mutateMember(await this.root(), handle, command, edit, this.memberEdits);
  }

  /** `fn` gets the temporary files of killed writers that taking the lock removed (relative paths). */
  async withLock<T>(command: string, fn: (cleanedTemps: string[]) => Promise<T>): Promise<T> {
    return withLock(await this.root(), command, fn);
  }
}
