/**
 * key comments with right-to-left overrides, C1 controls and other format characters
 * reach no terminal and no --json raw. One sanitiser (src/lib/style.ts `clean`) for terminal text,
 * `jsonText` for --json (the same JSON to a parser, escaped for a terminal).
 */
import { checkAuthorizedKeys, parsePublicKey, sshKeygenLine } from '../../src/core/ssh-key.js';
import { DEFAULT_POLICY } from '../../src/core/types.js';
import { clean, jsonText, table } from '../../src/lib/style.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlCsqvRBr+srjv79hbGTcCIGVkPj2PEqDevM3LWOH/j';

const HOSTILE: Array<[string, string]> = [
  ['right-to-left override', 'alice\u202Egpj.exe'],
  ['right-to-left isolate', 'a\u2067b\u2069c'],
  ['left-to-right mark and Arabic letter mark', 'a\u200Eb\u061Cc'],
  ['C1 CSI (an escape sequence in one byte)', 'a\u009B31mred'],
  ['NEL', 'a\u0085b'],
  ['ESC', 'a\u001B[2Jb'],
  ['zero-width space and joiner', 'ad\u200Bmin\u200D'],
  ['byte order mark inside', 'a\uFEFFb'],
  ['soft hyphen', 'ad\u00ADmin'],
  ['tag characters', 'a\u{E0041}\u{E007F}b'],
  ['line separator', 'a\u2028b'],
];
/** Everything a terminal could act on or reorder. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

describe('key comments on display', () => {
  it.each(HOSTILE)('%s: the keys check line, cleaned, holds nothing unsafe and keeps the printable rest', (_label, comment) => {
    const report = checkAuthorizedKeys(`${KEY} ${comment}\n`, DEFAULT_POLICY.ssh);
    expect(report.keys[0].comment).toBe(comment); // the data is kept as written
    const shown = clean(sshKeygenLine(parsePublicKey(`${KEY} ${comment}`)));
    expect(shown).not.toMatch(UNSAFE);
    expect(shown).toContain(comment.replace(/[^a-z]/g, '').slice(0, 1));
    expect(table(['COMMENT'], [[comment]])).not.toMatch(/[\p{Cf}\p{Zl}\p{Zp}\u0080-\u009f\u001b]/u);
  });

  it.each(HOSTILE)('%s: --json escapes it, and parses back to the very same comment', (_label, comment) => {
    const report = checkAuthorizedKeys(`${KEY} ${comment}\n`, DEFAULT_POLICY.ssh);
    const text = jsonText(report);
    expect(text.replace(/\n/g, '')).not.toMatch(UNSAFE);
    expect(JSON.parse(text)).toEqual(report);
  });

  it('clean leaves printable text alone (accents, CJK, emoji without joiners, tab-free ASCII)', () => {
    for (const s of ['café', '日本語', 'alice@laptop (work)', '🙂']) expect(clean(s)).toBe(s);
  });
});

describe('talk on stderr', () => {
  it('keeps line breaks and our colours, replaces every other escape and reordering character', async () => {
    const { cleanTalk } = await import('../../src/lib/style.js');
    expect(cleanTalk('\u001b[31mhigh\u001b[39m ok\nnext')).toBe('\u001b[31mhigh\u001b[39m ok\nnext');
    expect(cleanTalk('remote said \u001b]0;pwned\u0007 \u202eevil\r')).not.toMatch(/[\u0007\u001b\u202e\r]/);
  });
});
