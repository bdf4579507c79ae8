/**
 * wg and wg-quick for the real tests: make and derive keys, strip a device config, load and read back an
 * interface. Keys travel on stdin or in 0600 files inside a private temporary folder, never on a command line.
 * Built on the product's runner (src/adapters/wg.ts), so a missing program or a hang fails the same way.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode, InfraError } from '../../src/lib/errors.js';
import { shellQuote } from '../../src/lib/shell-quote.js';
import { runProgram, type RunResult } from '../../src/adapters/wg.js';

const INSTALL_HINT = 'install WireGuard tools: `apt-get install wireguard-tools`';

function inNetns(netns: string | undefined, command: string, args: string[]): [string, string[]] {
  return netns ? ['ip', ['netns', 'exec', netns, command, ...args]] : [command, args];
}

function failed(what: string, r: RunResult, exitCode: typeof ExitCode.invalid | typeof ExitCode.remote, hint: string): InfraError {
  const detail = r.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit code ${r.code}`;
  return new InfraError(exitCode, `${what} failed: ${detail}`, { hint });
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

