import {
  expandHostRange,
  hostsOfGroup,
  iniValue,
  looksLikeYamlInventory,
  mergeInventories,
  parseIniInventory,
  parseYamlInventory,
  shlexSplit,
  unsafeHostNameReason,
  type Inventory,
} from '../../src/core/inventory.js';
import { thrown } from '../helpers/thrown.js';

const groupHosts = (inv: Inventory, name: string) => [...inv.groups.get(name)!.hosts];
const children = (inv: Inventory, name: string) => [...inv.groups.get(name)!.children];


describe('parseIniInventory', () => {
  const text = [
    '# top comment',
    'jump.example.coop ansible_host=203.0.113.2',
    '; another comment',
    '[prod:children]',
    'bbb',
    'web   # trailing comment',
    '',
    '[bbb]',
    'bbb[01:03].meet.coop',
    'edge-[a:c] ansible_user=edge',
    '',
    '[web]',
    'web1:2222 ansible_host="203.0.113.31" weight=3 ratio=0.5 enabled=True nothing=None quoted=\'7\'',
    'jump.example.coop',
    '',
    '[prod:vars]',
    'env = production',
    '',
    '[all:vars]',
    'ansible_python_interpreter=/usr/bin/python3',
  ].join('\n');
  const inv = parseIniInventory(text, 'inventories/prod/hosts');

  it('expands ranges and keeps hosts in file order', () => {
    expect([...inv.hosts.keys()]).toEqual([
      'jump.example.coop',
      'bbb01.meet.coop',
      'bbb02.meet.coop',
      'bbb03.meet.coop',
      'edge-a',
      'edge-b',
      'edge-c',
      'web1',
    ]);
  });

  it('declares groups on first sight and links children declared before their group', () => {
    expect([...inv.groups.keys()]).toEqual(['all', 'ungrouped', 'prod', 'bbb', 'web']);
    expect(children(inv, 'prod')).toEqual(['bbb', 'web']);
    expect(children(inv, 'all')).toEqual(['ungrouped', 'prod']);
  });

  it('drops a host from ungrouped once a group lists it', () => {
    expect(groupHosts(inv, 'ungrouped')).toEqual([]);
    expect(groupHosts(inv, 'web')).toEqual(['web1', 'jump.example.coop']);
  });

  it('keeps inline vars with Python literal types, and the port as ansible_port', () => {
    expect(inv.hosts.get('web1')!.vars).toEqual({
      ansible_port: 2222,
      ansible_host: '203.0.113.31',
      weight: 3,
      ratio: 0.5,
      enabled: true,
      nothing: null,
      quoted: 7, // shlex removes the quotes first, as in Ansible
    });
    expect(inv.hosts.get('edge-b')!.vars).toEqual({ ansible_user: 'edge' });
    expect(inv.groups.get('prod')!.vars).toEqual({ env: 'production' });
    expect(inv.groups.get('all')!.vars).toEqual({ ansible_python_interpreter: '/usr/bin/python3' });
  });

  it('lists each host with every group it is in, directly or through children', () => {
    expect([...inv.hosts.get('bbb02.meet.coop')!.groups]).toEqual(['all', 'prod', 'bbb']);
    expect([...inv.hosts.get('jump.example.coop')!.groups]).toEqual(['all', 'prod', 'web']);
  });

  it('orders `all` like Ansible: all, then each level of children, own hosts before children', () => {
    expect(inv.hostOrder).toEqual(['bbb01.meet.coop', 'bbb02.meet.coop', 'bbb03.meet.coop', 'edge-a', 'edge-b', 'edge-c', 'web1', 'jump.example.coop']);
  });

  it('keeps hosts that no section lists in ungrouped', () => {
    const lone = parseIniInventory('a\nb\n[g]\nc\n', 'hosts');
    expect(groupHosts(lone, 'ungrouped')).toEqual(['a', 'b']);
    expect(lone.hostOrder).toEqual(['a', 'b', 'c']);
  });

  it.each([
    ['[web:kids]\nweb1\n', 1, 'unknown type'],
    ['[a:children]\nb\n', 2, "includes group 'b', which is never declared"],
    ['[a:vars]\nx=1\n', 1, 'never declared'],
    ['[a]\nweb1 "unclosed\n', 2, 'No closing quotation'],
    ['[a]\nweb1 novalue\n', 2, 'expected key=value'],
    ['[a:vars]\nnovalue\n[a]\n', 2, 'expected key=value'],
    ['\n[a]\nweb[01:3]\n', 3, 'equal length'],
    ['[bad group]\n', 1, 'invalid section'],
    ['[a]\n../x\n', 2, 'escape'],
    ['[a]\n.hidden\n', 2, "starts with '.'"],
    ['[a]\nsub/host\n', 2, 'path separator'],
    ['[a]\nweb1:\n', 2, "ends in ':'"],
    ['[a:children]\nb\n[b:children]\na\n', 4, 'loop'],
  ])('rejects %j at line %i (%s)', (input, line, message) => {
    const error = thrown(() => parseIniInventory(input, 'inventories/x/hosts'));
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain(`inventories/x/hosts:${line}:`);
    expect(error.message).toContain(message);
    expect(error.hint).toContain('ansible-inventory -i inventories/x/hosts --list');
  });
});

