/**
 * Property (campaign): the YAML source editor (src/lib/yaml-edit.ts) does exactly the edit asked
 * and nothing else. For random member.yml files that validate (random names, keys, peers, groups in flow
 * or block style, comment lines sprinkled in) and a random edit — set a scalar, append an SSH key entry,
 * remove an item of a list — the result parses, the parsed data equals the data expected from the edit, and
 * every line outside the edited stretch (computed from the original document's node ranges) is byte-identical.
 */
import fc from 'fast-check';
import { isSeq, parse, parseDocument, stringify, type Node as YamlNode } from 'yaml';
import { validateMember } from '../../src/core/validate.js';
import { YamlSourceEditor, type YamlPath } from '../../src/lib/yaml-edit.js';
import { ed25519Line } from '../helpers/registry-fixture.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 400);

const KEY_LINES = ['a', 'b', 'c', 'd', 'e'].map((label) => ed25519Line(`yaml-edit-${label}`, `${label}@host`));
const WG = (n: number) => Buffer.alloc(32, n + 1).toString('base64');

// Free text as people write names: YAML indicators, quotes, '#', unicode; no controls (validation refuses them).
const freeText = fc.oneof(
  fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !/[\p{Cc}\p{Cs}\u2028\u2029\ufeff]/u.test(s) && s.trim() === s && s !== ''),
  fc.constantFrom('Zoë O\'Brien', 'a: b', '- x', '# not a comment', 'x #y', '"quoted"', "'single'", '[flow]', '{map}', '&anchor', '*alias', '!tag', '|', '>', '@at', '`tick`', 'yes', 'null', '~', '123', '0x1F', '2026-01-01', 'Ωμέγα', '名前', 'a  b'),
);
const nameRe = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,12}$/);

interface MemberShape {
  data: Record<string, unknown>;
  flowGroups: boolean;
  comments: number[]; // line indexes before which a comment line goes (at that line's indentation)
}

const memberShape: fc.Arbitrary<MemberShape> = fc
  .record({
    name: freeText,
    org: fc.constantFrom('hypha', 'agaric', 'example-coop'),
    email: fc.option(fc.constantFrom('a@example.org', 'x.y+z@hypha.example'), { nil: undefined }),
    groups: fc.uniqueArray(fc.constantFrom('infra', 'meet-tech', 'web', 'ops'), { maxLength: 4 }),
    keys: fc.uniqueArray(fc.tuple(nameRe, fc.integer({ min: 0, max: KEY_LINES.length - 1 })), { maxLength: 4, selector: ([n, k]) => `${n.toLowerCase()}|${k}` }),
    peers: fc.uniqueArray(nameRe, { maxLength: 2, selector: (n) => n.toLowerCase() }),
    flowGroups: fc.boolean(),
    comments: fc.array(fc.nat({ max: 60 }), { maxLength: 5 }),
  })
  .map((r) => {
    // one key per key line (a key may be registered once), names unique
    const seenKey = new Set<number>();
    const seenName = new Set<string>();
    const keys = r.keys.filter(([n, k]) => !seenKey.has(k) && !seenName.has(n.toLowerCase()) && (seenKey.add(k), seenName.add(n.toLowerCase())));
    const data: Record<string, unknown> = {
      name: r.name,
      kind: 'human',
      org: r.org,
      ...(r.email ? { email: r.email } : {}),
      status: 'active',
      groups: r.groups,
      ssh_keys: keys.map(([name, k]) => ({ name, key: KEY_LINES[k], added: '2026-01-01' })),
      vpn_peers: r.peers.map((device, i) => ({ device, network: 'meet', public_key: WG(i), addresses: [`10.77.0.${i + 2}/32`], added: '2026-01-02' })),
    };
    return { data, flowGroups: r.flowGroups, comments: r.comments };
  });

/** The member as a file a person might have written: block style, groups flow or block, comment lines here and there. */
function memberText(shape: MemberShape): string {
  const doc = parseDocument(stringify(shape.data, { lineWidth: 0 }));
  const groups = doc.get('groups', true);
  if (isSeq(groups)) groups.flow = shape.flowGroups;
  const lines = doc.toString({ lineWidth: 0 }).split('\n');
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (shape.comments.includes(i) && line !== '') out.push(`${/^\s*/.exec(line)![0]}# note ${i}`);
    out.push(line);
  });
  return out.join('\n');
}

type Edit =
  | { op: 'set'; path: YamlPath; value: string }
  | { op: 'append'; path: YamlPath; item: Record<string, string> }
  | { op: 'remove'; path: YamlPath; index: number };

