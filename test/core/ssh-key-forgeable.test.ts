/**
 * Keys anyone can sign for, from the public key alone, are refused by policy (keys add, keys check, check,
 * audit weak-key); ECDSA points that are not points of their curve are not keys at all (as sshd refuses
 * them). Every key here is built by hand; the small order of each Ed25519 point is computed by the test
 * (test/helpers/forgeable-keys.ts), not looked up in the code under test.
 */
import { createECDH } from 'node:crypto';
import { checkAuthorizedKeys, parsePublicKey, policyProblems } from '../../src/core/ssh-key.js';
import { DEFAULT_POLICY, type SshPolicy } from '../../src/core/types.js';
import { P25519, ed25519LineOf, encodePoint, order8Ys, realModulus, rsaLineOf, skEd25519LineOf, smallOrder } from '../helpers/forgeable-keys.js';
import { ed25519Line, sshString } from '../helpers/keys.js';

const policy: SshPolicy = { ...DEFAULT_POLICY.ssh, allowed_types: ['ed25519', 'ed25519-sk', 'ecdsa', 'ecdsa-sk', 'rsa'], min_rsa_bits: 2048 };
const problemsOf = (line: string) => policyProblems(parsePublicKey(line), policy);

describe('Ed25519: points of small order and non-canonical encodings', () => {
  const Y8 = order8Ys();
  const smallYs: Array<[string, bigint]> = [
    ['the identity (y=1)', 1n],
    ['order 2 (y=p-1)', P25519 - 1n],
    ['order 4 (y=0)', 0n],
    ['order 8 (y=Y8)', Y8[0]],
    ['order 8 (y=-Y8)', Y8[1]],
  ];

  it('the test finds the two y of the four order-8 points (each with both signs of x), and each point it builds has order <= 8', () => {
    expect(new Set(Y8).size).toBe(2);
    for (const [, y] of smallYs) for (const sign of [0, 1] as const) {
      const order = smallOrder(encodePoint(y, sign));
      // (y=1 or p-1 with the sign bit set has no point: x=0 has no negative; those encodings are refused below)
      if (order !== undefined) expect(order).toBeLessThanOrEqual(8);
    }
    expect(smallOrder(encodePoint(1n, 0))).toBe(1);
    expect(smallOrder(encodePoint(P25519 - 1n, 0))).toBe(2);
    expect(smallOrder(encodePoint(0n, 0))).toBe(4);
    expect(smallOrder(encodePoint(Y8[0], 0))).toBe(8);
  });

  const cases: Array<[string, Buffer]> = [];
  for (const [label, y] of smallYs) for (const sign of [0, 1] as const) cases.push([`${label}, sign bit ${sign}`, encodePoint(y, sign)]);
  // encodings with y >= p: another name for 0, 1, ... (p = 2^255-19, so y in [p, 2^255) is 19 values)
  for (const [label, y] of [['y = p (that is 0)', P25519], ['y = p+1 (that is 1)', P25519 + 1n], ['y = 2^255-1', (1n << 255n) - 1n]] as const)
    for (const sign of [0, 1] as const) cases.push([`${label}, sign bit ${sign}`, encodePoint(y, sign)]);

  it.each(cases)('ssh-ed25519 %s: refused', (_label, point) => {
    const problems = problemsOf(ed25519LineOf(point));
    expect(problems).toEqual([expect.stringMatching(/small order|identity|order [248]|not canonically encoded/)]);
  });

  it.each(cases)('sk-ssh-ed25519 %s: refused', (_label, point) => {
    expect(problemsOf(skEd25519LineOf(point))).toEqual([expect.stringMatching(/small order|identity|order [248]|not canonically encoded/)]);
  });

  it('the issue\'s key: 01 then 31 zero bytes, named as the identity', () => {
    const point = Buffer.alloc(32);
    point[0] = 1;
    expect(problemsOf(ed25519LineOf(point))).toEqual([expect.stringMatching(/identity point .*anyone can make signatures/)]);
  });

  it('real keys pass, including ones whose top byte has the sign bit set', () => {
    for (let i = 0; i < 20; i++) expect(problemsOf(ed25519Line('real'))).toEqual([]);
  });
});

