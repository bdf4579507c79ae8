/** Reading user-supplied files and stdin, with errors that name the file. */
import { shellCommand } from '../lib/shell-quote.js';
import { promises as fs } from 'node:fs';
import { ExitCode, InfraError } from '../lib/errors.js';

const MAX_BYTES = 64 * 1024 * 1024;

export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new InfraError(ExitCode.usage, 'expected input on stdin, but stdin is a terminal', { hint: 'pipe the input in, e.g. `cat FILE | infra ...`, or pass FILE' });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_BYTES) throw new InfraError(ExitCode.invalid, `stdin: more than ${MAX_BYTES / 1048576} MB`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A file's text, or stdin for "-". */
export async function readInput(file: string): Promise<string> {
  if (file === '-') return readStdin();
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    throw new InfraError(ExitCode.invalid, `${file}: no such file`, { hint: 'check the path, or pass - to read stdin' });
  }
  if (stat.isDirectory()) throw new InfraError(ExitCode.invalid, `${file}: is a folder, not a file`);
  if (stat.size > MAX_BYTES) throw new InfraError(ExitCode.invalid, `${file}: larger than ${MAX_BYTES / 1048576} MB`);
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InfraError(ExitCode.invalid, `${file}: cannot be read (${code === 'EACCES' ? 'permission denied' : (code ?? (e as Error).message)})`, {
      hint: code === 'EACCES' ? `check the file's permissions: ${shellCommand(['ls', '-l', file])}` : undefined,
    });
  }
}