/** A random edit that applies to `data`. */
function editFor(data: Record<string, any>): fc.Arbitrary<Edit> {
  const paths: YamlPath[] = [['name'], ['org'], ...data.ssh_keys.map((_: unknown, i: number) => ['ssh_keys', i, 'name']), ...data.vpn_peers.map((_: unknown, i: number) => ['vpn_peers', i, 'device'])];
  if (data.email) paths.push(['email']);
  const lists = (['ssh_keys', 'vpn_peers', 'groups'] as const).filter((k) => data[k].length > 0);
  const unusedKeys = KEY_LINES.filter((line) => !data.ssh_keys.some((k: { key: string }) => k.key === line));
  const edits: Array<fc.Arbitrary<Edit>> = [fc.tuple(fc.constantFrom(...paths), freeText).map(([path, value]) => ({ op: 'set' as const, path, value }))];
  if (unusedKeys.length)
    edits.push(
      fc.tuple(fc.constantFrom(...unusedKeys), fc.constantFrom('new', 'spare-2', 'x.y_z')).map(([key, name]) => ({ op: 'append' as const, path: ['ssh_keys'], item: { name: `${name}${data.ssh_keys.length}`, key, added: '2026-11-29' } })),
    );
  if (lists.length)
    edits.push(
      fc
        .constantFrom(...lists)
        .chain((list) => fc.nat({ max: data[list].length - 1 }).map((index) => ({ op: 'remove' as const, path: [list], index }))),
    );
  return fc.oneof(...edits);
}

function expectedData(data: Record<string, any>, edit: Edit): Record<string, any> {
  const copy = structuredClone(data);
  if (edit.op === 'set') {
    let at: any = copy;
    for (const k of edit.path.slice(0, -1)) at = at[k];
    at[edit.path[edit.path.length - 1]] = edit.value;
  } else if (edit.op === 'append') copy[edit.path[0]].push(edit.item);
  else copy[edit.path[0]].splice(edit.index, 1);
  return copy;
}

const lineOf = (text: string, offset: number) => text.slice(0, offset).split('\n').length - 1;

/** The lines [first, last] of the original an edit may touch: the scalar's lines, the list (key line to its end), or the item with the comment lines above it (and the key's line when it was the last item). */
function editedStretch(text: string, edit: Edit): [number, number] {
  const doc = parseDocument(text);
  if (edit.op === 'set') {
    const node = doc.getIn(edit.path, true) as YamlNode;
    return [lineOf(text, node.range![0]), lineOf(text, node.range![1])];
  }
  const seq = doc.getIn(edit.path, true) as YamlNode;
  const pair = (doc.contents as any).items.find((p: any) => p.key.value === edit.path[0]);
  if (edit.op === 'append') return [lineOf(text, pair.key.range[0]), lineOf(text, seq.range![1])];
  const item = (seq as any).items[edit.index] as YamlNode;
  let first = lineOf(text, item.range![0]);
  const lines = text.split('\n');
  while (first > 0 && /^\s*#/.test(lines[first - 1])) first--;
  // the last item going leaves `key: []` on the key's line
  if ((seq as any).items.length === 1) first = Math.min(first, lineOf(text, pair.key.range[0]));
  // a flow list is one line; a block item ends where its last value does
  return [first, Math.max(lineOf(text, item.range![1]), (seq as any).flow ? lineOf(text, seq.range![1]) : 0)];
}

describe('YamlSourceEditor under random edits of random member.yml files', () => {
  it(`the result parses to exactly the edited data, and lines outside the edited stretch are untouched (${RUNS} runs)`, () => {
    let counts = { set: 0, append: 0, remove: 0 };
    fc.assert(
      fc.property(
        memberShape.chain((shape) => fc.tuple(fc.constant(shape), editFor(shape.data))),
        ([shape, edit]) => {
          const before = memberText(shape);
          expect(validateMember('alice', parse(before), 'keys/alice/member.yml').problems).toEqual([]);
          expect(parse(before)).toEqual(shape.data);
          const editor = new YamlSourceEditor(before);
          if (edit.op === 'set') editor.set(edit.path, edit.value);
          else if (edit.op === 'append') editor.append(edit.path, edit.item);
          else editor.remove(edit.path, edit.index);
          counts = { ...counts, [edit.op]: counts[edit.op] + 1 };
          const after = editor.text;
          expect(parse(after)).toEqual(expectedData(shape.data, edit));
          // byte-identical outside the stretch: the same lines before it, the same lines after it
          const [first, last] = editedStretch(before, edit);
          const a = before.split('\n');
          const b = after.split('\n');
          expect(b.slice(0, first)).toEqual(a.slice(0, first));
          const tail = a.length - (last + 1);
          expect(b.slice(b.length - tail)).toEqual(a.slice(a.length - tail));
          expect(b.length - tail).toBeGreaterThanOrEqual(first);
        },
      ),
      { numRuns: RUNS },
    );
    console.log(`yaml-edit property: ${RUNS} runs (set ${counts.set}, append ${counts.append}, remove ${counts.remove})`);
    expect(Math.min(counts.set, counts.append, counts.remove)).toBeGreaterThan(0);
  }, 120_000);
});
