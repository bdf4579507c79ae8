import { approvalTrailers, classifyChanges, judgeRange, type CommitInput, type FileChange, type RulesAtParent, type SignatureCheck } from '../../src/core/change-rules.js';

const RULES: RulesAtParent = { admins: ['alice', 'bob'], twoAdmins: true, inventoryFolders: ['inventories/production', 'hosts/staging'] };
const member = (fields: string) => `name: Carol\nkind: human\norg: coop\nemail: carol@coop.example\nstatus: active\ngroups: [ops]\n${fields}`;
const good = (handle: string): SignatureCheck => ({ status: 'good', handle, format: 'ssh', key: 'SHA256:x' });
const hash = (n: number) => n.toString(16).padStart(40, '0');

describe('classifyChanges', () => {
  it.each<[string, FileChange, Array<[string, string, string?]>]>([
    ['own key added', { path: 'keys/carol/member.yml', before: member('ssh_keys: []\n'), after: member('ssh_keys: [{name: a}]\n') }, [['keys/carol/member.yml: ssh_keys', 'own', 'carol']]],
    ['own name and email', { path: 'keys/carol/member.yml', before: member(''), after: member('').replace('Carol', 'C').replace('carol@', 'c@') }, [['keys/carol/member.yml: email', 'own', 'carol'], ['keys/carol/member.yml: name', 'own', 'carol']]],
    ['own groups', { path: 'keys/carol/member.yml', before: member(''), after: member('').replace('[ops]', '[ops, infra]') }, [['keys/carol/member.yml: groups', 'protected']]],
    ['status', { path: 'keys/carol/member.yml', before: member(''), after: member('').replace('active', 'departed') }, [['keys/carol/member.yml: status', 'protected']]],
    ['kind', { path: 'keys/carol/member.yml', before: member(''), after: member('').replace('human', 'bot') }, [['keys/carol/member.yml: kind', 'protected']]],
    ['org (admin only)', { path: 'keys/carol/member.yml', before: member(''), after: member('').replace('org: coop', 'org: other') }, [['keys/carol/member.yml: org', 'admin']]],
    ['a comment only', { path: 'keys/carol/member.yml', before: member(''), after: `# hi\n${member('')}` }, [['keys/carol/member.yml (comments or layout)', 'own', 'carol']]],
    ['a new member', { path: 'keys/eve/member.yml', after: member('') }, [['keys/eve/member.yml: new member eve', 'protected']]],
    ['a member removed', { path: 'keys/eve/member.yml', before: member('') }, [['keys/eve/member.yml: member eve removed', 'protected']]],
    ['unreadable YAML', { path: 'keys/carol/member.yml', before: member(''), after: 'name: [' }, [['keys/carol/member.yml (unreadable YAML)', 'protected']]],
    ['a YAML list instead of a mapping', { path: 'keys/carol/member.yml', before: member(''), after: '- a\n' }, [['keys/carol/member.yml (unreadable YAML)', 'protected']]],
    ['own pgp.asc', { path: 'keys/carol/pgp.asc' }, [['keys/carol/pgp.asc', 'own', 'carol']]],
    ['a token value', { path: 'keys/roobot/tokens/github.asc' }, [['keys/roobot/tokens/github.asc', 'admin']]],
    ['admins', { path: 'infra.yml', before: 'org: A\nadmins: [alice]\n', after: 'org: A\nadmins: [alice, carol]\n' }, [['infra.yml: admins', 'protected']]],
    ['org name', { path: 'infra.yml', before: 'org: A\n', after: 'org: B\n' }, [['infra.yml: org', 'admin']]],
    ['policy and vpn', { path: 'infra.yml', before: 'org: A\n', after: 'org: A\npolicy: {}\nvpn: {}\n' }, [['infra.yml: policy', 'protected'], ['infra.yml: vpn', 'protected']]],
    ['an inventory under inventories/', { path: 'inventories/production/hosts.yml' }, [['inventories/production/hosts.yml', 'protected']]],
    ['an inventory in an environment folder elsewhere', { path: 'hosts/staging/group_vars/all.yml' }, [['hosts/staging/group_vars/all.yml', 'protected']]],
    ['a generated file', { path: 'inventories/production/host_vars/web1/infra.generated.yml' }, [['inventories/production/host_vars/web1/infra.generated.yml', 'none']]],
    ['allowed_signers', { path: 'allowed_signers' }, [['allowed_signers', 'none']]],
    ['a playbook', { path: 'ansible/apply-access.yml' }, [['ansible/apply-access.yml', 'admin']]],
    ['a hand-written file named like a generated one outside host_vars', { path: 'infra.generated.yml' }, [['infra.generated.yml', 'admin']]],
  ])('%s', (_, change, expected) => {
    expect(classifyChanges([change], RULES).map((i) => [i.what, i.need, ...(i.owner ? [i.owner] : [])])).toEqual(expected);
  });
});

