/** The line `ssh-keygen -l` prints for a key: bits, fingerprint, comment (escaped as ssh-keygen does) and type. */
import { PLAIN_TYPES, certifiedTypeOf, type PublicKey } from './ssh-key-blob.js';

/** ssh-keygen's name for the type: ED25519, ED25519-SK, ECDSA, ECDSA-SK, RSA, DSA, with -CERT for certificates. */
export function sshKeygenTypeName(k: Pick<PublicKey, 'type'>): string {
  const plain = Object.hasOwn(PLAIN_TYPES, k.type) ? PLAIN_TYPES[k.type] : undefined;
  if (plain) return plain.label;
  const certified = certifiedTypeOf(k.type);
  return certified ? `${PLAIN_TYPES[certified].label}-CERT` : 'unknown';
}

const NOT_PRINTABLE_RE = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}\p{Cn}]/u;

/**
 * The comment as ssh-keygen's mprintf shows it in a UTF-8 locale: printable characters as they are,
 * tab/CR kept, every other byte as a three-digit octal escape (\033); a NUL ends the comment.
 */
function sshKeygenVis(comment: string): string {
  const nul = comment.indexOf('\0');
  const text = nul >= 0 ? comment.slice(0, nul) : comment;
  let out = '';
  for (const ch of text) {
    if (ch === '\t' || ch === '\r' || ch === '\n' || !NOT_PRINTABLE_RE.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return out;
}

/** Exactly the line `ssh-keygen -lf` prints for the key, e.g. `256 SHA256:... alice@laptop (ED25519)`. */
export function sshKeygenLine(k: Pick<PublicKey, 'bits' | 'fingerprint' | 'comment' | 'type'>): string {
  const comment = sshKeygenVis(k.comment);
  return `${k.bits} ${k.fingerprint} ${comment === '' ? 'no comment' : comment} (${sshKeygenTypeName(k)})`;
}

