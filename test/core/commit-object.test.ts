import { parseCommitObject, parseSshSignature, signatureFormat, sshTime } from '../../src/core/commit-object.js';
import { principalOf, renderAllowedSigners, signerKeys } from '../../src/core/allowed-signers.js';
import type { Member } from '../../src/core/types.js';

const TREE = 'a'.repeat(40);
const PARENT = 'b'.repeat(40);
const sig = ['-----BEGIN SSH SIGNATURE-----', 'U1NIU0lH', '-----END SSH SIGNATURE-----'];

describe('parseCommitObject', () => {
  const signed = [`tree ${TREE}`, `parent ${PARENT}`, 'author A <a@x> 1777636800 +0200', 'committer C <c@x> 1777640400 +0000', `gpgsig ${sig[0]}`, ` ${sig[1]}`, ` ${sig[2]}`, '', 'subject', '', 'body', ''].join('\n');

  it('takes the signature out, and the payload is the object without it, byte for byte', () => {
    const c = parseCommitObject(Buffer.from(signed));
    expect(c).toMatchObject({ tree: TREE, parents: [PARENT], author: 'A <a@x>', committer: 'C <c@x>', committedAt: 1777640400, message: 'subject\n\nbody\n', signature: `${sig.join('\n')}\n` });
    expect(c.payload.toString()).toBe([`tree ${TREE}`, `parent ${PARENT}`, 'author A <a@x> 1777636800 +0200', 'committer C <c@x> 1777640400 +0000', '', 'subject', '', 'body', ''].join('\n'));
  });

  it('keeps bytes that are not UTF-8 in the payload as they are', () => {
    const raw = Buffer.concat([Buffer.from(`tree ${TREE}\ncommitter C <c@x> 1 +0000\ngpgsig x\n y\n\n`), Buffer.from([0xe9, 0x0a])]);
    const c = parseCommitObject(raw);
    expect(c.payload).toEqual(Buffer.concat([Buffer.from(`tree ${TREE}\ncommitter C <c@x> 1 +0000\n\n`), Buffer.from([0xe9, 0x0a])]));
  });

  it('an unsigned commit has no signature and its payload is itself; a merge has two parents', () => {
    const raw = Buffer.from(`tree ${TREE}\nparent ${PARENT}\nparent ${TREE}\ncommitter C <c@x> 5 +0000\n\nm\n`);
    const c = parseCommitObject(raw);
    expect([c.signature, c.parents, c.payload]).toEqual([undefined, [PARENT, TREE], raw]);
  });

  it('a message line that looks like a header is not one', () => {
    const c = parseCommitObject(Buffer.from(`tree ${TREE}\ncommitter C <c@x> 5 +0000\n\ngpgsig fake\n`));
    expect(c.signature).toBeUndefined();
  });
});

describe('signatures', () => {
  it.each([
    ['-----BEGIN SSH SIGNATURE-----\n', 'ssh'],
    ['-----BEGIN PGP SIGNATURE-----\n', 'openpgp'],
    ['-----BEGIN SIGNED MESSAGE-----\n', 'unknown'],
  ])('%j is %s', (text, format) => expect(signatureFormat(text)).toBe(format));

  const str = (b: Buffer | string) => {
    const v = Buffer.from(b);
    const l = Buffer.alloc(4);
    l.writeUInt32BE(v.length);
    return Buffer.concat([l, v]);
  };
  const armor = (blob: Buffer) => `-----BEGIN SSH SIGNATURE-----\n${blob.toString('base64')}\n-----END SSH SIGNATURE-----\n`;
  const whole = Buffer.concat([Buffer.from('SSHSIG'), Buffer.from([0, 0, 0, 1]), str('KEY'), str('git'), str(''), str('sha512'), str('SIG')]);

  it('reads the key and namespace of an SSHSIG blob', () => {
    expect(parseSshSignature(armor(whole))).toEqual({ publicKey: Buffer.from('KEY'), namespace: 'git', hashAlgorithm: 'sha512' });
  });

  it.each<[string, string]>([
    ['truncated', armor(whole.subarray(0, whole.length - 2))],
    ['trailing bytes', armor(Buffer.concat([whole, Buffer.from('x')]))],
    ['no magic', armor(Buffer.concat([Buffer.from('SSHSIX'), whole.subarray(6)]))],
    ['version 2', armor(Buffer.concat([Buffer.from('SSHSIG'), Buffer.from([0, 0, 0, 2]), whole.subarray(10)]))],
    ['a huge length', armor(Buffer.concat([Buffer.from('SSHSIG'), Buffer.from([0, 0, 0, 1]), Buffer.from([0xff, 0xff, 0xff, 0xff])]))],
    ['no armor', 'U1NIU0lH\n'],
    ['not base64', '-----BEGIN SSH SIGNATURE-----\n!!!\n-----END SSH SIGNATURE-----\n'],
  ])('a malformed one (%s) is reported, never thrown', (_, text) => {
    expect(parseSshSignature(text)).toHaveProperty('malformed');
  });

  it('times for ssh-keygen are UTC', () => expect(sshTime(1777640400)).toBe('20260501130000Z'));
});

describe('allowed signers', () => {
  const m = (over: Partial<Member>): Member => ({
    handle: 'carol', name: 'C', kind: 'human', org: 'o', email: 'carol@coop.example', status: 'active', groups: [], vpn_peers: [], tokens: [], has_pgp: false,
    ssh_keys: [{ name: 'k', key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFo2IXczivU5tXGT38HuDKMZWmj3o/lif7hnRsrTSa2R carol@x', added: '2026-03-01' }],
    ...over,
  });

  it.each<[string, Partial<Member>, string[]]>([
    ['an active member', {}, ['carol@coop.example namespaces="git",valid-after="20260301Z" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFo2IXczivU5tXGT38HuDKMZWmj3o/lif7hnRsrTSa2R']],
    ['a bot', { kind: 'bot' }, []],
    ['departed without a date', { status: 'departed' }, []],
    ['departed, before the key expires', { status: 'departed', departed: '2026-06-01', ssh_keys: [{ name: 'k', key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFo2IXczivU5tXGT38HuDKMZWmj3o/lif7hnRsrTSa2R', added: '2026-03-01', expires: '2027-01-01' }] }, ['carol@coop.example namespaces="git",valid-after="20260301Z",valid-before="20260601Z" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFo2IXczivU5tXGT38HuDKMZWmj3o/lif7hnRsrTSa2R']],
    ['an email that would be a pattern', { email: '*@*' }, ['carol namespaces="git",valid-after="20260301Z" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFo2IXczivU5tXGT38HuDKMZWmj3o/lif7hnRsrTSa2R']],
  ])('%s', (_, over, lines) => {
    expect(renderAllowedSigners([m(over)]).split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(lines);
  });

  it.each([['a,b@x'], ['!a@x'], ['a"b@x'], ['a b@x'], ['a?@x'], [undefined]])('principal for email %j is the handle', (email) => {
    expect(principalOf({ handle: 'carol', email })).toBe('carol');
  });

  it('is the same bytes whatever the order of members', () => {
    const a = m({});
    const b = m({ handle: 'alice', email: 'alice@coop.example', ssh_keys: [{ name: 'k', key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICxilmkyKmvDgISHEmBDPS+OKIoLkzHPaShwZ2Gq4Rs6', added: '2026-01-01' }] });
    expect(renderAllowedSigners([a, b])).toBe(renderAllowedSigners([b, a]));
    expect(signerKeys([b]).map((k) => k.handle)).toEqual(['alice']);
  });
});
