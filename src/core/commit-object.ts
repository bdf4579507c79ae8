/**
 * A git commit object as git writes it (`git cat-file commit`), and the signature it carries. Pure.
 *
 * A signed commit holds its signature in a `gpgsig` header (continuation lines start with a space); what
 * was signed is the object without that header, byte for byte (git's `parse_signed_commit`). An SSH
 * signature is an armored SSHSIG blob (OpenSSH PROTOCOL.sshsig) that names the signing public key.
 */

export interface CommitObject {
  tree: string;
  parents: string[];
  author: string; // `Name <email>`
  committer: string;
  /** committer time, seconds since the epoch */
  committedAt: number;
  message: string;
  signature?: string;
  /** the bytes that were signed: the object without its gpgsig header */
  payload: Buffer;
}

const SIG_HEADERS = new Set(['gpgsig', 'gpgsig-sha256']);

export function parseCommitObject(data: Buffer): CommitObject {
  const text = data.toString('utf8');
  const end = text.indexOf('\n\n');
  const head = end < 0 ? text : text.slice(0, end);
  const message = end < 0 ? '' : text.slice(end + 2);
  const lines = head.split('\n');
  const parents: string[] = [];
  let tree = '';
  let author = '';
  let committer = '';
  let committedAt = 0;
  let signature: string | undefined;
  let inSig = false;
  for (const line of lines) {
    if (line.startsWith(' ')) {
      if (inSig) signature += `\n${line.slice(1)}`;
      continue;
    }
    inSig = false;
    const sp = line.indexOf(' ');
    const name = sp < 0 ? line : line.slice(0, sp);
    const value = sp < 0 ? '' : line.slice(sp + 1);
    if (SIG_HEADERS.has(name)) {
      // The first signature header is the commit's (sha1 repositories write gpgsig); a second is ignored.
      if (signature === undefined) {
        signature = value;
        inSig = true;
      }
      continue;
    }
    if (name === 'tree') tree = value;
    else if (name === 'parent') parents.push(value);
    else if (name === 'author') author = value.replace(/ \d+ [+-]\d{4}$/, '');
    else if (name === 'committer') {
      committer = value.replace(/ \d+ [+-]\d{4}$/, '');
      committedAt = Number(/ (\d+) [+-]\d{4}$/.exec(value)?.[1] ?? 0);
    }
  }
  return { tree, parents, author, committer, committedAt, message, ...(signature !== undefined ? { signature: `${signature}\n` } : {}), payload: withoutSignature(data) };
}

/** The object's bytes without its first signature header and that header's continuation lines (as git signs). */
function withoutSignature(data: Buffer): Buffer {
  const headEnd = data.indexOf('\n\n');
  const limit = headEnd < 0 ? data.length : headEnd;
  for (let at = 0; at < limit; ) {
    const eol = data.indexOf(0x0a, at);
    const lineEnd = eol < 0 || eol > limit ? limit : eol;
    const name = data.subarray(at, data.indexOf(0x20, at) > -1 && data.indexOf(0x20, at) < lineEnd ? data.indexOf(0x20, at) : lineEnd).toString('latin1');
    if (SIG_HEADERS.has(name)) {
      let stop = lineEnd;
      while (stop < limit && data[stop + 1] === 0x20) {
        const next = data.indexOf(0x0a, stop + 1);
        stop = next < 0 || next > limit ? limit : next;
      }
      return Buffer.concat([data.subarray(0, at), data.subarray(stop + 1 > data.length ? data.length : stop + 1)]);
    }
    at = lineEnd + 1;
  }
  return data;
}

export type SignatureFormat = 'ssh' | 'openpgp' | 'unknown';

export function signatureFormat(signature: string): SignatureFormat {
  if (signature.startsWith('-----BEGIN SSH SIGNATURE-----')) return 'ssh';
  if (signature.startsWith('-----BEGIN PGP SIGNATURE-----')) return 'openpgp';
  return 'unknown';
}

/** What an SSHSIG blob says, or a reason it is malformed. */
export interface SshSignature {
  publicKey: Buffer;
  namespace: string;
  hashAlgorithm: string;
}

function readString(buf: Buffer, at: number): { value: Buffer; next: number } {
  if (at + 4 > buf.length) throw new Error('truncated');
  const len = buf.readUInt32BE(at);
  if (at + 4 + len > buf.length) throw new Error('truncated');
  return { value: buf.subarray(at + 4, at + 4 + len), next: at + 4 + len };
}

export function parseSshSignature(armored: string): SshSignature | { malformed: string } {
  const m = /^-----BEGIN SSH SIGNATURE-----\n([A-Za-z0-9+/=\n]+)-----END SSH SIGNATURE-----\n?$/.exec(armored.replace(/\r\n/g, '\n'));
  if (!m) return { malformed: 'not an armored SSH signature' };
  const blob = Buffer.from(m[1].replace(/\n/g, ''), 'base64');
  try {
    if (blob.subarray(0, 6).toString('latin1') !== 'SSHSIG') return { malformed: 'no SSHSIG magic' };
    if (blob.length < 10 || blob.readUInt32BE(6) !== 1) return { malformed: 'unknown SSHSIG version' };
    const key = readString(blob, 10);
    const ns = readString(blob, key.next);
    const reserved = readString(blob, ns.next);
    const hash = readString(blob, reserved.next);
    const sig = readString(blob, hash.next);
    if (sig.next !== blob.length) return { malformed: 'trailing bytes after the signature' };
    return { publicKey: Buffer.from(key.value), namespace: ns.value.toString('utf8'), hashAlgorithm: hash.value.toString('utf8') };
  } catch {
    return { malformed: 'truncated SSHSIG blob' };
  }
}

/** `20270301123000Z`: a time as ssh-keygen's -Overify-time and allowed signers take it (UTC). */
export const sshTime = (seconds: number) => `${new Date(seconds * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