describe('RSA: exponents and moduli', () => {
  const n4096 = realModulus(4096);
  const n2048 = realModulus(2048);
  it.each<[string, bigint, bigint, RegExp | null]>([
    ['e = 1 (the issue: 4096-bit modulus)', 1n, n4096, /exponent is 1: .*anyone can sign/],
    ['e = 0', 0n, n2048, /exponent is 0/],
    ['e = 2', 2n, n2048, /exponent is 2/],
    ['e = 65536 (even)', 65536n, n2048, /exponent 65536 is even/],
    ['e = 2^300 + 2 (even and huge)', (1n << 300n) + 2n, n2048, /is even/],
    ['e = 2^256 + 1 (over 256 bits)', (1n << 256n) + 1n, n2048, /more than 256 bits/],
    ['e = n + 2 (not below the modulus, odd)', n2048 + 2n, n2048, /more than 256 bits|not below its modulus/],
    ['e = 3', 3n, n2048, null],
    ['e = 35 (old keys)', 35n, n2048, null],
    ['e = 65537', 65537n, n4096, null],
    ['e = 2^255 - 19 (odd, 255 bits)', P25519, n2048, null],
    ['modulus even', 65537n, n2048 * 2n, /modulus is even/],
    ['modulus with the factor 3', 65537n, n2048 * 3n, /small prime factor 3:/],
    ['modulus with the factor 65521 (the largest prime below 2^16)', 65537n, n2048 * 65521n, /small prime factor 65521:/],
    ['modulus with a factor above the bound (65537) is not found by trial division', 65537n, n2048 * 65537n, null],
  ])('%s', (_label, e, n, expected) => {
    const problems = problemsOf(rsaLineOf(e, n));
    if (expected === null) expect(problems).toEqual([]);
    else expect(problems).toEqual([expect.stringMatching(expected)]);
  });
});

