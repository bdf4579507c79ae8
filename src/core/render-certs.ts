/**
 * The certificate part of a host's generated file: `infra_ssh_certificates`, what the playbook installs
 * under /etc/ssh/infra/ for sshd (TrustedUserCAKeys, AuthorizedPrincipalsFile, RevokedKeys). Each piece is
 * checked against a strict pattern, as everything render writes (render.ts): a CA line is rebuilt from its
 * parsed key, a principal is a handle, the KRL is base64 (binary does not travel through YAML).
 */
import { ExitCode, InfraError } from '../lib/errors.js';
import { encodeKrl } from './krl.js';
import { revocations, trustedCas, type CaKey, type PrincipalInput } from './certs.js';
import { keyParser, type ParseKey } from './key-summary.js';
import type { InfraConfig, Member } from './types.js';

/** What every reached host of one render gets alike. */
export interface RenderedCertificates {
  /** `ssh-ed25519 BASE64 infra-user-ca`, current CA first. */
  caLines: string[];
  /** The KRL's bytes, base64. */
  krlBase64: string;
}

export interface HostCertificates extends RenderedCertificates {
  /** remote user -> principals (sorted by handle). */
  principals: Record<string, PrincipalInput[]>;
}

const CA_LINE_RE = /^ssh-ed25519 [A-Za-z0-9+/]+={0,2} infra-user-ca(?:-retired)?$/;
const HANDLE_RE = /^[a-z][a-z0-9-]{0,31}$/;
const USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
const RANGE_RE = /^[0-9A-Fa-f:.]+\/[0-9]{1,3}$/;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function refuse(what: string, value: string): never {
  throw new InfraError(ExitCode.invalid, `refusing to render ${what} ${JSON.stringify(value.slice(0, 80))}: it is not in the expected form`, {
    hint: 'run `infra check`; the CA keys are ca/*.pub',
  });
}

const checked = (re: RegExp, what: string, value: string) => (re.test(value) ? value : refuse(what, value));

/**
 * The CAs to trust and the KRL, from the registry, its CA keys and the clock (a retired CA is trusted
 * while a certificate it signed is unexpired). Undefined when the registry has no CA: no section at all.
 */
export function renderedCertificates(config: InfraConfig, members: readonly Member[], current: CaKey | undefined, retired: readonly CaKey[], nowSeconds: number, parseKey: ParseKey = keyParser()): RenderedCertificates | undefined {
  if (!current && retired.length === 0) return undefined;
  const cas = trustedCas(current, retired, members, nowSeconds);
  const { serials, keys } = revocations(config, members, parseKey);
  // Serials under every CA this file names, and the CAs it no longer names: a serial is one certificate registry-wide.
  const krl = encodeKrl({ caKeys: [...(current ? [current] : []), ...retired].map((c) => c.blob), serials, keys, comment: 'infra render' });
  return {
    caLines: cas.map((c) => `${c.line.split(' ').slice(0, 2).join(' ')} ${c === current ? 'infra-user-ca' : 'infra-user-ca-retired'}`),
    krlBase64: krl.toString('base64'),
  };
}

const quote = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** The section's lines (topKey pads the comment like the other sections). */
export function certificateSection(c: HostCertificates, vpnRanges: readonly string[], topKey: (text: string, comment: string) => string): string[] {
  const out = [topKey('infra_ssh_certificates:', 'user CAs, principals per remote user, KRL (base64): for sshd')];
  if (c.caLines.length === 0) out.push('  trusted_user_ca_keys: []');
  else out.push('  trusted_user_ca_keys:', ...c.caLines.map((l) => `    - ${quote(checked(CA_LINE_RE, 'CA key', l))}`));
  const users = Object.keys(c.principals).sort();
  if (users.length === 0) out.push('  principals: {}');
  else {
    out.push('  principals:');
    for (const user of users) {
      const lines = c.principals[user].map((p) => {
        const handle = checked(HANDLE_RE, 'principal', p.handle);
        if (!p.vpnOnly) return handle;
        if (vpnRanges.length === 0)
          throw new InfraError(ExitCode.invalid, `${handle} is granted vpn_only, but infra.yml has no VPN network with a range`, { hint: 'add a network under `vpn:` in infra.yml, or drop vpn_only from the grant' });
        return `from="${vpnRanges.map((r) => checked(RANGE_RE, 'VPN range', r)).join(',')}" ${handle}`;
      });
      const key = quote(checked(USER_RE, 'remote user', user)); // quoted: PyYAML reads a plain `no` or `on` as a boolean
      out.push(lines.length ? `    ${key}:` : `    ${key}: []`, ...lines.map((l) => `      - ${quote(l)}`));
    }
  }
  out.push(`  revoked_keys_krl: ${quote(checked(BASE64_RE, 'KRL', c.krlBase64))}`);
  return out;
}
