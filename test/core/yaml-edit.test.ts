import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { YamlSourceEditor } from '../../src/lib/yaml-edit.js';
import { hunk } from '../helpers/diff.js';

const alice = readFileSync(new URL('../../keys/alice/member.yml', import.meta.url), 'utf8');
const config = readFileSync(new URL('../../infra.yml', import.meta.url), 'utf8');


describe('YamlSourceEditor', () => {
  it('changes a scalar in place and keeps the aligned comment after it', () => {
    const e = new YamlSourceEditor(alice);
    e.set(['kind'], 'bot');
    expect(hunk(alice, e.text)).toEqual({
      removed: ['kind: human                     # human | bot'],
      added: ['kind: bot                     # human | bot'],
    });
  });

  it('keeps the quoting style of the scalar it replaces', () => {
    const e = new YamlSourceEditor('a: "x"\nb: \'y\'\nc: z\n');
    e.set(['a'], 'one');
    e.set(['b'], 'two');
    e.set(['c'], 'three');
    expect(e.text).toBe('a: "one"\nb: \'two\'\nc: three\n');
  });

  it('quotes a new value only when plain YAML could not hold it', () => {
    const e = new YamlSourceEditor('a: x\n');
    e.set(['a'], 'yes: no # not a comment');
    expect(parse(e.text)).toEqual({ a: 'yes: no # not a comment' });
  });

  it('inserts a missing key right after the one named', () => {
    const e = new YamlSourceEditor(alice);
    e.set(['departed'], '2026-11-29', 'status');
    expect(hunk(alice, e.text)).toEqual({ removed: [], added: ['departed: 2026-11-29'] });
    expect(e.text.indexOf('departed:')).toBe(e.text.indexOf('status: active\n') + 'status: active\n'.length);
  });

  it('appends an item to a block list with the indentation the list has', () => {
    const e = new YamlSourceEditor(alice);
    e.append(['ssh_keys'], { name: 'phone', key: 'ssh-ed25519 AAAA phone', added: '2026-11-29' });
    expect(hunk(alice, e.text)).toEqual({
      removed: [],
      added: ['  - name: phone', '    key: ssh-ed25519 AAAA phone', '    added: 2026-11-29'],
    });
    expect(parse(e.text).ssh_keys).toHaveLength(3);
  });

  it('turns an empty flow list into a block list holding the item', () => {
    const before = 'name: X\nssh_keys: []  # none yet\nvpn_peers: []\n';
    const e = new YamlSourceEditor(before);
    e.append(['ssh_keys'], { name: 'a', added: '2026-01-01' });
    expect(e.text).toBe('name: X\nssh_keys:  # none yet\n  - name: a\n    added: 2026-01-01\nvpn_peers: []\n');
  });

  it('adds a missing list key at the end of the map', () => {
    const e = new YamlSourceEditor('name: X\n');
    e.append(['tokens'], { name: 't' });
    expect(e.text).toBe('name: X\ntokens:\n  - name: t\n');
  });

  it('appends to a flow list inside the brackets', () => {
    const e = new YamlSourceEditor(alice);
    e.append(['groups'], 'monitoring');
    expect(hunk(alice, e.text)).toEqual({
      removed: ['groups: [infra, meet-tech]      # infra.yml `access` says what each group may reach'],
      added: ['groups: [infra, meet-tech, monitoring]      # infra.yml `access` says what each group may reach'],
    });
  });

  it('removes one item of a block list with exactly its lines', () => {
    const e = new YamlSourceEditor(alice);
    e.remove(['ssh_keys'], 0);
    const d = hunk(alice, e.text);
    expect(d.added).toEqual([]);
    expect(d.removed).toEqual([
      '  - name: laptop',
      '    key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFo2IXczivU5tXGT38HuDKMZWmj3o/lif7hnRsrTSa2R alice@laptop',
      '    added: 2026-03-01',
      '    expires: 2027-03-01         # rendered as expiry-time="20270301"',
    ]);
  });

  it('removes the last item of a list and leaves an empty list', () => {
    const e = new YamlSourceEditor(alice);
    e.remove(['vpn_peers'], 0);
    expect(e.text.endsWith('vpn_peers: []\n')).toBe(true);
    expect(parse(e.text).vpn_peers).toEqual([]);
    expect(parse(e.text).ssh_keys).toHaveLength(2);
  });

  it('removes a value from a flow list in infra.yml and touches nothing else', () => {
    const e = new YamlSourceEditor(config);
    e.removeValue(['admins'], 'bob');
    expect(hunk(config, e.text)).toEqual({ removed: ['admins: [alice, bob]'], added: ['admins: [alice]'] });
    e.removeValue(['admins'], 'alice');
    expect(parse(e.text).admins).toEqual([]);
  });

  it('replaces a list with setList, and writes nothing when it is equal', () => {
    const e = new YamlSourceEditor(alice);
    e.setList(['groups'], ['infra', 'meet-tech']);
    expect(e.text).toBe(alice);
    e.setList(['groups'], ['infra']);
    expect(hunk(alice, e.text).added).toEqual(['groups: [infra]      # infra.yml `access` says what each group may reach']);
  });

  it('sets a nested scalar in a list item', () => {
    const e = new YamlSourceEditor(alice);
    e.set(['vpn_peers', 0, 'public_key'], 'x'.repeat(43) + '=');
    const d = hunk(alice, e.text);
    expect(d.removed).toEqual(['    public_key: S1240y2EcZQzU3bYNbcIs8IbU0s5CqN9dxWsyf6VZAI=']);
    expect(d.added).toEqual([`    public_key: ${'x'.repeat(43)}=`]);
  });
});

describe('YamlSourceEditor removing a described item', () => {
  it('takes the comment lines right above an item with it', () => {
    const e = new YamlSourceEditor(alice);
    e.remove(['ssh_keys'], 1);
    const d = hunk(alice, e.text);
    expect(d.removed[0]).toBe('  # Short-lived key for a borrowed workstation: expires within the audit horizon.');
    expect(d.removed).toHaveLength(5);
    expect(parse(e.text).ssh_keys.map((k: { name: string }) => k.name)).toEqual(['laptop']);
  });
});
