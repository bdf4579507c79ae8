import { InfraError } from '../../src/lib/errors.js';
import { fnmatchRegex, orderTerms, resolvePattern, splitHostPattern } from '../../src/core/host-pattern.js';
import { closestNames, levenshtein } from '../../src/lib/names.js';
import { parseIniInventory } from '../../src/core/inventory.js';
import { thrown } from '../helpers/thrown.js';

// Expected lists follow Ansible 2.14's rules by hand: groups (own hosts first, then children level by
// level) in inventory order, then matching hosts for wildcards; plain terms, then &, then !.
// test/real/ansible-patterns.test.ts checks the same rules against the real ansible.
const inv = parseIniInventory(
  `ungrouped-host
[bbb]
bbb1
bbb2
bbb10
[web]
web1
web2
[db]
db1
web2
[production:children]
bbb
web
db
[staging]
bbb-staging
web3
[empty]
`,
  'inventories/production/hosts',
);

const ALL = ['ungrouped-host', 'bbb-staging', 'web3', 'bbb1', 'bbb2', 'bbb10', 'web1', 'web2', 'db1'];


describe('splitHostPattern (Ansible split_host_pattern)', () => {
  it.each([
    ['a,b[1], c[2:3] , d', ['a', 'b[1]', 'c[2:3]', 'd']],
    ['web:db:&prod:!web2', ['web', 'db', '&prod', '!web2']],
    ['web[1:3]', ['web[1:3]']],
    ['webservers[0:2]:&prod', ['webservers[0:2]', '&prod']],
    ['a b', ['a', 'b']],
    ['web1:22', ['web1:22']], // host:port stays one name, as in Ansible
    ['192.0.2.1', ['192.0.2.1']],
    ['fd00::1', ['fd00::1']],
    ['web,db:&prod', ['web', 'db:&prod']], // with a comma, ':' does not separate
  ])('%j', (pattern, expected) => {
    expect(splitHostPattern(pattern)).toEqual(expected);
  });
});

describe('orderTerms', () => {
  it('puts plain terms first, then intersections, then exclusions', () => {
    expect(orderTerms(['!a', 'b', '&c', 'd', '!e'])).toEqual(['b', 'd', '&c', '!a', '!e']);
  });
  it('starts from all when no term is plain', () => {
    expect(orderTerms(['!a', '&b'])).toEqual(['all', '&b', '!a']);
  });
});

