/**
 * What `infra audit --live` needs beside the hosts' answers: its two flags checked, and the registry's
 * user CAs (ca/*.pub), which a host may trust without that being unmanaged-auth.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseAuthorizedKeys } from '../core/authorized-keys.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { shellQuote } from '../lib/shell-quote.js';

export const MAX_FORKS = 500;
export const MAX_TIMEOUT_SECONDS = 3600;

/** --forks and --timeout: whole numbers in range, and only with --live (usage error otherwise). */
export function checkLiveSettings(o: { live?: boolean; forks?: number; timeout?: number }): void {
  for (const [flag, value, max] of [['forks', o.forks, MAX_FORKS], ['timeout', o.timeout, MAX_TIMEOUT_SECONDS]] as const) {
    if (value === undefined) continue;
    if (!o.live) throw new InfraError(ExitCode.usage, `--${flag} applies to --live, and needs it`, { hint: `infra audit --live ${shellQuote(`--${flag}`)} ${shellQuote(value)}` });
    if (!Number.isInteger(value) || value < 1 || value > max)
      throw new InfraError(ExitCode.invalid, `--${flag} ${value} is not a whole number from 1 to ${max}`, { hint: `infra audit --live ${shellQuote(`--${flag}`)} ${flag === 'forks' ? 20 : 10}` });
  }
}

/** Every key in the registry's ca/*.pub (canonical base64); none when there is no ca/ folder. */
export async function userCAs(root: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(path.join(root, 'ca'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw e;
  }
  const out: string[] = [];
  for (const name of names.filter((n) => n.endsWith('.pub')).sort()) {
    const file = path.join(root, 'ca', name);
    const stat = await fs.lstat(file);
    if (!stat.isFile() || stat.size > 64 * 1024) continue; // a link or a huge file is no CA infra vouches for
    for (const k of parseAuthorizedKeys(await fs.readFile(file, 'utf8')).keys) out.push(k.blob);
  }
  return out;
}
