/**
 * authorized_keys options exactly as sshd's sshauthopt_parse (OpenSSH 9.x auth-options.c) reads them:
 * names matched without regard to case and as prefixes (opt_flag/opt_match), values in double quotes
 * where `\\"` is a quote, options separated by commas, an empty option between two commas passed over,
 * the options ending at the first blank outside quotes. What sshd refuses here makes it skip the whole
 * line; what it checks only when a client connects (from=, principals=) is `loginProblems`.
 * Pure.
 */
import { isIpAddress, parseCidr } from './ip-alloc.js';
import { Refusal, excerpt } from './ssh-key-blob.js';

export interface KeyOption {
  name: string; // lower-case, as sshd matches it (a negated flag keeps its no-)
  value?: string; // unquoted, unescaped
}

/** opt_flag names in sshd's order, and whether a `no-` prefix negates them. */
const FLAGS: ReadonlyArray<readonly [string, boolean]> = [
  ['restrict', false],
  ['cert-authority', false],
  ['port-forwarding', true],
  ['agent-forwarding', true],
  ['x11-forwarding', true],
  ['touch-required', true],
  ['verify-required', true],
  ['pty', true],
  ['user-rc', true],
];
/** opt_match names: `name=` then a quoted value. */
const VALUED = ['command', 'principals', 'from', 'expiry-time', 'environment', 'permitopen', 'permitlisten', 'tunnel'] as const;
/** sshd refuses a second clause of these ("multiple \"command\" clauses"). */
const SINGLE_OPTIONS = new Set(['command', 'from', 'principals']);
/** auth-options.h: SSH_AUTHOPT_ENV_MAX, SSH_AUTHOPT_PERMIT_MAX. */
const ENV_MAX = 1024;
const PERMIT_MAX = 4096;
/** ssh.h: SSH_TUNID_MAX. */
const TUNID_MAX = 0x7fffffff - 2;
const NI_MAXHOST = 1025;

const isBlank = (c: string | undefined) => c === ' ' || c === '\t';

/** strncasecmp(s + at, word, len) == 0 in the C locale: only ASCII letters fold. */
function startsWithNoCase(s: string, at: number, word: string): boolean {
  if (s.length - at < word.length) return false;
  for (let k = 0; k < word.length; k++) {
    let c = s.charCodeAt(at + k);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== word.charCodeAt(k)) return false;
  }
  return true;
}

const HINT_OPTIONS = 'fix or remove the option: sshd ignores the whole line when one option is wrong (see "AUTHORIZED_KEYS FILE FORMAT" in `man sshd`)';

/** OpenBSD strtonum(s, min, max) in base 10: optional leading white space and sign, then digits only. */
function strtonum(s: string, min: number, max: number): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)0*(\d+)$/.exec(s);
  if (!m || m[2].length > 15) return undefined;
  const v = Number(m[2]) * (m[1] === '-' ? -1 : 1);
  return v < min || v > max ? undefined : v;
}

/** misc.c a2port, without service names (which depend on the host's /etc/services): a port 1-65535. */
function validPort(s: string): boolean {
  return (strtonum(s, 0, 65535) ?? 0) > 0;
}

/** misc.c parse_absolute_time: YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, optionally ending in Z or UTC. */
function validExpiryTime(value: string): boolean {
  let s = value;
  if (s.length > 1 && /z$/i.test(s)) s = s.slice(0, -1);
  else if (s.length > 3 && /utc$/i.test(s)) s = s.slice(0, -3);
  if (!/^\d+$/.test(s) || (s.length !== 8 && s.length !== 12 && s.length !== 14)) return false;
  const n = (from: number) => Number(s.slice(from, from + 2));
  const year = Number(s.slice(0, 4));
  // strptime's ranges (the day is not checked against the month: sshd accepts 20300231 as 3 March),
  // and a time before 1970 is refused (mktime < 0, or 0 which means "no expiry").
  return year >= 1970 && n(4) >= 1 && n(4) <= 12 && n(6) >= 1 && n(6) <= 31 && (s.length < 12 || (n(8) <= 23 && n(10) <= 59)) && (s.length < 14 || n(12) <= 60) && s !== '19700101';
}

