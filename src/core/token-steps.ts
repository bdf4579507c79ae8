/**
 * The steps a rotation updates its consumers in (docs/reference.md "A rotation is a recorded sequence"):
 * each GitHub consumer is a step of its own (a remote write, then its record); the Ansible vault consumers
 * of one vars file are one step (the file written once, all of them recorded with it), placed where the
 * file's first consumer stands. A crash between a step's write and its record leaves its consumers in
 * `pending.left`, and `--resume` writes the same value to them again: resumability is kept per step.
 */
import { formatConsumer } from './tokens.js';
import type { TokenConsumer } from './types.js';

export interface ConsumerStep {
  /** The consumers this step writes and records together, in member.yml order. */
  consumers: TokenConsumer[];
  /** The vars file a vault step writes (relative to the registry root); absent for a GitHub consumer. */
  file?: string;
}

/** `vaultFiles`: the vars file of each vault consumer, by its CLI form (`formatConsumer`). */
export function consumerSteps(consumers: readonly TokenConsumer[], vaultFiles: Readonly<Record<string, string>>): ConsumerStep[] {
  const steps: ConsumerStep[] = [];
  const byFile = new Map<string, ConsumerStep>();
  for (const c of consumers) {
    if (!('ansible_vault_var' in c)) {
      steps.push({ consumers: [c] });
      continue;
    }
    const cli = formatConsumer(c);
    const file = vaultFiles[cli];
    if (file === undefined) throw new Error(`consumerSteps: no vars file for ${cli}`);
    const step = byFile.get(file);
    if (step) step.consumers.push(c);
    else {
      const fresh = { consumers: [c], file };
      byFile.set(file, fresh);
      steps.push(fresh);
    }
  }
  return steps;
}
