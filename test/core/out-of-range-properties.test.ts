/**
 * Out-of-range numbers and dates (fast-check): every reader of a number or date from the registry or from a
 * host's answer either refuses it with a clear problem (InfraError, exit 3) or answers, and never crashes
 * ("Invalid time value" was exit 1, "a bug in infra"). Readers: the `wg show all dump` parser and the VPN
 * findings over it, date arithmetic, token due dates, key ages and expiries in the audit, GitHub's expiry
 * header, and the validator, which keeps every number within what the readers can count.
 */
import fc from 'fast-check';
import { addDays, dateOfEpochSeconds, daysBetween, FIRST_DATE, LAST_DATE } from '../../src/core/dates.js';
import { auditFindings, vpnDumpFindings } from '../../src/core/audit.js';
import { parseGithubExpiration, tokenDue } from '../../src/core/tokens.js';
import { DEFAULT_POLICY, type InfraConfig, type Member } from '../../src/core/types.js';
import { MAX_DAYS, validateConfig, validateMember } from '../../src/core/validate.js';
import { MAX_HANDSHAKE, parseWgDump } from '../../src/core/wg-dump.js';
import { ExitCode, InfraError } from '../../src/lib/errors.js';
import { ed25519Line } from '../helpers/registry-fixture.js';

const RUNS = 300;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const WG_KEY = 'IaWu2wToMjtbRy9LKNHBef8nMfNpounxr65amMcgdi0=';
const SERVER_KEY = 'QsYq4yARL4YyaJLcm/zwkAnSSm5p+SQ/AE3KJduyGlo=';