describe('parseYamlInventory', () => {
  const text = `# comment
all:
  hosts:
    monitor:
      ansible_host: 192.0.2.5
  vars:
    ansible_user: sysadmin
  children:
    production:
      children:
        bbb:
          hosts:
            bbb1: {ansible_host: 192.0.2.11}
            bbb[2:3]:
          children:
            bbb_new:
              hosts: bbb9
        web:
          hosts:
            web1:
            bbb1:
    staging:
      hosts:
        web2:
          ansible_host: 198.51.100.2
          tags: [a, b]
`;
  const inv = parseYamlInventory(text, 'inventories/meet/hosts.yml');

  it('reads nesting, ranges, the `hosts: name` shorthand and hosts listed twice', () => {
    expect([...inv.hosts.keys()]).toEqual(['monitor', 'bbb1', 'bbb2', 'bbb3', 'bbb9', 'web1', 'web2']);
    expect([...inv.groups.keys()]).toEqual(['all', 'ungrouped', 'production', 'bbb', 'bbb_new', 'web', 'staging']);
    expect(children(inv, 'all')).toEqual(['ungrouped', 'production', 'staging']);
    expect(children(inv, 'production')).toEqual(['bbb', 'web']);
    expect(groupHosts(inv, 'bbb_new')).toEqual(['bbb9']);
    expect([...inv.hosts.get('bbb1')!.groups]).toEqual(['all', 'production', 'bbb', 'web']);
  });

  it('puts hosts listed only under all: into ungrouped', () => {
    expect(groupHosts(inv, 'all')).toEqual(['monitor']);
    expect(groupHosts(inv, 'ungrouped')).toEqual(['monitor']);
  });

  it('keeps vars, including ansible_host', () => {
    expect(inv.hosts.get('bbb1')!.vars).toEqual({ ansible_host: '192.0.2.11' });
    expect(inv.hosts.get('web2')!.vars).toEqual({ ansible_host: '198.51.100.2', tags: ['a', 'b'] });
    expect(inv.groups.get('all')!.vars).toEqual({ ansible_user: 'sysadmin' });
  });

  it('orders all: own hosts, then level by level', () => {
    expect(inv.hostOrder).toEqual(['monitor', 'web2', 'bbb1', 'bbb2', 'bbb3', 'web1', 'bbb9']);
    expect(hostsOfGroup(inv, 'production')).toEqual(['bbb1', 'bbb2', 'bbb3', 'web1', 'bbb9']);
  });

  it('applies YAML merge keys and accepts an empty file', () => {
    const merged = parseYamlInventory('x: &base\n  hosts: {h1: }\ny:\n  <<: *base\n  vars: {a: 1}\n', 'hosts.yml');
    expect(groupHosts(merged, 'y')).toEqual(['h1']);
    expect(parseYamlInventory('# nothing yet\n', 'hosts.yml').hosts.size).toBe(0);
  });

  it.each([
    ['all:\n  hosts:\n    web1: a: b\n    web2:\n', 3, 'YAML syntax error'],
    ['- web1\n- web2\n', 1, 'mapping of group names'],
    ['all:\n  hots:\n    web1:\n', 2, "key 'hots'"],
    ['all:\n  hosts:\n    web1: yes-please\n', 3, "host 'web1' must map to its variables"],
    ['all:\n  hosts:\n    1234:\n', 3, 'must be a string'],
    ['all:\n  children: [a, b]\n', 2, "'children' of group 'all' must be a mapping"],
    ['plugin: aws_ec2\n', 1, 'plugin configuration'],
    ['all:\n  hosts:\n    ../x:\n', 3, 'escape'],
    ['all:\n  hosts:\n    "a\\\\b":\n', 3, 'path separator'],
    ['all:\n  hosts:\n    "bad\\u0000name":\n', 3, 'control character'],
    ['all:\n  hosts:\n    ok:\n  children:\n    g:\n      hosts:\n        ..:\n', 7, "starts with '.'"],
  ])('rejects %j at line %i (%s)', (input, line, message) => {
    const error = thrown(() => parseYamlInventory(input, 'inventories/x/hosts.yml'));
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain(`inventories/x/hosts.yml:${line}:`);
    expect(error.message).toContain(message);
  });
});

