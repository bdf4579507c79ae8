/**
 * `infra audit --live` through Ansible (SPEC §7): the agreed interface between the audit service and
 * the collector. STUB: the real collector (ad-hoc `ansible` runs with the JSON callback) is being built
 * in its own branch and replaces this file at merge; until then `collectLive` refuses.
 */
import type { DumpSource, LiveHost } from '../core/audit.js';
import { ExitCode, InfraError } from '../lib/errors.js';

export interface LiveRequest {
  environment: string;
  /** absolute path given to `ansible -i` (the environment's inventory file or folder) */
  inventoryPath: string;
  /** from liveTargets(plan) in src/core/audit.ts, this environment only: whose authorized_keys to read where */
  targets: Array<{ host: string; users: string[] }>;
  /** hosts a VPN network's `servers` pattern selects here: run `wg show all dump` there */
  vpnServers: string[];
  /** --limit PATTERN, passed to ansible as --limit */
  limit?: string;
}

export interface LiveResult {
  live: LiveHost[];
  dumps: DumpSource[];
}

/** Progress lines (one per host as it answers) go to `progress`; the service prints them on a terminal only. */
export type LiveCollector = (requests: LiveRequest[], progress: (line: string) => void) => Promise<LiveResult>;

export const collectLive: LiveCollector = async () => {
  throw new InfraError(ExitCode.bug, 'infra audit --live is not built yet', { hint: 'run `infra audit` without --live, or with --wg-dump FILE for the VPN part' });
};
