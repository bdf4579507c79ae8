/**
 * core/vars-file.ts: the variable names a vars file defines, as Ansible (PyYAML) reads it, table-driven;
 * and property tests (fast-check) over alias counts up to and far beyond the registry's alias limit
 * (yaml-load.ts MAX_ALIAS_EXPANSIONS): vars files are never expanded, so any count reads, exactly, without a throw.
 */
import fc from 'fast-check';
import { MAX_ALIAS_EXPANSIONS } from '../../src/adapters/yaml-load.js';
import { MAX_VARS_FILE_BYTES, readVarsFile, unreadableVarsFix } from '../../src/core/vars-file.js';

const RUNS = { aliases: 30, bombs: 50, merges: 100, noise: 1000 } as const;

describe('readVarsFile: names', () => {
  it.each([
    ['plain', 'a: 1\ninfra_x: 2\n', ['a', 'infra_x']],
    ['merge with a mapping', '<<: {infra_x: 1}\nb: 1\n', ['b', 'infra_x']],
    ['merge with an alias', 'a: &a {infra_x: 1}\n<<: *a\n', ['a', 'infra_x']],
    ['merge with a list of aliases', 'a: &a {p: 1}\nb: &b {infra_x: 1}\n<<: [*a, *b]\n', ['a', 'b', 'infra_x', 'p']],
    ['merge of a mapping that merges', 'a: &a {<<: {infra_x: 1}}\n<<: *a\n', ['a', 'infra_x']],
    ['any key tagged !!merge merges', 'a: &a {infra_x: 1}\n!!merge z: *a\n', ['a', 'infra_x']],
    ['a quoted << is a plain key', '"<<": {infra_x: 1}\n', ['<<']],
    ['quoted and escaped keys', '"infra_a": 1\n\'infra_b\': 2\n"infra\\u005fc": 3\n', ['infra_a', 'infra_b', 'infra_c']],
    ['\\_ is a no-break space, not _', '"infra\\_x": 1\n', ['infra\u00a0x']],
    ['!!str and !unsafe keys', '!!str infra_a: 1\n!unsafe infra_b: 2\n', ['infra_a', 'infra_b']],
    ['an alias as a key', 'name: &k infra_x\n*k : 1\n', ['infra_x', 'name']],
    ['duplicates name once', 'infra_x: 1\ninfra_x: 2\n', ['infra_x']],
    ['numbers, booleans and null keys are not names', '1: a\ntrue: b\n~: c\n!!int 7: d\n', []],
    ['JSON', '{"infra_x": {"a": [1]}, "y": null}', ['infra_x', 'y']],
    ['empty', '', []],
    ['comments only', '# infra_x: 1\n', []],
    ['a falsy document', 'false\n', []],
    ['one document between markers', '---\ninfra_x: 1\n...\n', ['infra_x']],
    ['BOM and CRLF', '\ufeffinfra_x: 1\r\nyy: 2\r\n', ['infra_x', 'yy']],
  ])('%s', (_, text, names) => {
    expect(readVarsFile(text)).toEqual({ names });
    expect(readVarsFile(Buffer.from(text))).toEqual({ names });
  });
});

describe('readVarsFile: what infra cannot read is unreadable, with its line', () => {
  it.each([
    ['a comment without a space (PyYAML reads it)', 'infra_x: 1\nrooms: [1]#max\n', /^is not YAML infra can read/, 2],
    ['broken YAML', 'a: 1\nb: [\n', /^is not YAML infra can read/, 3],
    ['a whole-file vault', '$ANSIBLE_VAULT;1.1;AES256\n6162\n', /ansible-vault/, undefined],
    ['two documents', 'a: 1\n---\nb: 2\n', /several YAML documents/, 2],
    ['an empty second document', 'a: 1\n---\n', /several YAML documents/, 2],
    ['a list', '- a\n', /not a mapping/, 1],
    ['a scalar', 'hello\n', /not a mapping/, 1],
    ['a list as a key', '? [a]\n: 1\n', /mapping or list used as a key/, 1],
    ['an unknown tag on a key', 'a: 1\n!foo infra_x: 1\n', /tagged !foo/, 2],
    ['a merge of a scalar', 'a: 1\n<<: 1\n', /not a mapping/, 2],
    ['a merge of a list holding a scalar', '<<: [{a: 1}, 2]\n', /not a mapping/, 1],
    ['an empty merge', '<<:\n', /not a mapping/, 1],
    ['an alias without an anchor', '<<: *nowhere\n', /./, 1],
  ])('%s', (_, text, message, line) => {
    const r = readVarsFile(text);
    expect(r).toEqual({ unreadable: expect.stringMatching(message), ...(line === undefined ? {} : { line }) });
  });

  it('bytes that are not UTF-8, and a file over the size limit (not decoded at all)', () => {
    expect(readVarsFile(Buffer.from('a: caf\xe9\n', 'latin1'))).toEqual({ unreadable: 'is not valid UTF-8 text' });
    expect(readVarsFile(new Uint8Array(MAX_VARS_FILE_BYTES + 1))).toEqual({ unreadable: expect.stringMatching(/^is larger than 16 MB/) });
  });

  it('deep nesting is unreadable, not a stack overflow', () => {
    expect(readVarsFile(`a: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`)).toEqual({ unreadable: expect.any(String), line: expect.any(Number) });
  });

  it('each fix names the file and the way out', () => {
    expect(unreadableVarsFix('g/x.yml', 'is encrypted as a whole with ansible-vault, so…')).toContain('ansible-vault encrypt_string');
    expect(unreadableVarsFix('g/x.yml', 'holds several YAML documents (---), …')).toContain('g/x.yml');
    expect(unreadableVarsFix('g/x.yml', 'is not YAML infra can read (…)')).toContain('infra check');
  });
});

