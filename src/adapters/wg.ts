/**
 * The `wg` program, as `vpn status` and `audit --wg-dump` ask it: `wg show … dump`, whose secret columns
 * parseWgDump drops. (Tests drive wg and wg-quick further through test/helpers/wg-tools.ts.)
 */
import { ExitCode, InfraError } from '../lib/errors.js';
import { runProgram as runAny, type RunResult } from './run-program.js';
import { shellQuote } from '../lib/shell-quote.js';

export { type RunResult } from './run-program.js';

const INSTALL_HINT = 'install WireGuard tools: `apt-get install wireguard-tools`';

/** wg answers in milliseconds; one that has not answered in this long is stuck (e.g. on a dead wireguard-go socket). */
export const WG_TIMEOUT_MS = 15_000;

/** Runs a WireGuard program without a shell; `input` goes to its stdin. Rejects when it is missing or does not finish in time. */
export function runProgram(command: string, args: readonly string[], input?: string): Promise<RunResult> {
  return runAny(command, args, { input, timeoutMs: WG_TIMEOUT_MS, installHint: INSTALL_HINT });
}

/** Prefixes `ip netns exec NS` when a network namespace is given. */
function inNetns(netns: string | undefined, command: string, args: string[]): [string, string[]] {
  return netns ? ['ip', ['netns', 'exec', netns, command, ...args]] : [command, args];
}

function failed(what: string, r: RunResult, exitCode: typeof ExitCode.invalid | typeof ExitCode.remote, hint: string): InfraError {
  const detail = r.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit code ${r.code}`;
  return new InfraError(exitCode, `${what} failed: ${detail}`, { hint });
}

/**
 * `wg show all dump`; parse it with parseWgDump (src/core/wg-dump.ts), which drops the secret columns.
 * With `iface`, only that interface (`wg show IFACE dump`, which asks no other interface's daemon), its lines
 * prefixed with the interface name as `all` prints them.
 */
export async function wgShowDump(netns?: string, iface?: string): Promise<string> {
  const [command, args] = inNetns(netns, 'wg', ['show', iface ?? 'all', 'dump']);
  const r = await runProgram(command, args);
  if (r.code !== 0) throw failed(`wg show ${shellQuote(iface ?? 'all')} dump`, r, ExitCode.remote, 'run as root (`sudo wg show all dump`) on the WireGuard server');
  if (iface === undefined) return r.stdout;
  return r.stdout.split('\n').map((line) => (line ? `${iface}\t${line}` : line)).join('\n');
}
