/**
 * Keeps the class closed: a new hint, fix or "next:" line that puts a value into a pasteable command without
 * shellQuote/shellCommand fails here (test/helpers/unquoted-commands.ts scans every template literal under
 * src/). The few `${…}` the scan finds that are not a word of a command to paste are listed with the reason.
 */
import path from 'node:path';
import { REPO_ROOT } from '../helpers/example.js';
import { unquotedInSource, unquotedInTree } from '../helpers/unquoted-commands.js';

/** file, expression: why it is not a word of a pasteable command. */
const NOT_A_COMMAND: Array<[string, string, string]> = [
  ['src/adapters/signature-check.ts', 'valid.handle', "prose: `ssh-keygen -Y verify refused alice's key …` reports a result, it is not run"],
  ['src/adapters/signature-check.ts', 'fingerprint', 'prose, as above'],
  ['src/adapters/registry-lock.ts', 'holder.command', "the lock holder's own command line as it recorded it (several words), shown to say who holds the lock"],
  ['src/core/private-material.ts', 'q', 'already the output of shellQuote(m.file), named once because it is used twice'],
];

describe('suggested commands in src/ quote every word that comes from data', () => {
  it('no template literal puts an unquoted value into a command to paste', () => {
    const found = unquotedInTree(path.join(REPO_ROOT, 'src'), REPO_ROOT).map((u) => [u.file, u.expression]);
    const allowed = NOT_A_COMMAND.map(([file, expression]) => [file, expression]);
    expect(found.filter((f) => !allowed.some((a) => a[0] === f[0] && a[1] === f[1]))).toEqual([]);
    // an exception that no longer exists is dropped from the list, so the list stays the truth
    expect(allowed.filter((a) => !found.some((f) => a[0] === f[0] && a[1] === f[1]))).toEqual([]);
  });
});

describe('the scan finds what it must, and only that', () => {
  const scan = (code: string) => unquotedInSource('x.ts', code).map((u) => u.expression);

  it.each([
    ['a hint', 'const hint = `infra members show ${handle}`;', ['handle']],
    ['inside backticks in prose', 'const m = `run \\`git -C ${root} log\\` to see`;', ['root']],
    ['after a colon', 'const h = `restore it from git: git checkout -- ${rel}`;', ['rel']],
    ['inside a condition', 'const h = `infra vpn rekey ${shellQuote(h)}${out ? ` --out ${out}` : ""}`;', ['out ? ` --out ${out}` : ""']],
    ['a gpg export', 'const h = `gpg --export --armor ${email} > x.asc`;', ['email']],
    ['a wg command', 'const h = `wg set ${iface} peer ${shellQuote(key)} remove`;', ['iface']],
    ['a command name as the data', 'const h = `infra ${id} --help`;', ['id']],
    ['an rm of a path', 'const h = `remove the lock: rm ${lockPath}`;', ['lockPath']],
    ['a flag suggestion', 'const h = `pass --network ${names[0]}`;', ['names[0]']],
  ])('flags %s', (_what, code, expected) => {
    expect(scan(code)).toEqual(expected);
  });

  it.each([
    ['quoted words', 'const h = `infra keys add ${shellQuote(handle)} KEY.pub`;'],
    ['a whole command', 'const h = `check with \\`${shellCommand(["ansible", "-i", folder])}\\``;'],
    ['literal alternatives', "const h = `infra members add x${kind === 'human' ? ' --email EMAIL' : ' --bot'}`;"],
    ['prose before the command', 'const h = `${handle} has departed: see \\`infra members list\\``;'],
    ['prose after a backticked command', 'const h = `run \\`infra render\\` for ${env}`;'],
    ['prose naming infra', 'const m = `a killed infra left: ${files}`;'],
    ['prose after a command ended by a comma', 'const m = `infra audit, ${asOf}: ok`;'],
  ])('leaves %s alone', (_what, code) => {
    expect(scan(code)).toEqual([]);
  });
});
