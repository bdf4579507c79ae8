/**
 * A hidden passphrase prompt on the controlling terminal (/dev/tty), for when stdout is a pipe: Ansible
 * runs a vault password client with stdout and stderr captured, so the prompt cannot use either (as ssh
 * and gpg's pinentry do, it talks to the terminal itself). Nothing typed is echoed.
 */
import { openSync, writeSync } from 'node:fs';
import tty from 'node:tty';
import { ExitCode, InfraError } from '../lib/errors.js';

/** The line typed after `message`, or undefined when there is no terminal to ask on. Ctrl+C is exit 130. */
export async function askOnTty(message: string): Promise<string | undefined> {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    return undefined;
  }
  const input = new tty.ReadStream(fd);
  const say = (text: string) => {
    try {
      writeSync(fd, text);
    } catch {
      // a terminal that went away: the read below ends too
    }
  };
  input.setRawMode(true);
  say(`${message}: `);
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      input.on('data', (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return resolve(typed);
          if (ch === '\u0003' || ch === '\u0004') return reject(new InfraError(ExitCode.cancelled, 'cancelled at the passphrase prompt'));
          if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
          else if (ch >= ' ') typed += ch;
        }
      });
      input.on('end', () => reject(new InfraError(ExitCode.cancelled, 'the terminal closed at the passphrase prompt')));
      input.on('error', reject);
    });
  } finally {
    say('\n');
    input.setRawMode(false);
    input.pause();
    input.removeAllListeners('data');
    // destroy() closes the descriptor with the tty handle (closing it again could close a reused number)
    input.destroy();
  }
}