describe('mergeInventories', () => {
  // Ansible reads every file of an inventory folder into one inventory, then reconciles once
  const ini = parseIniInventory('lonely\n[bbb]\nbbb1 role=old\n[frontends]\nweb9\n', 'merged/hosts');
  const yaml = parseYamlInventory(
    'all:\n  children:\n    production:\n      children:\n        bbb:\n          hosts:\n            bbb1: {role: new}\n            bbb3:\n        frontends:\n      hosts:\n        lonely:\n',
    'merged/hosts.yml',
  );
  const merged = mergeInventories([ini, yaml]);

  it('moves a host out of ungrouped when a later file groups it', () => {
    expect(groupHosts(ini, 'ungrouped')).toEqual(['lonely']);
    expect(groupHosts(merged, 'ungrouped')).toEqual([]);
    expect(groupHosts(merged, 'production')).toEqual(['lonely']);
  });

  it('nests a group that one file had at the top level under its parent only', () => {
    expect(children(merged, 'all')).toEqual(['ungrouped', 'production']);
    expect(children(merged, 'production')).toEqual(['bbb', 'frontends']);
  });

  it('keeps first-seen order and lets later variables win', () => {
    expect([...merged.hosts.keys()]).toEqual(['lonely', 'bbb1', 'web9', 'bbb3']);
    expect(groupHosts(merged, 'bbb')).toEqual(['bbb1', 'bbb3']);
    expect(merged.hosts.get('bbb1')!.vars).toEqual({ role: 'new' });
    expect(merged.hostOrder).toEqual(['lonely', 'bbb1', 'bbb3', 'web9']);
  });
});

describe('expandHostRange', () => {
  it.each([
    ['web1', ['web1']],
    ['web[1:3]', ['web1', 'web2', 'web3']],
    ['db[01:03]-x', ['db01-x', 'db02-x', 'db03-x']],
    ['n[0:10:5]', ['n0', 'n5', 'n10']],
    ['[a:c].example', ['a.example', 'b.example', 'c.example']],
    ['r[1:2]c[a:b]', ['r1ca', 'r1cb', 'r2ca', 'r2cb']],
    ['x[:2]', ['x0', 'x1', 'x2']],
  ])('%s', (input, expected) => {
    expect(expandHostRange(input)).toEqual(expected);
  });

  it.each(['x[1]', 'x[1:]', 'x[01:3]', 'x[1:3:0]', 'x[c:a]', 'x[1:3'])('rejects %s', (input) => {
    expect(() => expandHostRange(input)).toThrow(/host range/);
  });
});

describe('small pieces', () => {
  it.each([
    ['web1 a=1 b="two words" c=\'x y\' # comment', ['web1', 'a=1', 'b=two words', 'c=x y']],
    ['h x=a\\ b', ['h', 'x=a b']],
    ['h#not-a-var', ['h']],
  ])('shlexSplit(%j)', (line, expected) => {
    expect(shlexSplit(line)).toEqual(expected);
  });

  it.each([
    ['42', 42],
    ['-1.5', -1.5],
    ['True', true],
    ['None', null],
    ["'quoted'", 'quoted'],
    ['[1, 2]', [1, 2]],
    ['1.2.3.4', '1.2.3.4'],
    ['/usr/bin/python3', '/usr/bin/python3'],
  ])('iniValue(%j)', (input, expected) => {
    expect(iniValue(input)).toEqual(expected);
  });

  it.each([
    ['web1', undefined],
    ['bbb01.meet.coop', undefined],
    ['..', "starts with '.'"],
    ['../x', "starts with '.'"],
    ['a/../../b', 'path separator'],
    ['a\\b', 'path separator'],
    ['a\u0000b', 'control character'],
    ['tab\there', 'control character'],
    ['', 'empty'],
  ])('unsafeHostNameReason(%j)', (name, reason) => {
    const result = unsafeHostNameReason(name);
    if (reason === undefined) expect(result).toBeUndefined();
    else expect(result).toContain(reason);
  });

  it('tells a YAML hosts file from an INI one', () => {
    expect(looksLikeYamlInventory('all:\n  hosts:\n    a:\n')).toBe(true);
    expect(looksLikeYamlInventory('[bbb]\nbbb1\n')).toBe(false);
    expect(looksLikeYamlInventory('web1\nweb2\n')).toBe(false);
  });
});
