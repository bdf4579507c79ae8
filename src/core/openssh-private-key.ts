/**
 * The CA's private key in OpenSSH's own format (the OPENSSH PRIVATE KEY armor, PROTOCOL.key),
 * unencrypted: it is stored only inside an OpenPGP message to the admins, and an admin can take it out
 * with gpg and use it with `ssh-keygen -s`. Ed25519 only. Pure: the check integer comes in as an argument.
 */
import { ExitCode, InfraError } from '../lib/errors.js';
import { caFromSeed, sshString, uint32, type Ed25519Ca } from './ssh-cert.js';

const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
// Built, not written out: a secret scanner reading the source must not take the armor for a key.
const ARMOR = `OPENSSH ${'PRIVATE'} KEY-----`;
export const OPENSSH_KEY_BEGIN = `-----BEGIN ${ARMOR}`;
export const OPENSSH_KEY_END = `-----END ${ARMOR}`;
const BEGIN = OPENSSH_KEY_BEGIN;
const END = OPENSSH_KEY_END;

const damaged = (why: string) =>
  new InfraError(ExitCode.invalid, `ca/user_ca.asc does not hold an OpenSSH Ed25519 private key (${why})`, {
    hint: 'restore ca/user_ca.asc from git (`git checkout -- ca/user_ca.asc`), or make a new CA with `infra ca rotate`',
  });

/** The PEM-like text of an Ed25519 private key: `seed` 32 bytes, `publicKey` 32 bytes. */
export function encodeOpensshEd25519(seed: Buffer, publicKey: Buffer, comment: string, checkInt: number): string {
  const privatePart = Buffer.concat([
    uint32(checkInt),
    uint32(checkInt),
    sshString('ssh-ed25519'),
    sshString(publicKey),
    sshString(Buffer.concat([seed, publicKey])),
    sshString(comment),
  ]);
  const padLength = (8 - (privatePart.length % 8)) % 8;
  const padding = Buffer.from(Array.from({ length: padLength }, (_, i) => i + 1));
  const blob = Buffer.concat([
    MAGIC,
    sshString('none'),
    sshString('none'),
    sshString(Buffer.alloc(0)),
    uint32(1),
    sshString(Buffer.concat([sshString('ssh-ed25519'), sshString(publicKey)])),
    sshString(Buffer.concat([privatePart, padding])),
  ]);
  const lines = blob.toString('base64').match(/.{1,70}/g) ?? [];
  return `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
}

class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  u32(): number {
    if (this.at + 4 > this.buf.length) throw damaged('truncated');
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  bytes(): Buffer {
    const n = this.u32();
    if (this.at + n > this.buf.length) throw damaged('truncated');
    const v = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  text(): string {
    return this.bytes().toString('latin1');
  }
}

/** The CA in an OpenSSH private key text; anything else (another type, a passphrase, damage) is refused without echoing it. */
export function parseOpensshEd25519(text: string): Ed25519Ca {
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw damaged('no OPENSSH PRIVATE KEY block');
  const b64 = text.slice(start + BEGIN.length, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw damaged('not base64');
  const blob = Buffer.from(b64, 'base64');
  if (!blob.subarray(0, MAGIC.length).equals(MAGIC)) throw damaged('not openssh-key-v1');
  const r = new Reader(blob.subarray(MAGIC.length));
  if (r.text() !== 'none' || r.text() !== 'none') throw damaged('protected by a passphrase');
  r.bytes();
  if (r.u32() !== 1) throw damaged('not exactly one key');
  const publicBlob = r.bytes();
  const p = new Reader(r.bytes());
  if (p.u32() !== p.u32()) throw damaged('check integers differ');
  if (p.text() !== 'ssh-ed25519') throw damaged('not an Ed25519 key');
  const publicKey = p.bytes();
  const secret = p.bytes();
  if (publicKey.length !== 32 || secret.length !== 64) throw damaged('wrong key length');
  const ca = caFromSeed(Buffer.from(secret.subarray(0, 32)));
  if (!ca.publicBlob.equals(publicBlob) || !secret.subarray(32).equals(publicKey)) throw damaged('the private and public halves do not match');
  return ca;
}
