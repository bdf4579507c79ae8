/**
 * The registry store, one job per file: this module only re-exports them, for code written against the
 * single module it once was. New code imports the file that does the job.
 */
export { CONFIG_FILE, findRoot, memberRel, type FindOptions } from './registry-root.js';
export { lineOf, MAX_ALIAS_EXPANSIONS, MAX_REGISTRY_FILE_BYTES, parseYamlFile, readRegistryText, unclosedFlowOpener, YAML_OUT, type YamlFile } from './yaml-load.js';
export { CACHE_DIR, keepsDerivedState } from './member-cache.js';
export { knownKeys } from './member-facts.js';
export { inspectRegistry, loadConfig, loadRegistry, YamlFiles, type Loaded } from './registry-load.js';
export { ABANDONED_LOCK_MS, LOCK_FILE, LOCK_WAIT_ENV, lockWaitMs, withLock, type LockSession } from './registry-lock.js';
export { removeAbandonedTemps } from './temp-files.js';
export { writeFileAtomic } from './atomic-write.js';
export { mutateRegistry, Transaction } from './transaction.js';
export { focusedExtraFile, mutateMember, MemberTransaction, type RepeatableMemberEdit } from './member-transaction.js';
export { RegistryStore } from './registry-store.js';
