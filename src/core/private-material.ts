/**
 * Private keys lying in the registry tree (finding `private-key-in-registry`, docs/reference.md "infra audit"):
 * a registry is reviewed in pull requests and cloned by every member, so a private key there is as good as
 * published. Judged on a file's text alone: OpenSSH, PEM, PuTTY and OpenPGP private-key armor, a wg-quick
 * `PrivateKey =` line with a key, and a `*.key` file that is nothing but a WireGuard key (`wg genkey > x.key`).
 *
 * The armor lines are built, not written out, so a secret scanner reading this source does not take it for a key.
 */
import type { Problem } from '../lib/errors.js';
import { shellQuote } from '../lib/shell-quote.js';
import type { Finding } from './vpn-plan.js';
import { isWgKey } from './wireguard.js';

export const PRIVATE_KEY_CODE = 'private-key-in-registry';

export type PrivateMaterialKind = 'openssh' | 'pem' | 'putty' | 'openpgp' | 'wg-quick' | 'wg-key';

export interface PrivateMaterial {
  /** Path relative to the registry root, with `/`. */
  file: string;
  /** 1-based line where it starts. */
  line: number;
  kind: PrivateMaterialKind;
}

const PRIVATE = ['PRI', 'VATE'].join('');
const DASHES = '-'.repeat(5);
/** The armor header of an OpenSSH, PKCS#1/#8 or encrypted PEM private key: BEGIN, optional words, then the key words, between five dashes. */
const PEM_RE = new RegExp(`^\\s*${DASHES}BEGIN ((?:[A-Z0-9]+ )*)${PRIVATE} KEY${DASHES}`);
const PGP_RE = new RegExp(`^\\s*${DASHES}BEGIN PGP ${PRIVATE} KEY BLOCK${DASHES}`);
const PUTTY_RE = /^PuTTY-User-Key-File-\d+:/;
/** wg-quick (like wg) reads keys case-insensitively; only a line with a key counts, not a template's `{{ var }}`. */
const WG_QUICK_RE = /^\s*PrivateKey\s*=\s*([A-Za-z0-9+/]{43}=)\s*(?:#.*)?$/i;

const WHAT: Record<PrivateMaterialKind, string> = {
  openssh: 'an OpenSSH private key',
  pem: 'a PEM private key',
  putty: 'a PuTTY private key',
  openpgp: 'an OpenPGP private key',
  'wg-quick': 'a wg-quick config with its PrivateKey',
  'wg-key': 'a WireGuard private key',
};

/** How to replace each kind once it has been out: the key may be in git history or a fork already. */
const ROTATE: Record<PrivateMaterialKind, string> = {
  openssh: 'make a new key (ssh-keygen -t ed25519), then infra keys add HANDLE NEW.pub and infra keys remove HANDLE OLD-KEY',
  pem: 'replace the key wherever it is used; for an SSH key: ssh-keygen -t ed25519, infra keys add HANDLE NEW.pub, infra keys remove HANDLE OLD-KEY',
  putty: 'make a new key (puttygen or ssh-keygen -t ed25519), then infra keys add HANDLE NEW.pub and infra keys remove HANDLE OLD-KEY',
  openpgp: 'make a new OpenPGP key, then infra members edit HANDLE --pgp NEW.asc and infra tokens reencrypt --key NEW-SECRET.asc',
  'wg-quick': 'give the device a new key pair: infra vpn rekey HANDLE --device DEVICE',
  'wg-key': 'give the device a new key pair: infra vpn rekey HANDLE --device DEVICE',
};

/** The first private key in a file's text, or undefined. `file` is the path relative to the registry root. */
export function privateMaterialIn(file: string, text: string): PrivateMaterial | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    const pem = PEM_RE.exec(l);
    if (pem) return { file, line: i + 1, kind: pem[1] === 'OPENSSH ' ? 'openssh' : 'pem' };
    if (PGP_RE.test(l)) return { file, line: i + 1, kind: 'openpgp' };
    if (PUTTY_RE.test(l) && /^Private-Lines:/m.test(text)) return { file, line: i + 1, kind: 'putty' };
    const wg = WG_QUICK_RE.exec(l);
    if (wg && isWgKey(wg[1])) return { file, line: i + 1, kind: 'wg-quick' };
  }
  // `wg genkey > router.key`: the whole file is one key. A public key looks the same, but named .key it is taken for private.
  if (/\.key$/i.test(file) && isWgKey(text.trim())) return { file, line: 1, kind: 'wg-key' };
  return undefined;
}

/** The exact commands: untrack it, move it out of the tree (never over another file), then replace the key. */
export function privateKeyFix(m: PrivateMaterial): string {
  const q = shellQuote(m.file);
  return `git rm -q --cached --ignore-unmatch -- ${q}; mkdir -p ~/infra-private && mv -n -- ${q} ~/infra-private/; then ${ROTATE[m.kind]}`;
}

export function privateKeyFindings(found: readonly PrivateMaterial[]): Finding[] {
  return found.map((m) => ({
    code: PRIVATE_KEY_CODE,
    severity: 'high',
    subject: m.file,
    detail: `${m.file}:${m.line} holds ${WHAT[m.kind]}: anyone who can read the registry (every clone, every fork, its git history) can use it`,
    fix: privateKeyFix(m),
  }));
}

/** The same for `infra check`: one problem per file, naming the line. */
export function privateKeyProblems(found: readonly PrivateMaterial[]): Problem[] {
  return found.map((m) => ({ file: m.file, line: m.line, field: '(private key)', message: `${WHAT[m.kind]} in the registry (${PRIVATE_KEY_CODE}): ${privateKeyFix(m)}` }));
}
