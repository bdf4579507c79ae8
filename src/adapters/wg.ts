/**
 * The `wg` and `wg-quick` programs. Keys travel on stdin or in 0600 files inside a private
 * temporary folder, never on a command line (process lists leak them).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

async function withPrivateFile<T>(fileName: string, text: string, use: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'infra-wg-'));
  try {
    const path = join(dir, fileName);
    await writeFile(path, text, { mode: 0o600 });
    return await use(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function failed(what: string, r: RunResult, exitCode: typeof ExitCode.invalid | typeof ExitCode.remote, hint: string): InfraError {
  const detail = r.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit code ${r.code}`;
  return new InfraError(exitCode, `${what} failed: ${detail}`, { hint });
}

/** `wg pubkey`, the private key on stdin. */
export async function wgPubkey(privateKey: string): Promise<string> {
  const r = await runProgram('wg', ['pubkey'], `${privateKey}\n`);
  if (r.code !== 0) throw failed('wg pubkey', r, ExitCode.invalid, 'check that the private key is 44 characters of base64, as `wg genkey` prints');
  return r.stdout.trim();
}

/** `wg genkey`. */
export async function wgGenkey(): Promise<string> {
  const r = await runProgram('wg', ['genkey']);
  if (r.code !== 0) throw failed('wg genkey', r, ExitCode.remote, INSTALL_HINT);
  return r.stdout.trim();
}

/**
 * `wg-quick strip`: the config without wg-quick's own keys (Address, DNS, MTU, ...), as `wg setconf` takes it.
 * wg-quick names the interface after the file, so `interfaceName` must be a valid interface name.
 */
export async function wgQuickStrip(configText: string, interfaceName = 'wginfra0'): Promise<string> {
  // wg-quick's own rule for interface names.
  if (!/^[a-zA-Z0-9_=+.-]{1,15}$/.test(interfaceName)) throw new InfraError(ExitCode.invalid, `not an interface name: ${JSON.stringify(interfaceName)}`, { hint: 'use 1 to 15 letters, digits or _=+.-, e.g. wg0' });
  return withPrivateFile(`${interfaceName}.conf`, configText, async (path) => {
    const r = await runProgram('wg-quick', ['strip', path]);
    if (r.code !== 0) throw failed('wg-quick strip', r, ExitCode.invalid, 'fix the config; `infra vpn join` writes one that wg-quick accepts');
    return r.stdout;
  });
}

/** `wg setconf IFACE FILE`, optionally inside a network namespace. */
export async function wgSetconf(iface: string, configText: string, netns?: string): Promise<void> {
  await withPrivateFile('setconf.conf', configText, async (path) => {
    const [command, args] = inNetns(netns, 'wg', ['setconf', iface, path]);
    const r = await runProgram(command, args);
    if (r.code !== 0) throw failed(`wg setconf ${shellQuote(iface)}`, r, ExitCode.invalid, 'fix the config (`wg-quick strip` output of a device config is what `wg setconf` takes)');
  });
}

/** `wg showconf IFACE` (holds the interface's private key: do not print it). */
export async function wgShowconf(iface: string, netns?: string): Promise<string> {
  const [command, args] = inNetns(netns, 'wg', ['showconf', iface]);
  const r = await runProgram(command, args);
  if (r.code !== 0) throw failed(`wg showconf ${shellQuote(iface)}`, r, ExitCode.remote, 'run as root, and check that the interface exists with `ip link show`');
  return r.stdout;
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
