/**
 * authorized_keys option values checked as sshd's auth-options.c (sshauthopt_parse)
 * does. The first table is OpenSSH's own (regress/unittests/authopt/tests.c, extracted verbatim into
 * peer-data/openssh/authopt-options.tsv with sshd's verdict); the second adds the cases the issue names
 * and the edges of each value's grammar, each verdict taken from the auth-options.c / misc.c code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyParseError, checkAuthorizedKeys, parseAuthorizedKeyLine } from '../../src/core/ssh-key.js';
import { DEFAULT_POLICY } from '../../src/core/types.js';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlCsqvRBr+srjv79hbGTcCIGVkPj2PEqDevM3LWOH/j alice laptop';

function verdict(options: string): { ok: true; options: string[] } | { ok: false; message: string } {
  try {
    return { ok: true, options: parseAuthorizedKeyLine(`${options} ${ED25519}`).options };
  } catch (e) {
    if (e instanceof KeyParseError) return { ok: false, message: e.message };
    throw e;
  }
}

const PEER_DATA = process.env.INFRA_PEER_DATA ?? '/work/shared/peer-data';
const TSV = join(PEER_DATA, 'openssh', 'authopt-options.tsv');
const haveTsv = existsSync(TSV);
if (!haveTsv) console.warn(`skipping OpenSSH's option table: ${TSV} not found (set INFRA_PEER_DATA)`);

const upstream: Array<[string, string, string]> = haveTsv
  ? readFileSync(TSV, 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => {
        const [sshd, options, where, test] = l.split('\t');
        return [sshd, options, `tests.c:${where} ${test}`];
      })
  : [['valid', 'restrict', 'placeholder']];

(haveTsv ? describe : describe.skip)("OpenSSH's own option tests (authopt-options.tsv)", () => {
  it('has the whole table: 43 valid, 15 invalid', () => {
    expect(upstream.filter(([v]) => v === 'valid')).toHaveLength(43);
    expect(upstream.filter(([v]) => v === 'invalid')).toHaveLength(15);
  });

  /**
   * The unit tests pass the options alone, so a trailing comma meets the end of the string ("unexpected
   * end-of-options"); in a file a blank and the key follow it, and sshd accepts the line (shown against a
   * real sshd in test/real/authorized-keys-sshd.test.ts). Those two are valid in a file.
   */
  const inFile = (options: string, sshd: string) => (options === 'restrict,' || options === ',' ? 'valid' : sshd);

  it.each(upstream)('sshd says %s: %j (%s)', (sshd, options) => {
    const got = verdict(options);
    expect(got.ok).toBe(inFile(options, sshd) === 'valid');
  });

  it('keys check reports every line sshd ignores: an error, never ok', () => {
    const invalid = upstream.filter(([v, o]) => inFile(o, v) === 'invalid').map(([, o]) => o);
    const report = checkAuthorizedKeys(invalid.map((o) => `${o} ${ED25519}`).join('\n'), DEFAULT_POLICY.ssh);
    expect(report.keys.filter((k) => k.ok)).toEqual([]);
    expect(report.errors.length + report.keys.length).toBe(invalid.length);
  });
});

