/**
 * An ssh-agent (PROTOCOL.agent) that holds no private key at all: it offers public keys and "signs" with
 * what anyone can compute from the public key alone. The real `ssh` uses it through IdentityAgent, so a
 * login it makes is a real login with a forged signature.
 *  - ssh-rsa with e = 1: s^e mod n = s, so the signature of a PKCS#1 v1.5 digest is the padded digest itself.
 *  - ssh-ed25519 with A = the identity point: verification checks R == [S]B - [k]A = [S]B; S = 0 and
 *    R = the encoding of the identity (01 00..00) verify for every message.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import { sshString } from './keys.js';

const DIGEST_INFO = {
  'ssh-rsa': { hash: 'sha1', prefix: '3021300906052b0e03021a05000414' },
  'rsa-sha2-256': { hash: 'sha256', prefix: '3031300d060960864801650304020105000420' },
  'rsa-sha2-512': { hash: 'sha512', prefix: '3051300d060960864801650304020305000440' },
} as const;

function readString(buf: Buffer, at: number): [Buffer, number] {
  const len = buf.readUInt32BE(at);
  return [buf.subarray(at + 4, at + 4 + len), at + 4 + len];
}

/** The forged signature blob for `blob` over `data`, or undefined when this key is not one anyone can sign for. */
export function forgeSignature(blob: Buffer, data: Buffer, flags: number): Buffer | undefined {
  const [type, afterType] = readString(blob, 0);
  if (type.toString() === 'ssh-ed25519') {
    const [point] = readString(blob, afterType);
    const identity = Buffer.alloc(32);
    identity[0] = 1;
    if (!point.equals(identity)) return undefined;
    return Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.concat([identity, Buffer.alloc(32)]))]);
  }
  if (type.toString() === 'ssh-rsa') {
    const [e, afterE] = readString(blob, afterType);
    const [n] = readString(blob, afterE);
    if (BigInt(`0x${e.toString('hex') || '0'}`) !== 1n) return undefined;
    const k = n[0] === 0 ? n.length - 1 : n.length;
    const alg = flags & 4 ? 'rsa-sha2-512' : flags & 2 ? 'rsa-sha2-256' : 'ssh-rsa';
    const { hash, prefix } = DIGEST_INFO[alg];
    const t = Buffer.concat([Buffer.from(prefix, 'hex'), createHash(hash).update(data).digest()]);
    const em = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(k - t.length - 3, 0xff), Buffer.from([0]), t]);
    return Buffer.concat([sshString(alg), sshString(em)]);
  }
  return undefined;
}

/** The identity forgery (R = identity, S = 0) made for any Ed25519 key: only the identity point makes it verify. The control. */
export function identityStyleSignature(): Buffer {
  const identity = Buffer.alloc(32);
  identity[0] = 1;
  return Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.concat([identity, Buffer.alloc(32)]))]);
}

export interface ForgingAgent {
  socket: string;
  /** How many signatures it made. */
  signed(): number;
  close(): Promise<void>;
}

/**
 * Serves `keys` (public key blobs) on a Unix socket. `sign` makes the signature (default: forgeSignature);
 * a request it cannot answer gets SSH_AGENT_FAILURE, as does every other request (e.g. session-bind).
 */
export async function startForgingAgent(socketPath: string, keys: Buffer[], sign: (blob: Buffer, data: Buffer, flags: number) => Buffer | undefined = forgeSignature): Promise<ForgingAgent> {
  let count = 0;
  const reply = (type: number, body: Buffer = Buffer.alloc(0)) => {
    const out = Buffer.alloc(5);
    out.writeUInt32BE(body.length + 1);
    out[4] = type;
    return Buffer.concat([out, body]);
  };
  const answer = (msg: Buffer): Buffer => {
    const type = msg[0];
    if (type === 11) {
      const n = Buffer.alloc(4);
      n.writeUInt32BE(keys.length);
      return reply(12, Buffer.concat([n, ...keys.flatMap((k) => [sshString(k), sshString('forged')])]));
    }
    if (type === 13) {
      const [blob, afterBlob] = readString(msg, 1);
      const [data, afterData] = readString(msg, afterBlob);
      const flags = msg.readUInt32BE(afterData);
      const sig = keys.some((k) => k.equals(blob)) ? sign(blob, data, flags) : undefined;
      if (!sig) return reply(5);
      count++;
      return reply(14, sshString(sig));
    }
    return reply(5);
  };
  const server = net.createServer((conn) => {
    let pending = Buffer.alloc(0);
    conn.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
        const len = pending.readUInt32BE(0);
        conn.write(answer(pending.subarray(4, 4 + len)));
        pending = pending.subarray(4 + len);
      }
    });
    conn.on('error', () => conn.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return {
    socket: socketPath,
    signed: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
