/**
 * What render and audit need of a member key, without parsing it again: its type, family, canonical
 * base64, size and fingerprint. The load parses and validates every key once; it keeps these summaries
 * (in the member cache too, trusted exactly as far as the member they belong to) and hands them to the
 * core as a plain lookup by key text. A text the lookup does not hold is parsed as ever.
 * Pure: plain data in and out.
 */
import { fingerprintOf, parsePublicKey, type PublicKey } from './ssh-key.js';

export type KeySummary = Pick<PublicKey, 'type' | 'family' | 'base64' | 'bits' | 'fingerprint'>;

/** A member key's summary from its text (`type base64 [comment]`); throws as parsePublicKey does. */
export type ParseKey = (text: string) => KeySummary;

export function summaryOf(k: KeySummary): KeySummary {
  return { type: k.type, family: k.family, base64: k.base64, bits: k.bits, fingerprint: k.fingerprint };
}

/**
 * A ParseKey answering from `known` (key text -> summary, as the load found it), parsing any other text in
 * full and remembering it, so each distinct text is parsed at most once per call of keyParser.
 */
export function keyParser(known?: ReadonlyMap<string, KeySummary>): ParseKey {
  const parsed = new Map<string, KeySummary>();
  return (text) => {
    let hit = known?.get(text) ?? parsed.get(text);
    if (!hit) parsed.set(text, (hit = summaryOf(parsePublicKey(text))));
    return hit;
  };
}

/**
 * A summary as the member cache stores it: only what the key text does not already say, as a short tuple
 * (30,000 keys are read with every load of the cache). The family and size; the canonical base64 only
 * when it is not the text's second word (a non-canonical RSA encoding), the type only when it is not the
 * first. The fingerprint is not stored: it is SHA-256 over the canonical blob, made when first asked for.
 */
export type PackedSummary = [family: string, bits: number] | [family: string, bits: number, base64: string | null, type?: string];

const WORDS_RE = /^(\S+)\s+(\S+)/;

export function packSummary(text: string, s: KeySummary): PackedSummary {
  const words = WORDS_RE.exec(text);
  const base64 = words?.[2] === s.base64 ? null : s.base64;
  if (words?.[1] !== s.type) return [s.family, s.bits, base64, s.type];
  return base64 === null ? [s.family, s.bits] : [s.family, s.bits, base64];
}

const FAMILIES: ReadonlySet<string> = new Set(['ed25519', 'ed25519-sk', 'ecdsa', 'ecdsa-sk', 'rsa', 'dsa']);

/** The summary packSummary packed for the same text; undefined for anything not of that shape (parse instead). */
export function unpackSummary(text: string, packed: unknown): KeySummary | undefined {
  if (!Array.isArray(packed) || packed.length < 2 || packed.length > 4) return undefined;
  const [family, bits, storedBase64, storedType] = packed as unknown[];
  if (typeof family !== 'string' || !FAMILIES.has(family) || typeof bits !== 'number') return undefined;
  if ((storedBase64 !== undefined && storedBase64 !== null && typeof storedBase64 !== 'string') || (storedType !== undefined && typeof storedType !== 'string')) return undefined;
  const words = WORDS_RE.exec(text);
  const type = storedType ?? words?.[1];
  const base64 = storedBase64 ?? words?.[2];
  if (type === undefined || base64 === undefined) return undefined;
  let fingerprint: string | undefined;
  return {
    type,
    family: family as KeySummary['family'],
    base64,
    bits,
    get fingerprint() {
      return (fingerprint ??= fingerprintOf(Buffer.from(base64, 'base64')));
    },
  };
}