describe('option values as sshd reads them', () => {
  it.each<[string, string, RegExp | null]>([
    // the cases of the issue
    ['tunnel not a number', 'tunnel="blah"', /tunnel="blah" must be a tun device number/],
    ['environment name empty', 'environment=",=bah"', /must be NAME=value with a NAME of letters, digits and _/],
    ['command twice', 'command="a",command="b"', /option command is given twice/],
    ['from twice', 'from="10.0.0.0/8",from="192.168.0.0/16"', /option from is given twice/],
    ['principals twice', 'cert-authority,principals="a",principals="b"', /option principals is given twice/],
    ['COMMAND twice in other case', 'command="a",COMMAND="b"', /option command is given twice/],
    ['expiry-time of a year only', 'expiry-time="2030"', /must be a time YYYYMMDD/],
    ['permitopen without a port', 'permitopen="foo"', /must be host:port \(the port is missing\)/],
    ['touch-required', 'touch-required', null],
    ['no-touch-required', 'no-touch-required', null],
    ['verify-required', 'verify-required', null],
    ['no-verify-required', 'no-verify-required', null],
    ['cert-authority with principals', 'cert-authority,principals="alice,bob"', null],
    ['permitlisten bare port', 'permitlisten="8080"', null],
    ['restrict and every no-', 'restrict,no-agent-forwarding,no-port-forwarding,no-pty,no-user-rc,no-x11-forwarding', null],
    ['no-restrict (not negatable)', 'no-restrict', /unsupported option "no-restrict"/],
    ['no-cert-authority (not negatable)', 'no-cert-authority', /unsupported option "no-cert-authority"/],
    // tunnel: a2tun
    ['tunnel any, any case', 'tunnel="ANY"', null],
    ['tunnel 0', 'tunnel="0"', null],
    ['tunnel at SSH_TUNID_MAX', 'tunnel="2147483645"', null],
    ['tunnel beyond SSH_TUNID_MAX', 'tunnel="2147483646"', /tun device number/],
    ['tunnel negative', 'tunnel="-1"', /tun device number/],
    ['tunnel empty', 'tunnel=""', /tun device number/],
    ['tunnel with trailing text', 'tunnel="1x"', /tun device number/],
    // environment
    ['environment value with = and spaces', 'environment="A_1=b = c"', null],
    ['environment empty value', 'environment="A="', null],
    ['environment without =', 'environment="PATH"', /must be NAME=value/],
    ['environment name with a dash', 'environment="A-B=c"', /NAME of letters, digits and _/],
    ['environment twice with one name (first wins)', 'environment="A=1",environment="A=2"', null],
    // expiry-time: parse_absolute_time
    ['expiry date', 'expiry-time="20300101"', null],
    ['expiry date and minutes', 'expiry-time="203001011230"', null],
    ['expiry date and seconds', 'expiry-time="20300101123059"', null],
    ['expiry in UTC (Z)', 'expiry-time="20300101Z"', null],
    ['expiry in UTC (utc)', 'expiry-time="203001011230utc"', null],
    ['expiry month 13', 'expiry-time="20301301"', /must be a time/],
    ['expiry day 00', 'expiry-time="20300100"', /must be a time/],
    ['expiry hour 24', 'expiry-time="203001012400"', /must be a time/],
    ['expiry with dashes', 'expiry-time="2030-01-01"', /must be a time/],
    ['expiry 10 digits', 'expiry-time="2030010112"', /must be a time/],
    ['expiry before 1970', 'expiry-time="19691231"', /must be a time/],
    // permitopen / permitlisten: handle_permit + hpdelim2 + a2port
    ['permitopen host:port', 'permitopen="foo:123"', null],
    ['permitopen host:*', 'permitopen="bar:*"', null],
    ['permitopen [v6]:port', 'permitopen="[::1]:22"', null],
    ['permitopen host/port', 'permitopen="foo/22"', null],
    ['permitopen port 0', 'permitopen="foo:0"', /port number \(1-65535\) or \*/],
    ['permitopen port 65536', 'permitopen="foo:65536"', /port number/],
    ['permitopen empty port', 'permitopen="foo:"', /port number/],
    ['permitopen two colons', 'permitopen="foo:1:2"', /port number/],
    ['permitopen unclosed bracket', 'permitopen="[::1:22"', /unclosed \[/],
    ['permitopen junk after ]', 'permitopen="[::1]x22"', /follows the \]/],
    ['permitopen [v6] without port', 'permitopen="[::1]"', /port is missing/],
    ['permitlisten host:port', 'permitlisten="localhost:8080"', null],
    ['permitlisten bare port 0', 'permitlisten="0"', /port number/],
    ['permitlisten no port', 'permitlisten="foo"', /port number/],
    ['from networks and names', 'from="10.0.0.0/8,!192.168.1.1,*.example.org,fd00::/8"', null],
    ['from a name with a slash is a pattern', 'from="host/x"', null],
  ])('%s: %s', (_label, options, expected) => {
    const got = verdict(options);
    if (expected === null) expect(got).toEqual({ ok: true, options: expect.any(Array) });
    else {
      expect(got.ok).toBe(false);
      if (!got.ok) {
        expect(got.message).toMatch(expected);
        expect(got.message).toMatch(/^[\x20-\x7e]*$/);
      }
    }
  });

  /**
   * from= is not checked when sshd reads the line (sshauthopt_parse only dequotes it): the line is a key,
   * which sshd then refuses to every client (addr_match_list fails). keys check says so; the real sshd
   * agrees (test/real/authorized-keys-sshd.test.ts).
   */
  it.each([
    ['from with host bits set', 'from="10.0.0.1/8"', /"10.0.0.1\/8", which is not a network/],
    ['from v4 prefix 33', 'from="10.0.0.0/33"', /not a network/],
    ['from with an empty entry', 'from="10.0.0.0/8,"', /empty entry/],
    ['from empty', 'from=""', /empty entry/],
    ['principals without cert-authority', 'principals="a,b"', /principals= without cert-authority/],
  ])('a key that grants nothing: %s: %s', (_label, options, expected) => {
    expect(verdict(options).ok).toBe(true);
    const [key] = checkAuthorizedKeys(`${options} ${ED25519}`, DEFAULT_POLICY.ssh).keys;
    expect(key.ok).toBe(false);
    expect(key.problems).toEqual([expect.stringMatching(expected)]);
    expect(key.problems[0]).toMatch(/^[\x20-\x7e]*$/);
  });

  it('an option value never reaches a message raw (escapes, quotes, long values)', () => {
    const got = verdict(`tunnel="\x1b[31m${'x'.repeat(500)}"`);
    expect(got.ok).toBe(false);
    if (!got.ok) {
      expect(got.message).not.toContain('\x1b');
      expect(got.message.length).toBeLessThan(200);
    }
  });

  it('escaped quotes inside a value are read as sshd dequotes them', () => {
    expect(verdict('environment="A=\\"x\\""').ok).toBe(true);
    expect(verdict('tunnel="\\"1\\""').ok).toBe(false); // the value is "1" with quotes: not a number
  });

  it('limits: sshd checks the count before adding, so 4097 permitopen are read and the 4098th refused (SSH_AUTHOPT_PERMIT_MAX 4096)', () => {
    const permits = (n: number) => Array.from({ length: n }, (_, i) => `permitopen="h:${(i % 60000) + 1}"`).join(',');
    expect(verdict(permits(4097)).ok).toBe(true);
    expect(verdict(permits(4098)).ok).toBe(false);
  });
});
