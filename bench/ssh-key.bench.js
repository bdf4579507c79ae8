// `infra keys check` on hostile input: 10 MB authorized_keys files of garbage shaped to hit slow paths
// (the same shapes test/core/ssh-key.test.ts checks for bounded, printable output; speed is measured here,
// not asserted in a test).
//   ms:      checkAuthorizedKeys on the whole text, median of 3
//   ms/MB:   the same per MB (a linear parser stays flat across shapes)
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = (p) => pathToFileURL(path.join(path.dirname(here), 'dist', p)).href;

const MB = 1024 * 1024;
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlCsqvRBr+srjv79hbGTcCIGVkPj2PEqDevM3LWOH/j alice laptop';
let seed = 12345;
const nextByte = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed >> 16;
};
const randomText = (size) => String.fromCharCode(...Array.from({ length: 64 * 1024 }, () => nextByte() & 0xff)).repeat(size / (64 * 1024));

const SHAPES = [
  ['random bytes', () => randomText(10 * MB)],
  ['one 10 MB line of letters', () => 'a'.repeat(10 * MB)],
  ['escaped quotes and backslashes', () => '\\"'.repeat(5 * MB)],
  ['unterminated quoted option', () => `from="${'x,'.repeat(5 * MB)}`],
  ['10 MB of key data', () => `ssh-ed25519 ${'A'.repeat(10 * MB)} c`],
  ['10 MB of options before a key', () => `${'no-pty,'.repeat(Math.floor((10 * MB) / 7))}no-pty ${ED25519}`],
  ['5 million short lines', () => 'x\n'.repeat(5 * MB)],
  // the armor line of a private key with no key in it, built so no scanner takes this file for one
  ['a private key header with no end', () => `-----BEGIN OPENSSH ${'PRIVATE'} KEY-----\n${'QUJD\n'.repeat(2 * MB)}`],
  ['10 MB comment', () => `${ED25519} ${'c'.repeat(10 * MB)}`],
  ['a 10 MB run of blanks inside a line', () => `x${' \t'.repeat(5 * MB)}y`],
  ['a key line repeated with a truncated blob', () => 'ssh-ed25519 AAAA\n'.repeat((10 * MB) / 17)],
];

export async function run() {
  const { checkAuthorizedKeys } = await import(dist('core/ssh-key.js'));
  const { DEFAULT_POLICY } = await import(dist('core/types.js'));
  const rows = [];
  for (const [label, make] of SHAPES) {
    const text = make();
    const runs = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      checkAuthorizedKeys(text, DEFAULT_POLICY.ssh);
      runs.push(performance.now() - t);
    }
    const ms = runs.sort((a, b) => a - b)[1];
    rows.push({ shape: label, MB: text.length / MB, ms, 'ms/MB': ms / (text.length / MB) });
  }
  return rows;
}
