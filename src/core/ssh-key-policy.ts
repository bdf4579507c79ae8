/**
 * Whether a member key may grant access: the co-op's policy (types, RSA size) and the keys anyone can
 * forge from the public key alone, which sshd itself accepts (docs/reference.md, "SSH keys").
 * Pure. Verdicts on the expensive RSA check are remembered per key data (a deterministic memo).
 */
import { Refusal, parseBlob, type KeyComponents, type PublicKey } from './ssh-key-blob.js';
import type { SshPolicy } from './types.js';

export function policyProblems(k: Pick<PublicKey, 'family' | 'type' | 'bits' | 'base64'>, policy: SshPolicy): string[] {
  if (k.family === 'certificate') return [`a certificate (${k.type}) is not a member key`];
  if (k.family === 'dsa') return ['ssh-dss (DSA) keys are never allowed: they are limited to 1024 bits and OpenSSH has dropped them'];
  const problems: string[] = [];
  const forgeable = forgeableKeyProblem(k.base64);
  if (forgeable) problems.push(forgeable);
  if (!policy.allowed_types.includes(k.family))
    problems.push(`key type ${k.family} (${k.type}) is not allowed by policy (allowed: ${policy.allowed_types.join(', ') || 'none'})`);
  if (k.family === 'rsa' && k.bits < policy.min_rsa_bits) problems.push(`RSA key of ${k.bits} bits is below the policy minimum of ${policy.min_rsa_bits} bits`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Keys whose signatures anyone can compute

/** 2^255 - 19, the field prime of Curve25519. */
const P25519 = (1n << 255n) - 19n;
/**
 * The y coordinates of the 8 points of small order on edwards25519 (RFC 8032 §5.1): the identity (y=1,
 * order 1), (0,-1) (y=p-1, order 2), the two of order 4 (y=0) and the four of order 8 (y=±Y8, each with
 * both signs of x). A public key A among them lets anyone sign: [S]B = R + [k]A holds for S=0, R=identity
 * when A is the identity, and for one R in 8 otherwise.
 */
const Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const SMALL_ORDER_Y: ReadonlyMap<bigint, string> = new Map([
  [1n, 'the identity point (order 1)'],
  [P25519 - 1n, 'a point of order 2'],
  [0n, 'a point of order 4'],
  [Y8, 'a point of order 8'],
  [P25519 - Y8, 'a point of order 8'],
]);

/** An Ed25519 public key that anyone can sign for, or that has another encoding: why, or undefined. */
export function ed25519Problem(publicKey: Buffer): string | undefined {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? publicKey[i] & 0x7f : publicKey[i]);
  if (y >= P25519) return 'its Ed25519 point is not canonically encoded (y >= 2^255-19): another encoding of a point, refused';
  const small = SMALL_ORDER_Y.get(y);
  if (small) return `its Ed25519 point is ${small}: anyone can make signatures that verify for it, so it is not a key anyone owns`;
  return undefined;
}

/** Primes below 2^16, multiplied (94,000 bits), for one gcd against a modulus. */
const SMALL_PRIME_BOUND = 1 << 16;
let primorial: bigint | undefined;
function smallPrimorial(): bigint {
  if (primorial !== undefined) return primorial;
  const composite = new Uint8Array(SMALL_PRIME_BOUND);
  let level: bigint[] = [];
  for (let i = 2; i < SMALL_PRIME_BOUND; i++) {
    if (composite[i]) continue;
    level.push(BigInt(i));
    for (let j = i * i; j < SMALL_PRIME_BOUND; j += i) composite[j] = 1;
  }
  // a product tree: multiplying one by one would cost quadratic time
  while (level.length > 1) {
    const next: bigint[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? level[i] * level[i + 1] : level[i]);
    level = next;
  }
  return (primorial = level[0]);
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function smallestFactorBelow(n: bigint, bound: number): number | undefined {
  for (let p = 2; p < bound; p++) if (n % BigInt(p) === 0n) return p;
  return undefined;
}

const bigIntOf = (bytes: Buffer) => (bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`));

/** FIPS 186-5 §A.1.1 bounds e below 2^256; no key generator makes a larger one. */
const MAX_RSA_EXPONENT_BITS = 256;

/** An RSA public key that anyone can sign for, or that is not an RSA key at all: why, or undefined. */
export function rsaProblem(eBytes: Buffer, nBytes: Buffer): string | undefined {
  const e = bigIntOf(eBytes);
  const n = bigIntOf(nBytes);
  if (e < 3n) return `its RSA exponent is ${e}: with e=1 a signature is the padded digest itself, so anyone can sign; a real key has an odd e of at least 3`;
  if ((e & 1n) === 0n) return `its RSA exponent ${e > 99999n ? '' : `${e} `}is even: no RSA key has an even exponent`;
  if (eBytes.length * 8 > MAX_RSA_EXPONENT_BITS + 7 || e >= 1n << BigInt(MAX_RSA_EXPONENT_BITS))
    return `its RSA exponent has more than ${MAX_RSA_EXPONENT_BITS} bits: no key generator makes one (FIPS 186-5 bounds e below 2^256), and each login attempt would make sshd compute with it`;
  if (e >= n) return 'its RSA exponent is not below its modulus: not an RSA key';
  if ((n & 1n) === 0n) return 'its RSA modulus is even: 2 divides it, so its private key is easy to compute';
  const common = gcd(n, smallPrimorial() % n);
  if (common !== 1n) {
    const factor = smallestFactorBelow(common, SMALL_PRIME_BOUND);
    return `its RSA modulus has the small prime factor ${factor ?? 'below 65536'}: a real modulus is the product of two large primes, and this one may be factored`;
  }
  return undefined;
}

const rsaVerdicts = new Map<string, string | null>();
const RSA_VERDICTS_MAX = 100_000;

/**
 * Why a key (canonical base64 of its blob) can be forged or is malformed in a way sshd does not refuse:
 * RSA exponents and moduli, Ed25519 points of small order or non-canonical encoding (also for the -sk
 * types). ECDSA points off their curve, at infinity or with coordinates >= p never get here: the
 * parser refuses them, as sshd does. Undefined when the key is fine, or does not parse (others say so).
 */
export function forgeableKeyProblem(base64: string): string | undefined {
  const cached = rsaVerdicts.get(base64);
  if (cached !== undefined) return cached ?? undefined;
  let components: KeyComponents;
  try {
    components = parseBlob(Buffer.from(base64, 'base64')).components;
  } catch (e) {
    if (e instanceof Refusal) return undefined;
    throw e;
  }
  switch (components.family) {
    case 'ed25519':
    case 'ed25519-sk':
      return ed25519Problem(components.publicKey);
    case 'rsa': {
      const verdict = rsaProblem(components.e, components.n);
      if (rsaVerdicts.size >= RSA_VERDICTS_MAX) rsaVerdicts.clear();
      rsaVerdicts.set(base64, verdict ?? null);
      return verdict;
    }
    default:
      return undefined;
  }
}
