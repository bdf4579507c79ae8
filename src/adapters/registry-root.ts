/**
 * Where the registry is (--dir > INFRA_DIR > the nearest folder upward holding infra.yml) and where its
 * files sit inside it.
 */
import { shellQuote } from '../lib/shell-quote.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ExitCode, InfraError } from '../lib/errors.js';

export const CONFIG_FILE = 'infra.yml';

export interface FindOptions {
  dir?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** --dir > INFRA_DIR > nearest folder upward holding infra.yml (docs/reference.md, "The registry"). */
export async function findRoot(opts: FindOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const explicit = opts.dir ?? env.INFRA_DIR;
  if (explicit) {
    const root = path.resolve(opts.cwd ?? process.cwd(), explicit);
    if (!(await exists(path.join(root, CONFIG_FILE))))
      throw new InfraError(ExitCode.invalid, `no registry at ${root}: it has no ${CONFIG_FILE} (from ${opts.dir ? '--dir' : 'INFRA_DIR'})`, {
        hint: `create one with \`infra init --dir ${shellQuote(explicit)}\`, or point --dir at the folder that holds ${CONFIG_FILE}`,
      });
    return root;
  }
  const start = path.resolve(opts.cwd ?? process.cwd());
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (await exists(path.join(dir, CONFIG_FILE))) return dir;
    if (path.dirname(dir) === dir) break;
  }
  throw new InfraError(ExitCode.invalid, `no registry found: no ${CONFIG_FILE} in ${start} or any folder above it, and neither --dir nor INFRA_DIR is set`, {
    hint: 'run `infra init` to create one here, or pass --dir DIR',
  });
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

export const memberRel = (handle: string) => `keys/${handle}/member.yml`;