describe(`readVarsFile: aliases up to and beyond the registry's limit (${MAX_ALIAS_EXPANSIONS}) (properties)`, () => {
  it(`any number of aliases of one anchor reads every name exactly (${RUNS.aliases} runs, up to ${MAX_ALIAS_EXPANSIONS * 20} aliases)`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_ALIAS_EXPANSIONS * 20 }), fc.boolean(), fc.boolean(), (count, mapAnchor, withInfra) => {
        const anchor = mapAnchor ? 'x: &x {infra_inner: [1, 2]}' : 'x: &x [1, 2, 3]';
        const lines = [anchor, ...Array.from({ length: count }, (_, i) => `v${i}: *x`), ...(withInfra ? ['infra_authorized_keys: *x'] : [])];
        const expected = ['x', ...Array.from({ length: count }, (_, i) => `v${i}`), ...(withInfra ? ['infra_authorized_keys'] : [])].sort();
        expect(readVarsFile(`${lines.join('\n')}\n`)).toEqual({ names: expected });
      }),
      { numRuns: RUNS.aliases },
    );
  });

  it(`an alias bomb (levels × aliases each, up to 10^12 copies expanded) reads its names without expanding (${RUNS.bombs} runs)`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 2, max: 10 }), (levels, width) => {
        const lines = ['l0: &l0 [lol]'];
        for (let i = 1; i <= levels; i++) lines.push(`l${i}: &l${i} [${Array.from({ length: width }, () => `*l${i - 1}`).join(', ')}]`);
        lines.push(`infra_x: *l${levels}`);
        expect(readVarsFile(`${lines.join('\n')}\n`)).toEqual({ names: [...Array.from({ length: levels + 1 }, (_, i) => `l${i}`), 'infra_x'].sort() });
      }),
      { numRuns: RUNS.bombs },
    );
  });

  it(`a chain of merges of merges (each merging the last one twice) reads in linear time (${RUNS.merges} runs, up to 60 levels)`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), (levels) => {
        const lines = ['m0: &m0 {infra_deep: 1}'];
        for (let i = 1; i <= levels; i++) lines.push(`m${i}: &m${i} {<<: [*m${i - 1}, *m${i - 1}], k${i}: 1}`);
        lines.push(`<<: *m${levels}`);
        const expected = new Set(['infra_deep', ...Array.from({ length: levels + 1 }, (_, i) => `m${i}`), ...Array.from({ length: levels }, (_, i) => `k${i + 1}`)]);
        expect(readVarsFile(`${lines.join('\n')}\n`)).toEqual({ names: [...expected].sort() });
      }),
      { numRuns: RUNS.merges },
    );
  });

  it(`never throws on arbitrary text or bytes (${RUNS.noise} runs)`, () => {
    const yamlish = fc.array(fc.constantFrom('<<', ': ', '&a', '*a', '[', ']', '{', '}', '\n', '- ', 'infra_x', '!!merge ', '!!str ', '"', "'", '#', '---\n', '? ', ',', ' ', '\t', '|', '>', '%YAML 1.1\n'), { maxLength: 40 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(yamlish, fc.string(), fc.uint8Array({ maxLength: 64 })), (input) => {
        const r = readVarsFile(input);
        expect('names' in r || 'unreadable' in r).toBe(true);
      }),
      { numRuns: RUNS.noise },
    );
  });
});