/** auth-options.c handle_permit with misc.c hpdelim2: `host:port` (host may be [bracketed]), port a number or *. */
function permitProblem(value: string, allowBarePort: boolean): string | undefined {
  const opt = allowBarePort && !value.includes(':') ? `*:${value}` : value;
  let delim: number;
  if (opt.startsWith('[')) {
    const close = opt.indexOf(']');
    if (close < 0) return 'has an unclosed [ around the host';
    delim = close + 1;
  } else {
    const colon = opt.indexOf(':');
    const slash = opt.indexOf('/');
    delim = colon < 0 ? slash : slash < 0 ? colon : Math.min(colon, slash);
    if (delim < 0) delim = opt.length;
  }
  if (delim < opt.length && opt[delim] !== ':' && opt[delim] !== '/') return 'must be host:port (something follows the ] of the host)';
  if (delim >= NI_MAXHOST) return 'has a host name that is too long';
  if (delim === opt.length) return allowBarePort ? 'must be [host:]port' : 'must be host:port (the port is missing)';
  const port = opt.slice(delim + 1);
  if (port !== '*' && !validPort(port)) return 'must end in a port number (1-65535) or * (infra does not resolve service names)';
  return undefined;
}

/** What is wrong with one option's value, as sshauthopt_parse would refuse it; undefined when sshd accepts it. */
function optionValueProblem(name: string, value: string, seen: { env: Set<string>; permitopen: number; permitlisten: number }): string | undefined {
  switch (name) {
    case 'tunnel':
      return value.toLowerCase() === 'any' || strtonum(value, 0, TUNID_MAX) !== undefined ? undefined : `must be a tun device number (0-${TUNID_MAX}) or "any"`;
    case 'expiry-time':
      return validExpiryTime(value) ? undefined : 'must be a time YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS (optionally ending in Z or UTC), from 1970 on';
    case 'environment': {
      if (seen.env.size > ENV_MAX) return `more than ${ENV_MAX} environment options`;
      const eq = value.indexOf('=');
      if (eq < 0) return 'must be NAME=value';
      const envName = value.slice(0, eq);
      if (!/^[A-Za-z0-9_]+$/.test(envName)) return 'must be NAME=value with a NAME of letters, digits and _';
      seen.env.add(envName);
      return undefined;
    }
    case 'permitopen':
    case 'permitlisten': {
      if (seen[name] > PERMIT_MAX) return `more than ${PERMIT_MAX} ${name} options`;
      seen[name]++;
      return permitProblem(value, name === 'permitlisten');
    }
    default:
      return undefined; // command, principals: any text
  }
}

/**
 * from= is matched when a client connects (addrmatch.c addr_match_list); sshd then denies the key to
 * everyone when an entry is empty or is an address/prefix that is not a network. Refused here, so that
 * a reviewed line never silently locks its owner out.
 */
export function fromProblem(value: string): string | undefined {
  for (const raw of value.split(',')) {
    const entry = raw.startsWith('!') ? raw.slice(1) : raw;
    if (entry === '') return 'has an empty entry (sshd then refuses the key from every address)';
    const slash = entry.indexOf('/');
    if (slash < 0 || entry.length >= 64) continue;
    const address = entry.slice(0, slash);
    const prefix = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > 128 || !isIpAddress(address)) continue; // sshd matches it as a host name pattern
    try {
      parseCidr(entry);
    } catch {
      return `has ${excerpt(entry, 48)}, which is not a network (prefix too long, or host bits set): sshd then refuses the key from every address`;
    }
  }
  return undefined;
}

/** What follows `at` up to the next comma, `=` or blank, for a message. */
function wordAt(s: string, at: number): string {
  let end = at;
  while (end < s.length && end - at < 40 && s[end] !== ',' && s[end] !== '=' && !isBlank(s[end])) end++;
  return s.slice(at, end);
}

