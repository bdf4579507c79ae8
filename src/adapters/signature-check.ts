/**
 * Checking a commit's signature against the signers of its parent's registry. SSH signatures are verified by
 * `ssh-keygen -Y verify` (namespace git) against an allowed signers file made from that registry, at the
 * commit's committer time, as `git verify-commit` does; OpenPGP signatures by openpgp.js against the
 * signing member's pgp.asc. The signing key is read from the signature first, so a key no member had is
 * refused by name without running anything. Temporary files live in one private folder, removed by close().
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fingerprintOf } from '../core/ssh-key.js';
import { parseSshSignature, signatureFormat, sshTime } from '../core/commit-object.js';
import type { SignatureCheck } from '../core/change-rules.js';
import type { SignerKey } from '../core/allowed-signers.js';
import { runProgram } from './run-program.js';

/** Who could sign at a commit's parent: SSH keys (with the allowed signers text they make) and OpenPGP keys. */
export interface SignerSet {
  ssh: SignerKey[];
  allowedSigners: string;
  /** humans' pgp.asc, with the day their membership ended (departed), if it did */
  pgp: Array<{ handle: string; armored: string; until?: string }>;
}

const SSH_KEYGEN_TIMEOUT_MS = 20_000;
type OpenPgp = typeof import('openpgp');
type PgpKey = Awaited<ReturnType<OpenPgp['readKey']>>;

export class SignatureChecker {
  private dir?: string;
  private readonly signerFiles = new Map<string, Promise<string>>();
  private readonly pgpKeys = new Map<string, Promise<PgpKey | undefined>>();
  private counter = 0;
  private openpgp?: Promise<OpenPgp>;

  constructor(private readonly sshKeygen = 'ssh-keygen') {}

  private folder(): string {
    this.dir ??= mkdtempSync(path.join(tmpdir(), 'infra-verify-'));
    return this.dir;
  }

  /** One allowed signers file per distinct content: a thousand commits with the same signers share one. */
  private signersFile(text: string): Promise<string> {
    const id = createHash('sha256').update(text).digest('hex').slice(0, 32);
    let file = this.signerFiles.get(id);
    if (!file) {
      const target = path.join(this.folder(), `signers-${id}`);
      file = fs.writeFile(target, text, { mode: 0o600 }).then(() => target);
      this.signerFiles.set(id, file);
    }
    return file;
  }

  async check(signature: string | undefined, payload: Buffer, committedAt: number, signers: SignerSet): Promise<SignatureCheck> {
    if (signature === undefined) return { status: 'none' };
    const format = signatureFormat(signature);
    if (format === 'ssh') return this.checkSsh(signature, payload, committedAt, signers);
    if (format === 'openpgp') return this.checkPgp(signature, payload, committedAt, signers);
    return { status: 'bad', format, reason: 'a signature infra cannot read (neither SSH nor OpenPGP)' };
  }