/** Any calendar date a registry file can hold (years 0000-9999). */
const anyDate = fc.date({ min: new Date(Date.parse(`${FIRST_DATE}T00:00:00Z`)), max: new Date(Date.parse(`${LAST_DATE}T00:00:00Z`)), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
/** Whole numbers from ordinary to absurd, both signs, and the doubles that are not safe integers. */
const anyCount = fc.oneof(fc.integer({ min: -1000, max: 100_000 }), fc.integer(), fc.constantFrom(100_000_000, 9_999_999_999_999, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e21, -1e21, Number.MAX_VALUE));
/** A number as text, as a host may print it: short, long, padded, past u64. */
const numberText = fc.oneof(fc.nat().map(String), fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String), fc.constantFrom('9999999999999', String(MAX_HANDSHAKE), String(MAX_HANDSHAKE + 1), '18446744073709551615', '18446744073709551616', '0000000000000000000000001', '65535', '65536'));

const survives = (f: () => unknown) => {
  try {
    f();
    return true;
  } catch (e) {
    // a refusal must be the clear kind: invalid input naming what is wrong
    if (e instanceof InfraError && e.exitCode === ExitCode.invalid) return true;
    throw e;
  }
};

const config = (policy = DEFAULT_POLICY): InfraConfig => ({
  org: 'co-op',
  admins: [],
  environments: {},
  policy,
  access: [],
  vpn: { meet: { ipv4: '10.77.0.0/24', endpoint: 'vpn.example:51820', server_public_key: SERVER_KEY, reserved: [], allowed_ips: ['10.77.0.0/24'], servers: 'vpn' } },
} as unknown as InfraConfig);

const member = (dates: { added: string; expires?: string; rotated?: string; tokenExpires?: string; every?: number; departed?: string }): Member => ({
  handle: 'frank',
  name: 'Frank',
  kind: 'human',
  org: 'co-op',
  status: dates.departed ? 'departed' : 'active',
  ...(dates.departed ? { departed: dates.departed } : {}),
  groups: [],
  ssh_keys: [{ name: 'laptop', key: ed25519Line('frank'), added: dates.added, ...(dates.expires ? { expires: dates.expires } : {}) }],
  vpn_peers: [{ device: 'laptop', network: 'meet', public_key: WG_KEY, addresses: ['10.77.0.7/32'], added: dates.added }],
  tokens: [{ name: 'hook', kind: 'generic', consumers: [], ...(dates.rotated ? { rotated_at: dates.rotated } : {}), ...(dates.tokenExpires ? { expires_at: dates.tokenExpires } : {}), ...(dates.every !== undefined ? { rotate_every_days: dates.every } : {}) }],
  has_pgp: false,
});

describe('out-of-range numbers and dates', () => {
  it(`date arithmetic stays a date within ${FIRST_DATE}..${LAST_DATE} for any day count (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(anyDate, anyCount, (date, days) => {
        const out = addDays(date, days);
        expect(out).toMatch(DATE_RE);
        expect(out >= FIRST_DATE && out <= LAST_DATE).toBe(true);
        expect(Number.isFinite(daysBetween(date, out))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it(`a handshake time is a date or none, never a crash (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer(), fc.constantFrom(9_999_999_999_999, MAX_HANDSHAKE, MAX_HANDSHAKE + 1, -1)), (seconds) => {
        const out = dateOfEpochSeconds(seconds);
        if (out !== undefined) expect(out).toMatch(DATE_RE);
      }),
      { numRuns: RUNS },
    );
  });

  it(`a wg dump with any numbers is read or refused clearly (exit 3), and its findings never crash (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(numberText, numberText, numberText, numberText, numberText, anyDate, (handshake, rx, tx, keepalive, port, asOf) => {
        const text = `wg0\t(none)\t${SERVER_KEY}\t${port}\toff\nwg0\t${WG_KEY}\t(none)\t(none)\t10.77.0.7/32\t${handshake}\t${rx}\t${tx}\t${keepalive}\n`;
        return survives(() => {
          const dump = parseWgDump(text);
          expect(dump.peers[0].latestHandshake).toBeLessThanOrEqual(MAX_HANDSHAKE);
          expect(dump.interfaces[0].listenPort).toBeLessThanOrEqual(65_535);
          for (const departed of [undefined, asOf]) vpnDumpFindings({ source: 'vpn1', dump }, config(), [member({ added: asOf, departed })], asOf);
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('the handshake 9999999999999 is refused naming the field, not "Invalid time value"', () => {
    const text = `wg0\t(none)\t${SERVER_KEY}\t51820\toff\nwg0\t${WG_KEY}\t(none)\t(none)\t10.77.0.7/32\t9999999999999\t0\t0\toff\n`;
    const e = (() => {
      try {
        parseWgDump(text);
      } catch (err) {
        return err as InfraError;
      }
      throw new Error('accepted');
    })();
    expect(e).toBeInstanceOf(InfraError);
    expect([e.exitCode, e.message]).toEqual([ExitCode.invalid, `wg dump line 2: latest-handshake 9999999999999 is out of range (at most ${MAX_HANDSHAKE})`]);
  });

  it(`token due dates, key ages and expiries: the audit answers for any dates and periods (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(
        fc.record({ added: anyDate, expires: fc.option(anyDate, { nil: undefined }), rotated: fc.option(anyDate, { nil: undefined }), tokenExpires: fc.option(anyDate, { nil: undefined }), every: fc.option(anyCount, { nil: undefined }) }),
        anyDate,
        fc.record({ every: anyCount, maxAge: anyCount, horizon: anyCount, idle: anyCount }),
        (dates, asOf, p) => {
          const policy = { ...DEFAULT_POLICY, ssh: { ...DEFAULT_POLICY.ssh, max_age_days: p.maxAge }, tokens: { rotate_every_days: p.every }, audit: { ...DEFAULT_POLICY.audit, horizon_days: p.horizon }, vpn: { idle_days: p.idle } };
          const m = member(dates);
          const due = tokenDue(m.tokens[0], p.every, asOf, p.horizon);
          if (due.due !== undefined) expect(due.due).toMatch(DATE_RE);
          const { findings } = auditFindings({ asOf, config: config(policy), members: [m], inventories: {} });
          for (const f of findings) expect(`${f.subject} ${f.detail}`).not.toMatch(/NaN|Infinity|undefined|Invalid/);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it(`GitHub's expiry header gives a date or nothing for any time, offset and digits (${RUNS} runs)`, () => {
    const two = fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, '0'));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')), two, two, two, two, two, fc.constantFrom('UTC', 'Z', '+0000', '-1400', '+14:00', '-99:99', '+9999'), (y, mo, d, h, mi, s, zone) => {
        const out = parseGithubExpiration(`${y}-${mo}-${d} ${h}:${mi}:${s} ${zone}`);
        if (out !== undefined) expect(out >= FIRST_DATE && out <= LAST_DATE && DATE_RE.test(out)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it(`the validator accepts a day count only within 0/1..${MAX_DAYS}, in infra.yml and in a token (${RUNS} runs)`, () => {
    fc.assert(
      fc.property(anyCount, (n) => {
        const r = validateConfig({ org: 'co-op', admins: [], environments: {}, access: [], vpn: {}, policy: { tokens: { rotate_every_days: n }, ssh: { max_age_days: n }, vpn: { idle_days: n }, audit: { horizon_days: n } } }, 'infra.yml', () => undefined);
        const ok = Number.isInteger(n) && n >= 1 && n <= MAX_DAYS;
        const fields = r.problems.map((x) => x.field).filter((f) => /rotate_every_days|max_age_days|idle_days|horizon_days/.test(f));
        expect(fields.length === 0).toBe(ok);
        if (!ok) for (const x of r.problems) expect(x.message).toMatch(/whole number >= \d|at most 36500/);
        const t = validateMember('bot', { name: 'Bot', kind: 'bot', org: 'co-op', status: 'active', tokens: [{ name: 'hook', kind: 'generic', rotate_every_days: n, consumers: [] }] }, 'keys/bot/member.yml', () => undefined, false);
        expect(t.problems.some((x) => x.field === 'tokens[0].rotate_every_days')).toBe(!ok);
      }),
      { numRuns: RUNS },
    );
  });
});
