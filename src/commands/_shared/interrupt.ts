/**
 * Ctrl+C during a long, resumable command (a rotation): the first one asks the work to stop at its next
 * recorded step (`onFirst`, and `interrupted()` turns true); a second exits 130 at once.
 */
import { ExitCode } from '../../lib/errors.js';

export async function interruptible<T>(onFirst: () => void, work: (interrupted: () => boolean) => Promise<T>): Promise<T> {
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(ExitCode.cancelled);
    interrupted = true;
    onFirst();
  };
  process.on('SIGINT', onSigint);
  try {
    return await work(() => interrupted);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
