/**
 * The pieces of a generated file, each checked against a strict pattern before it is written
 * (docs/reference.md, "Render"): authorized_keys lines with only the options infra adds, revoked lines,
 * WireGuard peer entries, and single-quoted YAML scalars that nothing can break out of.
 */
import { ExitCode, InfraError } from '../lib/errors.js';
import { tryCanonicalCidr } from './ip-alloc.js';
import type { ServerPeer } from './wireguard.js';

export interface AuthorizedKeyInput {
  type: string; // e.g. ssh-ed25519
  base64: string;
  comment: string; // handle/keyname
  vpnOnly: boolean;
  expires?: string; // YYYY-MM-DD
}

export interface RevokedKeyInput {
  type: string;
  base64: string;
  comment: string;
}

export const KEY_TYPE_RE = /^[a-z][a-z0-9.@-]*$/;
export const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
export const COMMENT_RE = /^[a-z][a-z0-9-]{0,31}\/[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const RANGE_RE = /^[0-9A-Fa-f:.]+\/[0-9]{1,3}$/;
const DATE_RE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const PLAIN_KEY_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
/** A Unix user name as useradd takes it (docs/reference.md, "Render"): every remote user written, fresh or read back. */
export const REMOTE_USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
/** What Jinja2 reads as the start of a template, statement or comment: never in a file Ansible templates. */
// validate.ts allows lowercase names of at most 15 characters; render only insists on a plain YAML key with no template mark.
export const NETWORK_NAME_RE = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
export const TEMPLATE_MARK_RE = /\{[{%#]/;
// YAML 1.1 (PyYAML, what Ansible reads with) turns these plain scalars into booleans or null.
const YAML11_SPECIAL = /^(?:y|yes|n|no|true|false|on|off|null|~)$/i;

export function refuse(what: string, value: string): never {
  throw new InfraError(ExitCode.invalid, `refusing to render ${what} ${JSON.stringify(value.slice(0, 80))}: it is not in the expected form`, {
    hint: 'run `infra check` to find the entry in the registry that holds it',
  });
}

/** Key data already checked: the same key is written to many hosts, and testing 500 characters of RSA base64 each time adds up. */
const checkedBase64 = new Set<string>();

export function checked(re: RegExp, what: string, value: string): string {
  if (re === BASE64_RE) {
    if (checkedBase64.has(value)) return value;
    if (checkedBase64.size > 1_000_000) checkedBase64.clear();
  }
  if (!re.test(value)) refuse(what, value);
  if (re === BASE64_RE) checkedBase64.add(value);
  return value;
}

/** A single-quoted YAML scalar: ' is doubled, and nothing that could break the line gets in. */
export function quoteYaml(value: string): string {
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value)) refuse('a value with a control character or line break', value);
  return `'${value.replace(/'/g, "''")}'`;
}

export function yamlKey(name: string): string {
  return PLAIN_KEY_RE.test(name) && !YAML11_SPECIAL.test(name) ? name : quoteYaml(name);
}

/** Lines already made for an input object (planRender asks for each line twice: to compare, to write). */
const linesMade = new WeakMap<AuthorizedKeyInput, { ranges: readonly string[]; line: string }>();

/** `from="<ranges>",expiry-time="YYYYMMDD" type base64 handle/key`, with only the options infra adds. */
export function authorizedLine(k: AuthorizedKeyInput, vpnRanges: readonly string[]): string {
  const made = linesMade.get(k);
  if (made && made.ranges === vpnRanges) return made.line;
  const line = makeAuthorizedLine(k, vpnRanges);
  linesMade.set(k, { ranges: vpnRanges, line });
  return line;
}

function makeAuthorizedLine(k: AuthorizedKeyInput, vpnRanges: readonly string[]): string {
  const options: string[] = [];
  if (k.vpnOnly) {
    if (vpnRanges.length === 0)
      throw new InfraError(ExitCode.invalid, `${k.comment} is granted vpn_only, but infra.yml has no VPN network with a range`, {
        hint: 'add a network under `vpn:` in infra.yml, or drop vpn_only from the grant',
      });
    options.push(`from="${vpnRanges.map((r) => checked(RANGE_RE, 'VPN range', r)).join(',')}"`);
  }
  if (k.expires !== undefined) {
    const m = DATE_RE.exec(k.expires);
    if (!m) refuse('expiry date', k.expires);
    options.push(`expiry-time="${m[1]}${m[2]}${m[3]}"`);
  }
  const body = `${checked(KEY_TYPE_RE, 'key type', k.type)} ${checked(BASE64_RE, 'key data', k.base64)} ${checked(COMMENT_RE, 'key comment', k.comment)}`;
  return options.length ? `${options.join(',')} ${body}` : body;
}

/** A revoked key is the bare `type base64 handle/key`: what `state: absent` matches on. */
export function revokedLine(k: RevokedKeyInput): string {
  return `${checked(KEY_TYPE_RE, 'key type', k.type)} ${checked(BASE64_RE, 'key data', k.base64)} ${checked(COMMENT_RE, 'key comment', k.comment)}`;
}

export function flowScalar(value: string, plainRe: RegExp): string {
  return plainRe.test(value) && !YAML11_SPECIAL.test(value) ? value : quoteYaml(value);
}

export function peerLine(p: ServerPeer): string {
  const name = flowScalar(p.name, COMMENT_RE);
  const key = quoteYaml(checked(BASE64_RE, 'WireGuard public key', p.public_key));
  // canonical text: the server's peer list never shows one address in two spellings
  const ips = p.allowed_ips.map((a) => flowScalar(checked(RANGE_RE, 'peer address', tryCanonicalCidr(a) ?? refuse('peer address', a)), /^[0-9./]+$/));
  return `{name: ${name}, public_key: ${key}, allowed_ips: [${ips.join(', ')}]}`;
}