describe('ECDSA: what is not a point of its curve is not a key (sshd refuses it too)', () => {
  const curves = {
    nistp256: { openssl: 'prime256v1', bytes: 32, p: BigInt('0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff'), a: -3n, b: BigInt('0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b') },
    nistp384: {
      openssl: 'secp384r1',
      bytes: 48,
      p: BigInt('0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff'),
      a: -3n,
      b: BigInt('0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef'),
    },
    nistp521: { openssl: 'secp521r1', bytes: 66, p: (1n << 521n) - 1n, a: -3n, b: BigInt('0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00') },
  } as const;
  type Curve = keyof typeof curves;
  const hex = (v: bigint, bytes: number) => Buffer.from(v.toString(16).padStart(bytes * 2, '0'), 'hex');
  const lineOf = (curve: Curve, point: Buffer, type = `ecdsa-sha2-${curve}`) =>
    `${type} ${Buffer.concat([sshString(type), sshString(curve), sshString(point), ...(type.startsWith('sk-') ? [sshString('ssh:')] : [])]).toString('base64')} c`;
  const realPoint = (curve: Curve) => {
    const ecdh = createECDH(curves[curve].openssl);
    ecdh.generateKeys();
    return ecdh.getPublicKey();
  };
  const coords = (curve: Curve, q: Buffer) => {
    const n = curves[curve].bytes;
    return [BigInt(`0x${q.subarray(1, 1 + n).toString('hex')}`), BigInt(`0x${q.subarray(1 + n).toString('hex')}`)];
  };
  const point = (curve: Curve, x: bigint, y: bigint) => Buffer.concat([Buffer.from([4]), hex(x, curves[curve].bytes), hex(y, curves[curve].bytes)]);
  const fitsWithP = (curve: Curve, v: bigint) => v + curves[curve].p < 1n << BigInt(8 * curves[curve].bytes);

  /** A point of the curve with a small x, so that x + p still fits in the coordinate's bytes. */
  function smallXPoint(curve: Curve): [bigint, bigint] {
    const { p, a, b } = curves[curve];
    const pow = (base: bigint, e: bigint) => {
      let r = 1n;
      let x = ((base % p) + p) % p;
      for (let k = e; k > 0n; k >>= 1n) {
        if (k & 1n) r = (r * x) % p;
        x = (x * x) % p;
      }
      return r;
    };
    for (let x = 1n; ; x++) {
      const rhs = (((x * x * x + a * x + b) % p) + p) % p;
      const y = pow(rhs, (p + 1n) / 4n); // p = 3 mod 4 for all three curves
      if ((y * y) % p === rhs) return [x, y];
    }
  }

  const cases: Array<[string, () => string]> = [];
  for (const curve of Object.keys(curves) as Curve[]) {
    cases.push([`${curve}: off the curve (y+1)`, () => { const [x, y] = coords(curve, realPoint(curve)); return lineOf(curve, point(curve, x, y + 1n === curves[curve].p ? 0n : y + 1n)); }]);
    cases.push([`${curve}: all zeros (infinity is not encodable in this form)`, () => lineOf(curve, point(curve, 0n, 0n))]);
    cases.push([`${curve}: the one-byte encoding of infinity`, () => lineOf(curve, Buffer.from([0]))]);
    cases.push([`${curve}: a compressed point`, () => lineOf(curve, Buffer.concat([Buffer.from([2]), realPoint(curve).subarray(1, 1 + curves[curve].bytes)]))]);
    cases.push([`${curve}: x + p (a coordinate >= p)`, () => { const [x, y] = smallXPoint(curve); return lineOf(curve, point(curve, x + curves[curve].p, y)); }]);
    cases.push([`${curve}: y + p when it fits, else x + p`, () => {
      const [x, y] = coords(curve, realPoint(curve));
      if (fitsWithP(curve, y)) return lineOf(curve, point(curve, x, y + curves[curve].p));
      const [sx, sy] = smallXPoint(curve);
      return lineOf(curve, point(curve, sx + curves[curve].p, sy));
    }]);
  }
  cases.push(['sk-ecdsa nistp256: off the curve', () => { const [x, y] = coords('nistp256', realPoint('nistp256')); return lineOf('nistp256', point('nistp256', x, (y + 1n) % curves.nistp256.p), 'sk-ecdsa-sha2-nistp256@openssh.com'); }]);
  cases.push(['sk-ecdsa nistp256: x + p', () => { const [x, y] = smallXPoint('nistp256'); return lineOf('nistp256', point('nistp256', x + curves.nistp256.p, y), 'sk-ecdsa-sha2-nistp256@openssh.com'); }]);

  it.each(cases)('%s: keys add refuses it, keys check lists it as not a key', (_label, make) => {
    const line = make();
    expect(() => parsePublicKey(line)).toThrow(/point|malformed|coordinate/);
    const report = checkAuthorizedKeys(`${line}\n`, policy);
    expect(report.keys).toEqual([]);
    expect(report.errors).toEqual([{ line: 1, problem: expect.stringMatching(/point|malformed|coordinate/) }]);
  });

  it('a coordinate >= p is refused by name, whatever the OpenSSL under node does with it', () => {
    const [x, y] = smallXPoint('nistp521');
    expect(() => parsePublicKey(lineOf('nistp521', point('nistp521', x + curves.nistp521.p, y)))).toThrow(/not below the field prime/);
  });

  it('real points pass on every curve', () => {
    for (const curve of Object.keys(curves) as Curve[]) expect(problemsOf(lineOf(curve, realPoint(curve)))).toEqual([]);
  });
});

describe('keys check: a forgeable key is a policy failure with its reason', () => {
  it('the two keys of the issue are keys (sshd accepts them) that fail policy', () => {
    const identity = Buffer.alloc(32);
    identity[0] = 1;
    const text = `${rsaLineOf(1n, realModulus(4096))}\n${ed25519LineOf(identity)}\n`;
    const report = checkAuthorizedKeys(text, policy);
    expect(report.errors).toEqual([]);
    expect(report.keys.map((k) => [k.line, k.ok, k.problems])).toEqual([
      [1, false, [expect.stringMatching(/exponent is 1/)]],
      [2, false, [expect.stringMatching(/identity point/)]],
    ]);
  });
});
