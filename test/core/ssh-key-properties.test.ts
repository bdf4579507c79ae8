/**
 * Property tests (fast-check) of the SSH key parser, the hostile-input campaign:
 *  - parse -> print -> parse is stable, for every key type, with options and comments;
 *  - random strings, bytes and mutated key lines give a KeyParseError (an InfraError, exit 3) or a
 *    key, never a crash or another exception;
 *  - canonicalisation is idempotent and does not change the fingerprint.
 * Keys are built here from components (node:crypto supplies real ECDSA points); the expected canonical
 * blob is encoded by this file's own writer, not by src/.
 * Runs per property: RUNS below (the number is printed in each test's name).
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { KeyParseError, checkAuthorizedKeys, keyComponents, parseAuthorizedKeyLine, parsePublicKey, splitKeyText } from '../../src/core/ssh-key.js';
import { DEFAULT_POLICY } from '../../src/core/types.js';
import { ExitCode, InfraError } from '../../src/lib/errors.js';

// Runs per property: a fifth of the 16,000 these started with (no bug was found by the extra runs; they were a
// third of this file's CPU cost, 6 s a run). fast-check draws new cases every run, so CI keeps exploring.
const RUNS = { roundTrip: 400, junk: 1000, mutations: 600, canonical: 200, blobs: 1000 };

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const sshString = (b: Buffer | string) => {
  const body = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
  return Buffer.concat([u32(body.length), body]);
};
const stripZeros = (b: Buffer) => {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
};
const mpint = (magnitude: Buffer, pad = 0) => {
  const m = stripZeros(magnitude);
  return sshString(Buffer.concat([Buffer.alloc(pad + (m.length && m[0] & 0x80 ? 1 : 0)), m]));
};
const sha256 = (b: Buffer) => `SHA256:${createHash('sha256').update(b).digest('base64').replace(/=+$/, '')}`;

/** Real points, from node:crypto: the parser checks that a point is on its curve. */
function points(curve: string, count: number): Buffer[] {
  return Array.from({ length: count }, () => {
    const jwk = generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ format: 'jwk' });
    return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  });
}
const P256 = points('P-256', 8);
const P384 = points('P-384', 4);
const P521 = points('P-521', 4);

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));
/** An application string without NUL (OpenSSH reads it as a C string). */
const application = fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 20 });
/** An RSA modulus of 1024 to 4096 bits (the parser does not test primality) and an exponent. */
const rsaModulus = fc.integer({ min: 128, max: 512 }).chain((len) => bytes(len, len).map((b) => (b[0] |= 0x80, b)));
const rsaExponent = fc.oneof(fc.constant(Buffer.from([1, 0, 1])), fc.constant(Buffer.from([3])), bytes(1, 8).filter((b) => stripZeros(b).length > 0));
const pad = fc.integer({ min: 0, max: 40 });

/** A key as [type, canonical blob, written blob]: the written one may pad its integers. */
const keyArb: fc.Arbitrary<[string, Buffer, Buffer]> = fc.oneof(
  bytes(32, 32).map((pk) => {
    const blob = Buffer.concat([sshString('ssh-ed25519'), sshString(pk)]);
    return ['ssh-ed25519', blob, blob] as [string, Buffer, Buffer];
  }),
  fc.tuple(bytes(32, 32), application).map(([pk, app]) => {
    const blob = Buffer.concat([sshString('sk-ssh-ed25519@openssh.com'), sshString(pk), sshString(app)]);
    return ['sk-ssh-ed25519@openssh.com', blob, blob] as [string, Buffer, Buffer];
  }),
  fc
    .oneof(
      fc.constantFrom(...P256).map((p) => ['nistp256', p] as const),
      fc.constantFrom(...P384).map((p) => ['nistp384', p] as const),
      fc.constantFrom(...P521).map((p) => ['nistp521', p] as const),
    )
    .map(([curve, point]) => {
      const type = `ecdsa-sha2-${curve}`;
      const blob = Buffer.concat([sshString(type), sshString(curve), sshString(point)]);
      return [type, blob, blob] as [string, Buffer, Buffer];
    }),
  fc.tuple(fc.constantFrom(...P256), application).map(([point, app]) => {
    const type = 'sk-ecdsa-sha2-nistp256@openssh.com';
    const blob = Buffer.concat([sshString(type), sshString('nistp256'), sshString(point), sshString(app)]);
    return [type, blob, blob] as [string, Buffer, Buffer];
  }),
  fc.tuple(rsaExponent, rsaModulus, pad, pad).map(([e, n, padE, padN]) => {
    const canonical = Buffer.concat([sshString('ssh-rsa'), mpint(e), mpint(n)]);
    const written = Buffer.concat([sshString('ssh-rsa'), mpint(e, padE), mpint(n, padN)]);
    return ['ssh-rsa', canonical, written] as [string, Buffer, Buffer];
  }),
);

