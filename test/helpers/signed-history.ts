/**
 * Registries with signed git histories, made by the real programs: `git commit -S` with gpg.format=ssh
 * (ssh-keygen signs with ed25519, ECDSA and RSA keys) or openpgp (gpg, a private GNUPGHOME, no passphrase).
 * A security key (sk-ssh-ed25519@openssh.com) is signed for without hardware: git's gpg.ssh.program is a
 * small script that makes the signature an authenticator would (OpenSSH PROTOCOL.u2f and PROTOCOL.sshsig)
 * from the key's private half; `ssh-keygen -Y verify` checks it as it would a real one.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mustRun, runSync, type ProgramResult } from './program.js';

export interface Signer {
  handle: string;
  email: string;
  format: 'ssh' | 'openpgp';
  /** user.signingkey */
  signingKey: string;
  /** `type base64 comment` (SSH), or the armored public key (OpenPGP) */
  publicKey: string;
  /** git -c options that sign as this signer */
  gitConfig: string[];
  gnupgHome?: string;
}

export const KEY_ADDED = '2026-03-01';

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `infra-verify-test-${prefix}-`));
}

export function sshSigner(dir: string, handle: string, type: 'ed25519' | 'ecdsa' | 'rsa'): Signer {
  const file = path.join(dir, `${handle}-${type}`);
  mustRun('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '3072'] : type === 'ecdsa' ? ['-b', '256'] : []), '-N', '', '-C', `${handle}@laptop`, '-f', file]);
  return { handle, email: `${handle}@coop.example`, format: 'ssh', signingKey: file, publicKey: readFileSync(`${file}.pub`, 'utf8').trim(), gitConfig: ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${file}`] };
}

const sshString = (b: Buffer | string) => {
  const v = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(v.length);
  return Buffer.concat([len, v]);
};

/** Signs like a FIDO authenticator holding an sk-ssh-ed25519 key: git runs this as `gpg.ssh.program -Y sign -n git -f KEY FILE`. */
const SK_SIGNER_SCRIPT = `
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
const args = process.argv.slice(2);
const at = (f) => args[args.indexOf(f) + 1];
if (args[0] !== '-Y' || args[1] !== 'sign') { console.error('sk test signer: only -Y sign'); process.exit(2); }
const key = JSON.parse(readFileSync(at('-f'), 'utf8'));
const file = args[args.length - 1];
const str = (b) => { const v = typeof b === 'string' ? Buffer.from(b) : b; const l = Buffer.alloc(4); l.writeUInt32BE(v.length); return Buffer.concat([l, v]); };
const sha = (b) => createHash('sha256').update(b).digest();
const ns = at('-n');
const signed = Buffer.concat([Buffer.from('SSHSIG'), str(ns), str(''), str('sha512'), str(createHash('sha512').update(readFileSync(file)).digest())]);
const flags = Buffer.from([1]); // user present
const counter = Buffer.alloc(4); counter.writeUInt32BE(7);
const raw = sign(null, Buffer.concat([sha(key.application), flags, counter, sha(signed)]), createPrivateKey({ key: Buffer.from(key.pkcs8, 'base64'), format: 'der', type: 'pkcs8' }));
const pub = Buffer.from(key.blob, 'base64');
const sig = Buffer.concat([str('sk-ssh-ed25519@openssh.com'), str(raw), flags, counter]);
const blob = Buffer.concat([Buffer.from('SSHSIG'), Buffer.from([0, 0, 0, 1]), str(pub), str(ns), str(''), str('sha512'), str(sig)]);
const b64 = blob.toString('base64').match(/.{1,70}/g).join('\\n');
writeFileSync(file + '.sig', '-----BEGIN SSH SIGNATURE-----\\n' + b64 + '\\n-----END SSH SIGNATURE-----\\n');
`;

export function skSigner(dir: string, handle: string): Signer {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const application = 'ssh:';
  const blob = Buffer.concat([sshString('sk-ssh-ed25519@openssh.com'), sshString(raw), sshString(application)]);
  const keyFile = path.join(dir, `${handle}-sk.json`);
  writeFileSync(keyFile, JSON.stringify({ application, blob: blob.toString('base64'), pkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64') }));
  const script = path.join(dir, 'sk-signer.mjs');
  writeFileSync(script, SK_SIGNER_SCRIPT);
  const program = path.join(dir, 'sk-signer');
  writeFileSync(program, `#!/bin/sh\nexec "${process.execPath}" "${script}" "$@"\n`);
  chmodSync(program, 0o755);
  return {
    handle,
    email: `${handle}@coop.example`,
    format: 'ssh',
    signingKey: keyFile,
    publicKey: `sk-ssh-ed25519@openssh.com ${blob.toString('base64')} ${handle}@token`,
    gitConfig: ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${keyFile}`, '-c', `gpg.ssh.program=${program}`],
  };
}

export function pgpSigner(dir: string, handle: string): Signer {
  const home = path.join(dir, `gnupg-${handle}`);
  mkdirSync(home, { mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: home };
  const uid = `${handle} <${handle}@coop.example>`;
  mustRun('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never'], { env });
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(mustRun('gpg', ['--batch', '--with-colons', '--list-secret-keys', uid], { env }))![1];
  mustRun('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-add-key', fpr, 'cv25519', 'encr', 'never'], { env });
  const publicKey = mustRun('gpg', ['--batch', '--armor', '--export', fpr], { env });
  return { handle, email: `${handle}@coop.example`, format: 'openpgp', signingKey: fpr, publicKey, gnupgHome: home, gitConfig: ['-c', 'gpg.format=openpgp', '-c', `user.signingkey=${fpr}`] };
}

export interface MemberSpec {
  name?: string;
  email?: string;
  kind?: 'human' | 'bot';
  status?: 'active' | 'departed';
  departed?: string;
  groups?: string[];
  keys?: Array<{ name: string; key: string; added?: string; expires?: string }>;
}

export function memberYaml(handle: string, spec: MemberSpec): string {
  const lines = [
    `name: ${spec.name ?? handle.toUpperCase()}`,
    `kind: ${spec.kind ?? 'human'}`,
    'org: coop',
    `email: ${spec.email ?? `${handle}@coop.example`}`,
    `status: ${spec.status ?? 'active'}`,
    ...(spec.departed ? [`departed: ${spec.departed}`] : []),
    `groups: [${(spec.groups ?? ['ops']).join(', ')}]`,
  ];
  const keys = spec.keys ?? [];
  if (keys.length) {
    lines.push('ssh_keys:');
    for (const k of keys) lines.push(`  - name: ${k.name}`, `    key: ${k.key}`, `    added: ${k.added ?? KEY_ADDED}`, ...(k.expires ? [`    expires: ${k.expires}`] : []));
  } else lines.push('ssh_keys: []');
  return `${lines.join('\n')}\n`;
}

export function configYaml(admins: string[], extra = ''): string {
  return `org: Test Co-op
admins: [${admins.join(', ')}]
environments:
  production: inventories/production
access:
  - groups: [ops]
    hosts: all
    user: sysadmin
vpn: {}
${extra}`;
}

/** A git repository holding a registry; every commit made by `git commit`, signed as asked. */
export class SignedRepo {
  constructor(readonly dir: string) {}

  static create(dir: string): SignedRepo {
    mkdirSync(dir, { recursive: true });
    const repo = new SignedRepo(dir);
    repo.git(['init', '-q', '-b', 'main']);
    repo.git(['config', 'user.name', 'Test Committer']);
    repo.git(['config', 'user.email', 'committer@coop.example']);
    repo.git(['config', 'commit.gpgsign', 'false']);
    mkdirSync(path.join(dir, 'inventories/production'), { recursive: true });
    writeFileSync(path.join(dir, 'inventories/production/hosts.yml'), 'all:\n  hosts:\n    web1: {}\n');
    return repo;
  }

  git(args: string[], env: NodeJS.ProcessEnv = {}): string {
    return mustRun('git', ['-C', this.dir, ...args], { env: { ...process.env, ...env } }).trim();
  }

  tryGit(args: string[], env: NodeJS.ProcessEnv = {}): ProgramResult {
    return runSync('git', ['-C', this.dir, ...args], { env: { ...process.env, ...env } });
  }

  write(rel: string, text: string): this {
    mkdirSync(path.dirname(path.join(this.dir, rel)), { recursive: true });
    writeFileSync(path.join(this.dir, rel), text);
    return this;
  }

  remove(rel: string): this {
    rmSync(path.join(this.dir, rel), { recursive: true, force: true });
    return this;
  }

  /** Stages everything and commits, signed by `signer` (unsigned without one), dated `date` (committer and author). */
  commit(message: string, signer?: Signer, date = '2026-05-01T12:00:00Z', extra: string[] = []): string {
    this.git(['add', '-A']);
    const env = { GIT_COMMITTER_DATE: date, GIT_AUTHOR_DATE: date, ...(signer?.gnupgHome ? { GNUPGHOME: signer.gnupgHome } : {}) };
    const who = signer ? ['-c', `user.name=${signer.handle}`, '-c', `user.email=${signer.email}`] : [];
    mustRun('git', ['-C', this.dir, ...who, ...(signer?.gitConfig ?? []), 'commit', '-q', '--allow-empty', ...(signer ? ['-S'] : ['--no-gpg-sign']), '-m', message, ...extra], { env: { ...process.env, ...env } });
    return this.git(['rev-parse', 'HEAD']);
  }

  head(): string {
    return this.git(['rev-parse', 'HEAD']);
  }
}

/** `git verify-commit` with `allowedSigners` as the allowed signers file (SSH) or `pgpKeys` imported into a fresh GNUPGHOME. */
export function gitVerifyCommit(repo: SignedRepo, commit: string, allowedSigners: string, pgpKeys: string[] = []): boolean {
  const dir = tempDir('git-verify');
  try {
    const file = path.join(dir, 'allowed_signers');
    writeFileSync(file, allowedSigners);
    const home = path.join(dir, 'gnupg');
    mkdirSync(home, { mode: 0o700 });
    const env = { ...process.env, GNUPGHOME: home };
    for (const k of pgpKeys) mustRun('gpg', ['--batch', '--import'], { input: k, env });
    // the keys are trusted by being in the registry: tell gpg so, as infra does
    if (pgpKeys.length) {
      const fprs = [...mustRun('gpg', ['--batch', '--with-colons', '--list-keys'], { env }).matchAll(/^fpr:+([0-9A-F]{40}):/gm)].map((m) => m[1]);
      mustRun('gpg', ['--batch', '--import-ownertrust'], { input: fprs.map((f) => `${f}:6:\n`).join(''), env });
    }
    return runSync('git', ['-C', repo.dir, '-c', `gpg.ssh.allowedSignersFile=${file}`, 'verify-commit', commit], { env }).code === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