describe('judgeRange', () => {
  const commit = (n: number, over: Partial<CommitInput>): CommitInput => ({
    commit: hash(n),
    author: 'X <x@coop.example>',
    date: '2026-05-01T12:00:00.000Z',
    cleanMerge: false,
    changes: [],
    approves: [],
    signature: { status: 'none' },
    rules: RULES,
    ...over,
  });
  const ownEdit: FileChange = { path: 'keys/carol/member.yml', before: member('ssh_keys: []\n'), after: member('ssh_keys: [{}]\n') };
  const protectedEdit: FileChange = { path: 'infra.yml', before: 'admins: [alice, bob]\n', after: 'admins: [alice, bob, carol]\n' };
  const codes = (inputs: CommitInput[]) => judgeRange(inputs).violations.map((v) => [v.code, v.commit]);

  it.each<[string, CommitInput[], Array<[string, string]>]>([
    ['an owner signs their folder', [commit(1, { changes: [ownEdit], signature: good('carol') })], []],
    ['an admin signs a member\'s folder', [commit(1, { changes: [ownEdit], signature: good('bob') })], []],
    ['another member signs it', [commit(1, { changes: [ownEdit], signature: good('dan') })], [['unauthorized-change', hash(1)]]],
    ['unsigned', [commit(1, { changes: [ownEdit] })], [['unsigned-change', hash(1)]]],
    ['a bad signature', [commit(1, { changes: [ownEdit], signature: { status: 'bad', format: 'ssh', reason: 'x' } })], [['unsigned-change', hash(1)]]],
    ['nothing changed, unsigned', [commit(1, {})], []],
    ['generated files only, unsigned', [commit(1, { changes: [{ path: 'allowed_signers' }] })], []],
    ['a clean merge, unsigned', [commit(1, { cleanMerge: true, changes: [ownEdit] })], []],
    ['a protected change, one admin', [commit(1, { changes: [protectedEdit], signature: good('alice') })], [['unapproved-change', hash(1)]]],
    ['a protected change approved by another admin later', [commit(1, { changes: [protectedEdit], signature: good('alice') }), commit(2, { approves: [hash(1)], signature: good('bob') })], []],
    ['an approval of a later commit covers the earlier ones', [commit(1, { changes: [protectedEdit], signature: good('alice') }), commit(2, { changes: [ownEdit], signature: good('carol') }), commit(3, { approves: [hash(2)], signature: good('bob') })], []],
    ['an approval of an earlier commit does not cover a later one', [commit(1, { changes: [ownEdit], signature: good('carol') }), commit(2, { changes: [protectedEdit], signature: good('alice') }), commit(3, { approves: [hash(1)], signature: good('bob') })], [['unapproved-change', hash(2)]]],
    ['an approval by the signer', [commit(1, { changes: [protectedEdit], signature: good('alice') }), commit(2, { approves: [hash(1)], signature: good('alice') })], [['unapproved-change', hash(1)]]],
    ['an approval by a non-admin', [commit(1, { changes: [protectedEdit], signature: good('alice') }), commit(2, { approves: [hash(1)], signature: good('carol') })], [['unapproved-change', hash(1)]]],
    ['an unsigned approval', [commit(1, { changes: [protectedEdit], signature: good('alice') }), commit(2, { approves: [hash(1)] })], [['unapproved-change', hash(1)]]],
    ['an approval naming a commit outside the range', [commit(1, { changes: [protectedEdit], signature: good('alice') }), commit(2, { approves: [hash(99)], signature: good('bob') })], [['unapproved-change', hash(1)]]],
    ['an approval placed before the change', [commit(2, { approves: [hash(1)], signature: good('bob') }), commit(1, { changes: [protectedEdit], signature: good('alice') })], [['unapproved-change', hash(1)]]],
    ['two_admins off', [commit(1, { changes: [protectedEdit], signature: good('alice'), rules: { ...RULES, twoAdmins: false } })], []],
    ['a member signs a protected change of their own folder', [commit(1, { changes: [{ path: 'keys/carol/member.yml', before: member(''), after: member('').replace('[ops]', '[infra]') }], signature: good('carol') })], [['unauthorized-change', hash(1)]]],
  ])('%s', (_, inputs, expected) => {
    expect(codes(inputs)).toEqual(expected);
  });

  it('says who must act: the owner or an admin, a second admin, or that there is no second admin', () => {
    const [unsigned] = judgeRange([commit(1, { changes: [ownEdit] })]).violations;
    expect(unsigned.fix).toBe('carol or an admin (alice, bob) must sign it (git commit --amend -S, with a key registered at its parent)');
    const [unapproved] = judgeRange([commit(1, { changes: [protectedEdit], signature: good('alice') })]).violations;
    expect(unapproved.fix).toBe(`a second admin (bob) must run \`infra approve ${hash(1)}\``);
    const [alone] = judgeRange([commit(1, { changes: [protectedEdit], signature: good('alice'), rules: { ...RULES, admins: ['alice'] } })]).violations;
    expect(alone.fix).toMatch(/infra.yml names no second admin/);
  });
});

describe('approvalTrailers', () => {
  it.each<[string, string[]]>([
    [`Approve\n\nInfra-Approves: ${'a'.repeat(40)}\n`, ['a'.repeat(40)]],
    [`Approve\n\nInfra-Approves: ${'a'.repeat(40)}\nInfra-Approves: ${'b'.repeat(64)}\n`, ['a'.repeat(40), 'b'.repeat(64)]],
    [`Approve\n\nInfra-Approves: ${'a'.repeat(12)}\n`, []], // a short hash is ambiguous: refused
    [`Approve\n\nInfra-Approves: ${'A'.repeat(40)}\n`, []],
    [`Approve\n\nInfra-Approves: ${'a'.repeat(40)} and more\n`, []],
    [`Approve\n\n  Infra-Approves: ${'a'.repeat(40)}\n`, []],
  ])('%j', (message, expected) => {
    expect(approvalTrailers(message)).toEqual(expected);
  });
});