describe('resolvePattern', () => {
  it.each([
    ['all', ALL],
    ['*', ALL],
    ['bbb', ['bbb1', 'bbb2', 'bbb10']],
    ['bbb:&production', ['bbb1', 'bbb2', 'bbb10']],
    ['bbb:&staging', []],
    ['production', ['bbb1', 'bbb2', 'bbb10', 'web1', 'web2', 'db1']],
    ['production:!web', ['bbb1', 'bbb2', 'bbb10', 'db1']],
    ['!web:bbb', ['bbb1', 'bbb2', 'bbb10']],
    ['&bbb', ['bbb1', 'bbb2', 'bbb10']],
    ['!bbb', ['ungrouped-host', 'bbb-staging', 'web3', 'web1', 'web2', 'db1']],
    ['web:db:&production:!web2', ['web1', 'db1']],
    ['db:web', ['db1', 'web2', 'web1']],
    ['web,db', ['web1', 'web2', 'db1']],
    ['web, !web1', ['web2']],
    ['bbb*', ['bbb1', 'bbb2', 'bbb10', 'bbb-staging']],
    ['~bbb[0-9]+', ['bbb1', 'bbb2', 'bbb10']],
    ['~web', ['web1', 'web2', 'web3']],
    ['web?', ['web1', 'web2', 'web3']],
    ['[bw]*', ['bbb1', 'bbb2', 'bbb10', 'web1', 'web2', 'bbb-staging', 'web3']],
    ['web2', ['web2']],
    ['web2:web1', ['web2', 'web1']],
    ['ungrouped', ['ungrouped-host']],
    ['empty', []],
    ['bbb[0]', ['bbb1']],
    ['bbb[-1]', ['bbb10']],
    ['bbb[1:]', ['bbb2', 'bbb10']],
    ['bbb[0:1]', ['bbb1', 'bbb2']],
    ['production[3]', ['web1']],
    ['bbb[1:2]:&web*', []],
  ])('%s', (pattern, expected) => {
    expect(resolvePattern(pattern, inv)).toEqual(expected);
    expect(resolvePattern(pattern, inv, { strict: false })).toEqual(expected);
  });

  describe('strict (the default): a name that matches nothing is an error', () => {
    it.each([
      ['bbb:&prodution', 'prodution', 'production'],
      ['webb', 'webb', 'web'],
      ['BBB', 'BBB', 'bbb'], // patterns are case-sensitive, like Ansible's
      ['stagin', 'stagin', 'staging'],
      ['all:!web7', 'web7', 'web'], // web, web1, web2, web3 are all one edit away: alphabetical
      ['xyz*:web', 'xyz*', 'all'],
    ])('%s', (pattern, term, closest) => {
      const error = thrown(() => resolvePattern(pattern, inv, { inventoryPath: 'inventories/production' }));
      expect(error.exitCode).toBe(3);
      expect(error.message).toContain(`'${term}' matches no host or group in inventories/production`);
      expect(error.message).toMatch(new RegExp(`closest: ${closest}[,$]`));
      expect(error.hint).toContain('ansible-inventory -i inventories/production --graph');
    });

    it('lists names closest first', () => {
      const error = thrown(() => resolvePattern('bb', inv));
      // distance 1: bbb, db; distance 2, alphabetical: bbb1, bbb2, db1 (then web, ...)
      expect(error.message).toContain('closest: bbb, db, bbb1, bbb2, db1');
    });

    it.each([['BBB'], ['web7'], ['xyz*'], ['bbb:&nosuch']])('non-strict ignores unknown %s like Ansible does', (pattern) => {
      expect(resolvePattern(pattern, inv, { strict: false })).toEqual([]);
    });

    it('non-strict keeps the known terms of a pattern with an unknown one', () => {
      expect(resolvePattern('web:nosuch', inv, { strict: false })).toEqual(['web1', 'web2']);
    });
  });

  describe('syntax errors', () => {
    it.each([
      ['', 'empty'],
      ['   ', 'empty'],
      ['all:!', "nothing after '!'"],
      ['bbb:&', "nothing after '&'"],
      ['&!bbb', 'two operators'],
      ['web[', "unbalanced '['"],
      ['web]:db', "unbalanced ']'"],
      ['~(', 'not a valid regular expression'],
      ['web,db:&production', "mixes ':' with ','"],
      ['bbb[0-1]', '[x:y]'],
    ])('%j', (pattern, message) => {
      const error = thrown(() => resolvePattern(pattern, inv));
      expect(error.exitCode).toBe(3);
      expect(error.message).toContain(message);
    });

    it('a subscript beyond the group is an error (Ansible lists no hosts at all)', () => {
      expect(thrown(() => resolvePattern('bbb[5]', inv)).message).toContain("no hosts matched the subscripted pattern 'bbb[5]'");
      expect(resolvePattern('bbb[5]:web', inv, { strict: false })).toEqual([]);
      expect(resolvePattern('~(:web', inv, { strict: false })).toEqual([]);
    });

    it('an operator with no name is an error even when not strict (Ansible crashes on it)', () => {
      expect(() => resolvePattern('all:!', inv, { strict: false })).toThrow(InfraError);
    });
  });
});

describe('fnmatchRegex', () => {
  it.each([
    ['web?', 'web1', true],
    ['web?', 'web10', false],
    ['[!a]*', 'b1', true],
    ['[!a]*', 'a1', false],
    ['a[', 'a[', true],
    ['Web*', 'web1', false],
    ['*.coop', 'bbb1.meet.coop', true],
    ['*.coop', 'bbb1-meet-coop', false],
    ['db[12]', 'db2', true],
  ])('%s ~ %s = %s', (pattern, name, expected) => {
    expect(fnmatchRegex(pattern).test(name)).toBe(expected);
  });
});

describe('closestNames', () => {
  it('orders by edit distance, then alphabetically, up to max', () => {
    expect(closestNames('prodution', ['staging', 'prod', 'production', 'web'])[0]).toBe('production');
    expect(closestNames('ab', ['zz', 'ac', 'aa'])).toEqual(['aa', 'ac', 'zz']);
    expect(closestNames('x', ['a', 'b', 'c', 'd'], 2)).toEqual(['a', 'b']);
  });
  it('levenshtein', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('same', 'same')).toBe(0);
  });
});
