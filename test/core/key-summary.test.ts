/**
 * Key summaries (core/key-summary.ts): what the load already parsed of each member key, handed to render
 * and audit as a lookup. Packed for the member cache and unpacked, a summary is the one a fresh parse
 * gives; a text the lookup lacks is parsed (and refused) exactly as parsePublicKey would.
 */
import { createHash } from 'node:crypto';
import { keyParser, packSummary, summaryOf, unpackSummary, type KeySummary } from '../../src/core/key-summary.js';
import { parsePublicKey } from '../../src/core/ssh-key.js';
import { ed25519Line, rsaLine } from '../helpers/registry-fixture.js';
import { ecdsaLine, sshString } from '../helpers/keys.js';
import { rsaPublicParts } from '../helpers/rsa-keys.js';



/** An RSA line whose modulus carries extra leading zero bytes: the same key, not its canonical encoding. */
function paddedRsaLine(): { line: string; canonical: Buffer } {
  const { e, n } = rsaPublicParts(2048);
  const mpint = (m: Buffer, pad: number) => sshString(Buffer.concat([Buffer.alloc(pad + (m[0] & 0x80 ? 1 : 0)), m]));
  const canonical = Buffer.concat([sshString('ssh-rsa'), mpint(e, 0), mpint(n, 0)]);
  const padded = Buffer.concat([sshString('ssh-rsa'), mpint(e, 2), mpint(n, 3)]);
  return { line: `ssh-rsa ${padded.toString('base64')} spare`, canonical };
}

const LINES = [ed25519Line('alice'), ecdsaLine('nistp256', 'bob'), ecdsaLine('nistp521', 'carol'), rsaLine(3072, 'dana'), rsaLine(2048, 'erin')];

describe('packSummary / unpackSummary', () => {
  it.each(LINES.map((l) => [l.split(' ')[0], l]))('gives back the fresh parse of a %s key', (_type, line) => {
    const fresh = summaryOf(parsePublicKey(line));
    const packed = JSON.parse(JSON.stringify(packSummary(line, fresh))); // as the member cache stores it
    expect(unpackSummary(line, packed)).toEqual(fresh);
    // the type and key data are in the text already: the cache does not hold them twice
    expect(packed).toEqual([fresh.family, fresh.bits]);
  });

  it('keeps the canonical base64 of a key written in a non-canonical encoding', () => {
    const { line, canonical } = paddedRsaLine();
    const fresh = summaryOf(parsePublicKey(line));
    expect(fresh.base64).toBe(canonical.toString('base64'));
    const packed = JSON.parse(JSON.stringify(packSummary(line, fresh)));
    expect(packed).toEqual(['rsa', 2048, canonical.toString('base64')]);
    expect(unpackSummary(line, packed)).toEqual(fresh);
    expect(unpackSummary(line, packed)!.fingerprint).toBe(`SHA256:${createHash('sha256').update(canonical).digest('base64').replace(/=+$/, '')}`);
  });

  it.each([
    ['nothing', undefined],
    ['a string', 'rsa'],
    ['an object', { family: 'ed25519', bits: 256 }],
    ['no size', ['ed25519']],
    ['an unknown family', ['certificate', 256]],
    ['bits as text', ['ed25519', '256']],
    ['a base64 that is not text', ['ed25519', 256, 7]],
    ['a type that is not text', ['ed25519', 256, null, 7]],
    ['too many fields', ['ed25519', 256, null, 'ssh-ed25519', 'x']],
  ])('refuses %s (the key is then parsed instead)', (_what, packed) => {
    expect(unpackSummary(LINES[0], packed)).toBeUndefined();
  });
});

describe('keyParser', () => {
  it('answers from the lookup for a text it holds, and parses any other text', () => {
    const [held, other] = LINES;
    const marked: KeySummary = { ...summaryOf(parsePublicKey(held)), fingerprint: 'SHA256:from-the-lookup' };
    const parseKey = keyParser(new Map([[held, marked]]));
    expect(parseKey(held).fingerprint).toBe('SHA256:from-the-lookup');
    expect(parseKey(other)).toEqual(summaryOf(parsePublicKey(other)));
  });

  it('refuses a text the lookup lacks exactly as parsePublicKey does', () => {
    const parseKey = keyParser(new Map([[LINES[0], summaryOf(parsePublicKey(LINES[0]))]]));
    const refusedAlone = (() => {
      try {
        parsePublicKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDamaged');
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    })();
    expect(refusedAlone).not.toBe('accepted');
    expect(() => parseKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDamaged')).toThrow(refusedAlone);
  });
});
