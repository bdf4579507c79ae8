/**
 * What render and audit need of a member key, without parsing it again: its type, family, canonical
 * base64, size and fingerprint. The load parses and validates every key once; it keeps these summaries
 * (in the member cache too, trusted exactly as far as the member they belong to) and hands them to the
 * core as a plain lookup by key text. A text the lookup does not hold is parsed as ever.
 * Pure: plain data in and out.
 */
import { parsePublicKey, type PublicKey } from './ssh-key.js';

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
 * A summary as the member cache stores it: the fields the key text itself does not already say. The type
 * and base64 are written only when they differ from the text's first and second words (a non-canonical
 * RSA encoding), so 30,000 keys do not put their key data into the cache twice.
 */
export interface PackedSummary {
  family: string;
  bits: number;
  fingerprint: string;
  type?: string;
  base64?: string;
}

const WORDS_RE = /^(\S+)\s+(\S+)/;

export function packSummary(text: string, s: KeySummary): PackedSummary {
  const words = WORDS_RE.exec(text);
  return {
    family: s.family,
    bits: s.bits,
    fingerprint: s.fingerprint,
    ...(words?.[1] === s.type ? {} : { type: s.type }),
    ...(words?.[2] === s.base64 ? {} : { base64: s.base64 }),
  };
}

const FAMILIES: ReadonlySet<string> = new Set(['ed25519', 'ed25519-sk', 'ecdsa', 'ecdsa-sk', 'rsa', 'dsa']);

/** The summary packSummary packed for the same text; undefined for anything not of that shape (parse instead). */
export function unpackSummary(text: string, packed: unknown): KeySummary | undefined {
  if (typeof packed !== 'object' || packed === null) return undefined;
  const p = packed as Record<string, unknown>;
  if (typeof p.family !== 'string' || !FAMILIES.has(p.family) || typeof p.bits !== 'number' || typeof p.fingerprint !== 'string') return undefined;
  if ((p.type !== undefined && typeof p.type !== 'string') || (p.base64 !== undefined && typeof p.base64 !== 'string')) return undefined;
  const words = WORDS_RE.exec(text);
  const type = (p.type as string | undefined) ?? words?.[1];
  const base64 = (p.base64 as string | undefined) ?? words?.[2];
  if (type === undefined || base64 === undefined) return undefined;
  return { type, family: p.family as KeySummary['family'], base64, bits: p.bits, fingerprint: p.fingerprint };
}