  private async checkSsh(signature: string, payload: Buffer, committedAt: number, signers: SignerSet): Promise<SignatureCheck> {
    const parsed = parseSshSignature(signature);
    if ('malformed' in parsed) return { status: 'bad', format: 'ssh', reason: `malformed SSH signature (${parsed.malformed})` };
    const blob = parsed.publicKey.toString('base64');
    const fingerprint = fingerprintOf(parsed.publicKey);
    if (parsed.namespace !== 'git') return { status: 'bad', format: 'ssh', reason: `signed for namespace "${parsed.namespace.slice(0, 40)}", not "git"` };
    const candidates = signers.ssh.filter((k) => k.blob === blob);
    if (!candidates.length) return { status: 'bad', format: 'ssh', reason: `signed by ${fingerprint}, a key no member had registered at the commit's parent` };
    const day = new Date(committedAt * 1000).toISOString().slice(0, 10);
    const valid = candidates.find((k) => k.validAfter <= day && (k.validBefore === undefined || day < k.validBefore));
    if (!valid) {
      const k = candidates[0];
      return { status: 'bad', format: 'ssh', reason: `signed by ${k.handle}'s key ${fingerprint}, valid from ${k.validAfter}${k.validBefore ? ` until ${k.validBefore}` : ''}, but the commit is dated ${day}` };
    }
    const file = await this.signersFile(signers.allowedSigners);
    const sigFile = path.join(this.folder(), `sig-${++this.counter}`);
    await fs.writeFile(sigFile, signature, { mode: 0o600 });
    try {
      const r = await runProgram(this.sshKeygen, ['-Y', 'verify', '-f', file, '-I', valid.principal, '-n', 'git', '-s', sigFile, `-Overify-time=${sshTime(committedAt)}`], {
        input: payload,
        timeoutMs: SSH_KEYGEN_TIMEOUT_MS,
        installHint: 'install OpenSSH (`apt-get install openssh-client`): ssh-keygen verifies SSH signatures',
      });
      if (r.code === 0) return { status: 'good', handle: valid.handle, format: 'ssh', key: fingerprint };
      const why = r.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit code ${r.code}`;
      return { status: 'bad', format: 'ssh', reason: `ssh-keygen -Y verify refused ${valid.handle}'s key ${fingerprint}: ${why.slice(0, 200)}` };
    } finally {
      await fs.rm(sigFile, { force: true });
    }
  }

  private pgpKey(armored: string): Promise<PgpKey | undefined> {
    const id = createHash('sha256').update(armored).digest('hex');
    let key = this.pgpKeys.get(id);
    if (!key) {
      key = (this.openpgp ??= import('openpgp')).then((o) => o.readKey({ armoredKey: armored })).catch(() => undefined);
      this.pgpKeys.set(id, key);
    }
    return key;
  }

  private async checkPgp(signature: string, payload: Buffer, committedAt: number, signers: SignerSet): Promise<SignatureCheck> {
    const openpgp = await (this.openpgp ??= import('openpgp'));
    let sig;
    try {
      sig = await openpgp.readSignature({ armoredSignature: signature });
    } catch (e) {
      return { status: 'bad', format: 'openpgp', reason: `malformed OpenPGP signature (${(e as Error).message.split('\n')[0].slice(0, 120)})` };
    }
    const ids = sig.getSigningKeyIDs().map((k) => k.toHex());
    const day = new Date(committedAt * 1000).toISOString().slice(0, 10);
    for (const { handle, armored, until } of signers.pgp) {
      const key = await this.pgpKey(armored);
      if (!key || !ids.some((id) => key.getKeys().some((k) => k.getKeyID().toHex() === id))) continue;
      const fingerprint = key.getFingerprint().toUpperCase();
      if (until !== undefined && day >= until) return { status: 'bad', format: 'openpgp', reason: `signed by ${handle}'s OpenPGP key ${fingerprint}, but ${handle} departed on ${until}, before the commit's date ${day}` };
      try {
        // The key must be valid when the signature was made (its own creation time, as gpg judges it);
        // membership is judged at the commit date above.
        const made = (sig.packets[0] as { created?: Date | null } | undefined)?.created ?? new Date(committedAt * 1000);
        const r = await openpgp.verify({ message: await openpgp.createMessage({ binary: payload }), signature: sig, verificationKeys: [key], date: made, expectSigned: true, format: 'binary' });
        await r.signatures[0].verified;
        return { status: 'good', handle, format: 'openpgp', key: fingerprint };
      } catch (e) {
        return { status: 'bad', format: 'openpgp', reason: `${handle}'s OpenPGP key ${fingerprint} does not verify it: ${(e as Error).message.split('\n')[0].slice(0, 160)}` };
      }
    }
    return { status: 'bad', format: 'openpgp', reason: `signed by OpenPGP key ${ids.join(', ').toUpperCase() || '(no issuer)'}, which no member had in pgp.asc at the commit's parent` };
  }

  close(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.signerFiles.clear();
  }
}