/** Options sshd accepts, one value grammar each. */
const optionArb = fc.oneof(
  fc.constantFrom('restrict', 'cert-authority', 'no-pty', 'pty', 'no-touch-required', 'touch-required', 'verify-required', 'no-verify-required', 'no-agent-forwarding', 'x11-forwarding', 'No-User-Rc'),
  fc.integer({ min: 0, max: 2147483645 }).map((n) => `tunnel="${n}"`),
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9_]{1,12}$/), fc.stringMatching(/^[ !#-[\]-~]{0,20}$/)).map(([k, v]) => `environment="${k}=${v}"`),
  fc.tuple(fc.stringMatching(/^[a-z0-9.-]{0,20}$/), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `permitopen="${h}:${p}"`),
  fc.integer({ min: 1, max: 65535 }).map((p) => `permitlisten="${p}"`),
  fc.date({ min: new Date('1971-01-01T00:00:00Z'), max: new Date('2999-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => `expiry-time="${d.toISOString().slice(0, 10).replace(/-/g, '')}"`),
);
const singleArb = fc.record(
  {
    command: fc.stringMatching(/^[ !#-[\]-~]{0,30}$/).map((c) => `command="${c}"`),
    from: fc.constantFrom('10.0.0.0/8', '192.168.1.1', '*.example.org,!bad.example.org', 'fd00::/8').map((f) => `from="${f}"`),
  },
  { requiredKeys: [] },
);
/** A comment: any characters but line breaks and NUL (a line has one key). */
const commentArb = fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0x2fff })).map((c) => String.fromCharCode(c)), maxLength: 40 });

/** A KeyParseError, or a rethrow that fails the property with what was thrown. */
function typed(e: unknown): KeyParseError {
  if (e instanceof KeyParseError && e instanceof InfraError && e.exitCode === ExitCode.invalid && e.message.length < 300) return e;
  throw e;
}

const printLine = (options: string[], type: string, base64: string, comment: string) => `${options.length ? `${options.join(',')} ` : ''}${type} ${base64}${comment ? ` ${comment}` : ''}`;

describe('SSH key parser properties', () => {
  it(`parse -> print -> parse is stable (${RUNS.roundTrip} runs)`, () => {
    fc.assert(
      fc.property(keyArb, fc.array(optionArb, { maxLength: 5 }), singleArb, commentArb, ([type, canonical, written], options, single, comment) => {
        const opts = [...options, ...Object.values(single)];
        const first = parseAuthorizedKeyLine(printLine(opts, type, written.toString('base64'), comment));
        expect(first.blob.equals(canonical)).toBe(true);
        expect(first.fingerprint).toBe(sha256(canonical));
        const second = parseAuthorizedKeyLine(printLine(first.options, first.type, first.base64, first.comment));
        expect({ ...second, blob: second.blob.toString('base64') }).toEqual({ ...first, blob: first.blob.toString('base64'), writtenBase64: undefined });
      }),
      { numRuns: RUNS.roundTrip },
    );
  });

  it(`canonicalisation is idempotent and keeps the fingerprint (${RUNS.canonical} runs)`, () => {
    fc.assert(
      fc.property(keyArb, ([type, canonical, written]) => {
        const once = parsePublicKey(`${type} ${written.toString('base64')}`);
        const twice = parsePublicKey(`${type} ${once.base64}`);
        expect(twice.base64).toBe(once.base64);
        expect(twice.writtenBase64).toBeUndefined();
        expect(twice.fingerprint).toBe(once.fingerprint);
        expect(once.fingerprint).toBe(sha256(canonical));
        expect(once.writtenBase64 === undefined).toBe(written.equals(canonical));
        expect(keyComponents(once)).toEqual(keyComponents(twice));
      }),
      { numRuns: RUNS.canonical },
    );
  });

  it(`random strings give a key or a typed error (${RUNS.junk} runs)`, () => {
    const junk = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a).toString('latin1')),
      fc.tuple(fc.constantFrom('ssh-ed25519 ', 'ssh-rsa ', 'no-pty ssh-ed25519 ', 'from="', 'ecdsa-sha2-nistp256 AAAA', 'environment="'), fc.string({ maxLength: 120 })).map(([a, b]) => a + b),
    );
    fc.assert(
      fc.property(junk, (text) => {
        for (const parse of [parseAuthorizedKeyLine, parsePublicKey]) {
          try {
            parse(text);
          } catch (e) {
            typed(e);
          }
        }
        const report = checkAuthorizedKeys(text, DEFAULT_POLICY.ssh);
        for (const err of report.errors) expect(err.problem).toMatch(/^[\x20-\x7e]*$/);
        splitKeyText(text);
      }),
      { numRuns: RUNS.junk },
    );
  });

  it(`mutated key lines give a key or a typed error (${RUNS.mutations} runs)`, () => {
    const mutated = fc.tuple(keyArb, fc.array(optionArb, { maxLength: 3 }), fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('flip', 'insert', 'delete')), { minLength: 1, maxLength: 4 }));
    fc.assert(
      fc.property(mutated, ([[type, , written], options, edits]) => {
        let text = printLine(options, type, written.toString('base64'), 'c');
        for (const [at, byte, how] of edits) {
          const i = at % (text.length + 1);
          const ch = String.fromCharCode(byte);
          text = how === 'insert' ? text.slice(0, i) + ch + text.slice(i) : how === 'delete' ? text.slice(0, i) + text.slice(i + 1) : text.slice(0, i) + ch + text.slice(i + 1);
        }
        try {
          parseAuthorizedKeyLine(text);
        } catch (e) {
          typed(e);
        }
      }),
      { numRuns: RUNS.mutations },
    );
  });

  it(`random and mutated blobs give components or a typed error (${RUNS.blobs} runs)`, () => {
    const blob = fc.oneof(
      bytes(0, 300),
      keyArb.chain(([, , written]) => fc.tuple(fc.constant(written), fc.nat(), fc.nat(255)).map(([b, at, v]) => {
        const copy = Buffer.from(b);
        copy[at % copy.length] = v;
        return copy;
      })),
      fc.tuple(fc.constantFrom('ssh-rsa', 'ssh-dss', 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'sk-ssh-ed25519@openssh.com'), fc.array(bytes(0, 40), { maxLength: 5 }), fc.array(fc.nat(0xffffffff), { maxLength: 3 })).map(([type, fields, lengths]) =>
        Buffer.concat([sshString(type), ...fields.map((f) => sshString(f)), ...lengths.map(u32)]),
      ),
    );
    fc.assert(
      fc.property(blob, (b) => {
        try {
          keyComponents({ blob: b });
        } catch (e) {
          typed(e);
        }
        for (const type of ['ssh-rsa', 'ssh-ed25519']) {
          try {
            parsePublicKey(`${type} ${b.toString('base64')}`);
          } catch (e) {
            typed(e);
          }
        }
      }),
      { numRuns: RUNS.blobs },
    );
  });
});
