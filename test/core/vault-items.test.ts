/** Finding and rewriting vault items in texts: literals in, literals out. */
import { findInlineVaultItems, firstNonUtf8Line, isVaultFile, replaceVaultItems, wholeFileItem } from '../../src/core/vault-items.js';

const ENV = '$ANSIBLE_VAULT;1.1;AES256\n6162\n6364';
const NEW = '$ANSIBLE_VAULT;1.1;AES256\n7778\n797a\n3031';

describe('findInlineVaultItems', () => {
  it.each([
    ['a top-level variable', 'a: 1\ns: !vault |\n    $ANSIBLE_VAULT;1.1;AES256\n    6162\n    6364\nb: 2\n', 2, '    '],
    ['a nested variable', 'db:\n  pw: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      6162\n      6364\n', 2, '      '],
    ['a list item', 'l:\n  - !vault |\n    $ANSIBLE_VAULT;1.1;AES256\n    6162\n    6364\n', 2, '    '],
    ['the !vault-encrypted tag', 's: !vault-encrypted |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n  6364\n', 1, '  '],
    ['a strip-chomped block', 's: !vault |-\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n  6364\nz: 1\n', 1, '  '],
    ['duplicate keys (Ansible accepts them)', 'a: 1\na: 2\ns: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n  6364\n', 3, '  '],
  ])('finds %s', (_what, text, line, indent) => {
    const { items, problems } = findInlineVaultItems(text, 'f.yml');
    expect(problems).toEqual([]);
    expect(items.map((i) => [i.line, i.envelope, i.indent, i.kind])).toEqual([[line, ENV, indent, 'inline']]);
  });

  it.each([
    ['invalid YAML', 'a: [1\ns: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n', /not valid YAML/],
    ['a quoted vault value', 's: !vault "$ANSIBLE_VAULT;1.1;AES256\\n6162"\n', /other than as a literal block/],
    ['a folded vault value', 's: !vault >\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n', /other than as a literal block/],
    ['a block that is no envelope', 's: !vault |\n  hello\n', /does not start with \$ANSIBLE_VAULT;/],
  ])('reports %s with its line', (_what, text, message) => {
    const { items, problems } = findInlineVaultItems(text, 'f.yml');
    expect(items).toEqual([]);
    expect(problems).toEqual([{ file: 'f.yml', line: expect.any(Number), field: expect.any(String), message: expect.stringMatching(message) }]);
  });

  it('finds items in every document of a multi-document file', () => {
    const text = 's: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n  6364\n---\nt: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n  6364\n';
    expect(findInlineVaultItems(text, 'f.yml').items.map((i) => i.line)).toEqual([1, 6]);
  });
});

describe('replaceVaultItems keeps every other byte', () => {
  it.each([
    ['a comment after the block, a trailing line', 'a: 1\ns: !vault |\n    $ANSIBLE_VAULT;1.1;AES256\n    6162\n    6364\n  # note\nb: 2\n', 'a: 1\ns: !vault |\n    $ANSIBLE_VAULT;1.1;AES256\n    7778\n    797a\n    3031\n  # note\nb: 2\n'],
    ['CRLF line breaks', 'a: 1\r\ns: !vault |\r\n  $ANSIBLE_VAULT;1.1;AES256\r\n  6162\r\n  6364\r\nb: 2\r\n', 'a: 1\r\ns: !vault |\r\n  $ANSIBLE_VAULT;1.1;AES256\r\n  7778\r\n  797a\r\n  3031\r\nb: 2\r\n'],
    ['no final newline', 's: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n  6364', 's: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  7778\n  797a\n  3031'],
    ['two items, replaced in place', 's: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n  6364\nt: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n  6364\n', 's: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  7778\n  797a\n  3031\nt: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  7778\n  797a\n  3031\n'],
  ])('%s', (_what, text, expected) => {
    const { items } = findInlineVaultItems(text, 'f.yml');
    expect(replaceVaultItems(text, items, items.map(() => `${NEW}\n`))).toBe(expected);
  });

  it.each([
    ['a whole file with a final newline', `${ENV}\n`, `${NEW}\n`],
    ['a whole file without one', ENV, NEW],
    ['a whole CRLF file', `${ENV.replace(/\n/g, '\r\n')}\r\n`, `${NEW.replace(/\n/g, '\r\n')}\r\n`],
  ])('%s', (_what, text, expected) => {
    expect(isVaultFile(text)).toBe(true);
    const item = wholeFileItem(text);
    expect(item.envelope).toBe(ENV);
    expect(replaceVaultItems(text, [item], [NEW])).toBe(expected);
  });

  it('a text that starts otherwise is no whole vault file', () => {
    expect(isVaultFile(` ${ENV}`)).toBe(false);
    expect(isVaultFile(`# x\n${ENV}`)).toBe(false);
  });
});

describe('firstNonUtf8Line', () => {
  it.each([
    ['UTF-8', Buffer.from('a: é\nb: 2\n'), undefined],
    ['Latin-1 on line 2', Buffer.from([0x61, 0x0a, 0x62, 0xe9, 0x0a]), 2],
    ['a cut sequence at the end', Buffer.from([0x61, 0x0a, 0xc3]), 2],
    ['empty', Buffer.alloc(0), undefined],
  ])('%s', (_what, data, line) => expect(firstNonUtf8Line(data)).toBe(line));
});
