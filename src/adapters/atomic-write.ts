import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tempName } from './temp-files.js';
import { testPausePoint } from './test-pause.js';


/** Write a file atomically: temporary file in the same folder, fsync, rename. Keeps an existing file's mode. */
export async function writeFileAtomic(file: string, content: string | Uint8Array, mode?: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  let fileMode = mode;
  if (fileMode === undefined) {
    try {
      fileMode = (await fs.stat(file)).mode & 0o777;
    } catch {
      fileMode = 0o644;
    }
  }
  const tmp = tempName(file, 'tmp');
  const handle = await fs.open(tmp, 'wx', fileMode);
  // A failure at any step (a full disk) leaves no temporary copy behind: it may hold key lists.
  try {
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.chmod(tmp, fileMode);
    await testPausePoint('before-rename', file);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await testPausePoint('after-rename', file);
}

