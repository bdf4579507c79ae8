/**
 * Suggested commands are pasted into a shell: every word that comes from data is quoted (lib/shell-quote.ts),
 * so a hostile wg interface name, host name or email never runs anything. Checked with a real POSIX shell:
 * the suggested command, its program replaced by `printf '%s\0'`, prints exactly the words meant.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { auditFindings } from '../../src/core/audit.js';
import { DEFAULT_POLICY, type InfraConfig, type Member } from '../../src/core/types.js';
import { vpnStatus } from '../../src/core/vpn-plan.js';
import { parseWgDump } from '../../src/core/wg-dump.js';
import { shellCommand, shellQuote } from '../../src/lib/shell-quote.js';

const HOSTILE = ['wg0;touch /tmp/infra-pwned', '$(id)', '`id`', "it's", 'a b', '-rf', '=x', '*', 'x\\y', '~root', '!!', 'a|b&c>d', '"q"', ''];

/** A fix shows its commands between backticks, so names holding one are left to the property above. */
const IN_FIX = HOSTILE.filter((h) => h !== '' && !h.includes('`'));

/** The words `sh` gives a command line, its first word replaced by printf; undefined when sh refuses it. */
function wordsOf(line: string): string[] | undefined {
  const r = spawnSync('sh', ['-c', `set -f; printf '%s\\0' ${line.replace(/^\S+/, '')}`], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.split('\0').slice(0, -1) : undefined;
}

/** The commands in a fix: what lies between backticks, or the whole text when it has none. */
const commandsIn = (fix: string) => (fix.includes('`') ? [...fix.matchAll(/`([^`]+)`/g)].map((m) => m[1]) : [fix]);

const SERVER_KEY = 'QsYq4yARL4YyaJLcm/zwkAnSSm5p+SQ/AE3KJduyGlo=';
const STRANGER = 'IaWu2wToMjtbRy9LKNHBef8nMfNpounxr65amMcgdi0=';

/**
 * The words `sh` gives each of many command lines, in one shell: each line's words are printed as `w<word>\0`
 * and each line ends with `e\0`, so a line that took in its neighbour (an unclosed quote) shows as a mismatch.
 * One process instead of one per line: the property's 500 lines cost one spawn.
 */
function wordsOfEach(lines: readonly string[]): string[][] | undefined {
  const script = `set -f\n${lines.map((l) => `printf 'w%s\\0' ${l}; printf 'e\\0'\n`).join('')}`;
  const r = spawnSync('sh', ['-s'], { input: script, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) return undefined;
  const out: string[][] = [[]];
  for (const token of r.stdout.split('\0').slice(0, -1)) {
    if (token === 'e') out.push([]);
    else out[out.length - 1].push(token.slice(1));
  }
  return out.slice(0, -1);
}

describe('shell quoting of suggested commands', () => {
  // 500 runs: what the property had when it proved shellQuote; drawing the cases first lets one sh read them all.
  it('a quoted word reaches the shell as itself, whatever it holds (500 runs)', () => {
    const cases = fc.sample(fc.array(fc.oneof(fc.string({ unit: 'binary' }).map((s) => s.replace(/\0/g, '')), fc.constantFrom(...HOSTILE)), { minLength: 1, maxLength: 4 }), 500);
    const got = wordsOfEach(cases.map((words) => shellCommand(words)));
    // a wrong line shows in the diff as its index: the words meant against the words sh gave
    expect(got).toEqual(cases);
  });

  it('plain words stay as they are (readable commands)', () => {
    expect(shellCommand(['infra', 'keys', 'remove', 'alice', 'old-rsa', 'inventories/production', 'ssh-ed25519', 'a+b/c='])).toBe('infra keys remove alice old-rsa inventories/production ssh-ed25519 a+b/c=');
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  it.each(IN_FIX)('vpn status: `wg set … remove` for an unknown peer on interface %j', (iface) => {
    const dump = parseWgDump(`${iface}\t(none)\t${SERVER_KEY}\t51820\toff\n${iface}\t${STRANGER}\t(none)\t(none)\t10.77.0.99/32\t0\t0\t0\toff\n`);
    const status = vpnStatus(dump, { root: '', config: { org: 'x', admins: [], environments: {}, policy: DEFAULT_POLICY, access: [], vpn: {} } as InfraConfig, members: [] }, 0);
    const fix = status.findings.find((f) => f.code === 'unknown-peer')!.fix;
    const wgSet = commandsIn(fix).find((c) => c.startsWith('wg set'))!;
    expect(wordsOf(wgSet)).toEqual(['set', iface, 'peer', STRANGER, 'remove']);
  });

  it.each(IN_FIX)('audit: the ansible commands for an unreachable host named %j', (host) => {
    const config = { org: 'x', admins: [], environments: { production: 'inv dir/$(id)' }, policy: DEFAULT_POLICY, access: [], vpn: {} } as unknown as InfraConfig;
    const { findings } = auditFindings({ asOf: '2026-12-01', config, members: [], inventories: {}, live: [{ environment: 'production', host, unreachable: 'timed out' }] });
    const fix = findings.find((f) => f.code === 'unreachable-host')!.fix;
    expect(wordsOf(commandsIn(fix)[0])).toEqual(['-i', 'inv dir/$(id)', host, '-m', 'ansible.builtin.ping']);
  });

  it('audit: the gpg export for an admin without a key, whose email is hostile', () => {
    const email = 'a@b.example $(touch /tmp/infra-pwned)';
    const admin: Member = { handle: 'alice', name: 'Alice', kind: 'human', org: 'x', email, status: 'active', groups: [], ssh_keys: [], vpn_peers: [], tokens: [], has_pgp: false };
    const config = { org: 'x', admins: ['alice'], environments: {}, policy: DEFAULT_POLICY, access: [], vpn: {} } as unknown as InfraConfig;
    const fix = auditFindings({ asOf: '2026-12-01', config, members: [admin], inventories: {} }).findings.find((f) => f.code === 'admin-without-pgp')!.fix;
    const gpg = commandsIn(fix).find((c) => c.startsWith('gpg'))!;
    expect(wordsOf(gpg.replace(/ > .*$/, ''))).toEqual(['--export', '--armor', email]);
  });
});
