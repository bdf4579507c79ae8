/**
 * Tables fit the terminal (docs/reference.md "stdout and stderr"): at COLUMNS=80, over the example
 * registry, every line of the table commands and `keys check` is at most 80 columns and no word is broken
 * across lines: a long word is split only after `/`, `,` or `:`, or cut with … (a fingerprint, a key).
 * The same commands in a pipe without COLUMNS are the reference: every word the narrow output shows must
 * come from it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { spawnCli } from '../helpers/cli.js';
import { copyExample } from '../helpers/example.js';

const COMMANDS = [['tokens', 'list'], ['keys', 'list'], ['members', 'list'], ['vpn', 'list'], ['audit']];

/** The example's key lines as two authorized_keys files, one of them under a long folder name. */
async function keyFiles(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const handle of await fs.readdir(path.join(dir, 'keys'))) {
    const text = await fs.readFile(path.join(dir, 'keys', handle, 'member.yml'), 'utf8');
    for (const m of text.matchAll(/^\s+key: (.+)$/gm)) lines.push(m[1].trim());
  }
  await fs.mkdir(path.join(dir, 'checks/a-rather-long-folder-name'), { recursive: true });
  await fs.writeFile(path.join(dir, 'checks/all.keys'), `${lines.join('\n')}\n`);
  await fs.writeFile(path.join(dir, 'checks/a-rather-long-folder-name/more.keys'), `${lines.slice(0, 4).join('\n')}\n`);
  return ['checks/all.keys', 'checks/a-rather-long-folder-name/more.keys'];
}

/** Each narrow word is a wide word, a piece of one split after / , or :, or a cut (…) prefix of one. */
function brokenWords(narrow: string, wide: string): string[] {
  const words = new Set(wide.split(/\s+/).filter(Boolean));
  const whole = [...words];
  const bad: string[] = [];
  for (const w of narrow.split(/\s+/).filter(Boolean)) {
    if (words.has(w)) continue;
    if (w.endsWith('…') && whole.some((x) => x.startsWith(w.slice(0, -1)))) continue;
    const piece = whole.some((x) => x.includes(w) && (x.startsWith(w) || /[/,:]$/.test(x.slice(0, x.indexOf(w)))) && (x.endsWith(w) || /[/,:]$/.test(w)));
    if (!piece) bad.push(w);
  }
  return bad;
}

it.each(COMMANDS.map((c) => [c.join(' '), c]))('%s at COLUMNS=80: every line fits, no word is broken', async (_name, words) => {
  const dir = await copyExample();
  const narrow = await spawnCli([...(words as string[]), '--dir', dir], { env: { COLUMNS: '80' } });
  const wide = await spawnCli([...(words as string[]), '--dir', dir], { env: { COLUMNS: '' } });
  expect(narrow.code).toBe(wide.code);
  expect(narrow.stdout.split('\n').filter((l) => [...l].length > 80)).toEqual([]);
  expect(brokenWords(narrow.stdout, wide.stdout)).toEqual([]);
  expect(wide.stdout.split(/\s+/).filter(Boolean).some((w) => [...w].length > 1 && narrow.stdout.includes(w))).toBe(true);
});

it('keys check at COLUMNS=80: the verdict moves to a continuation line, nothing longer than 80', async () => {
  const dir = await copyExample();
  const files = await keyFiles(dir);
  const narrow = await spawnCli(['keys', 'check', ...files], { cwd: dir, env: { COLUMNS: '80' } });
  const wide = await spawnCli(['keys', 'check', ...files], { cwd: dir, env: { COLUMNS: '' } });
  expect([narrow.code, wide.code]).toEqual([4, 4]); // erin's 2048-bit RSA key fails the policy
  expect(narrow.stdout.split('\n').filter((l) => [...l].length > 80)).toEqual([]);
  expect(brokenWords(narrow.stdout, wide.stdout)).toEqual([]);
  // in a pipe each key is one line, verdict last, as today
  const rsa = wide.stdout.split('\n').find((l) => l.includes('(RSA)') && l.includes('FAIL'))!;
  expect(rsa.length).toBeGreaterThan(80);
  const lines = narrow.stdout.split('\n');
  const at = lines.findIndex((l) => /^ {4}FAIL: RSA key of 2048 bits/.test(l));
  expect(at).toBeGreaterThan(0);
  expect(lines[at - 1]).toMatch(/\(RSA\)$/); // the whole ssh-keygen line comes first, the verdict after it
  expect(lines.filter((l) => l.includes('SHA256:'))).toHaveLength(wide.stdout.split('\n').filter((l) => l.includes('SHA256:')).length);
});

it('keys list at COLUMNS=80 gives way in the fingerprint, not the note: every word of every note is shown whole', async () => {
  const dir = await copyExample();
  const narrow = await spawnCli(['keys', 'list', '--dir', dir], { env: { COLUMNS: '80' } });
  const json = await spawnCli(['keys', 'list', '--dir', dir, '--json']);
  const keys = JSON.parse(json.stdout).keys as Array<{ problems: string[]; marks: Array<{ note: string }> }>;
  const noteWords = keys.flatMap((k) => [...k.problems, ...k.marks.map((m) => m.note)]).join(' ').split(/\s+/).filter(Boolean);
  expect(noteWords.length).toBeGreaterThan(5);
  const shown = new Set(narrow.stdout.split(/\s+/));
  expect(noteWords.filter((w) => !shown.has(w))).toEqual([]);
});


it('vpn list at COLUMNS=80 shows every address whole (a grep finds it), one per line when they do not fit', async () => {
  const dir = await copyExample();
  const narrow = await spawnCli(['vpn', 'list', '--dir', dir], { env: { COLUMNS: '80' } });
  const json = await spawnCli(['vpn', 'list', '--dir', dir, '--json']);
  const addresses = (JSON.parse(json.stdout).peers as Array<{ addresses: string[] }>).flatMap((p) => p.addresses);
  expect(addresses.some((a) => a.includes(':'))).toBe(true); // IPv6 addresses, the long ones
  const shown = new Set(narrow.stdout.split(/[\s,]+/));
  expect(addresses.filter((a) => !shown.has(a))).toEqual([]);
  expect(narrow.stdout.split('\n').filter((l) => [...l].length > 80)).toEqual([]);
});