/** sshd's "unknown key option": why, in the words a user needs. */
function unknownOption(s: string, i: number, after: KeyOption | undefined): Refusal {
  const hint = 'see "AUTHORIZED_KEYS FILE FORMAT" in `man sshd` for the options sshd knows';
  if (after && s[i] === '=' && after.value === undefined) return new Refusal(`option ${after.name} takes no value (sshd skips the whole line)`, `write it as just \`${after.name}\``);
  if (after) return new Refusal(`options must be separated by commas, found ${excerpt(s.slice(i, i + 8))} after ${after.name} (sshd skips the whole line)`, 'separate options with "," and no blanks outside quotes');
  const word = wordAt(s, i);
  const valued = VALUED.find((name) => name === word.toLowerCase());
  if (valued) return new Refusal(`option ${valued} needs a value, e.g. ${valued}="..." (sshd skips the whole line)`, 'give the option its value in double quotes');
  return new Refusal(`unsupported option ${excerpt(word)} (sshd skips the whole line)`, hint);
}

/**
 * Parses the options that start at `start` of line `s` (the whole line: a quoted value may hold blanks)
 * as sshauthopt_parse does; a Refusal says why sshd skips the line.
 */
export function parseKeyOptions(s: string, start: number): { options: KeyOption[]; texts: string[] } | Refusal {
  const options: KeyOption[] = [];
  const texts: string[] = [];
  const once = new Set<string>();
  const seen = { env: new Set<string>(), permitopen: 0, permitlisten: 0 };
  let i = start;
  while (i < s.length && !isBlank(s[i])) {
    const optionStart = i;
    let option: KeyOption | undefined;
    for (const [flag, negatable] of FLAGS) {
      let j = i;
      const negated = negatable && startsWithNoCase(s, j, 'no-');
      if (negated) j += 3;
      if (startsWithNoCase(s, j, flag)) {
        option = { name: negated ? `no-${flag}` : flag };
        i = j + flag.length;
        break;
      }
    }
    if (!option)
      for (const name of VALUED) {
        if (!startsWithNoCase(s, i, name) || s[i + name.length] !== '=') continue;
        i += name.length + 1;
        if (s[i] !== '"') return new Refusal(`option ${name} needs its value in double quotes, e.g. ${name}="..." (sshd skips the line)`, HINT_OPTIONS);
        i++;
        let value = '';
        let from = i;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && s[i + 1] === '"') {
            value += s.slice(from, i);
            from = ++i; // the quote itself is kept
          }
          i++;
        }
        if (i >= s.length) return new Refusal(`option ${name} has no closing quote (sshd skips the line)`, 'close the quoted value');
        value += s.slice(from, i);
        i++;
        if (SINGLE_OPTIONS.has(name)) {
          if (once.has(name)) return new Refusal(`option ${name} is given twice (sshd refuses multiple "${name}" clauses and skips the line)`, `keep one ${name}="..."`);
          once.add(name);
        }
        const problem = optionValueProblem(name, value, seen);
        if (problem) return new Refusal(`option ${name}=${excerpt(value)} ${problem} (sshd skips the line)`, HINT_OPTIONS);
        option = { name, value };
        break;
      }
    if (option) {
      options.push(option);
      texts.push(s.slice(optionStart, i));
    }
    if (i >= s.length || isBlank(s[i])) break;
    if (s[i] !== ',') return unknownOption(s, i, option);
    i++;
    if (i >= s.length) return new Refusal('the options end with a comma and nothing after them (sshd skips the line)', 'remove the trailing comma');
  }
  return { options, texts };
}

/**
 * Why sshd, having matched the key, still refuses every login with it whatever the client does
 * (auth_authorise_keyopts): checked when a client connects, so these lines are keys, but they grant nothing.
 */
export function loginProblems(options: readonly KeyOption[]): string[] {
  const out: string[] = [];
  const certAuthority = options.some((o) => o.name === 'cert-authority');
  for (const o of options) {
    if (o.name === 'principals' && !certAuthority) out.push('principals= without cert-authority: sshd refuses the key');
    if (o.name === 'from' && o.value !== undefined) {
      const problem = fromProblem(o.value);
      if (problem) out.push(`from=${excerpt(o.value)} ${problem}`);
    }
  }
  return out;
}
