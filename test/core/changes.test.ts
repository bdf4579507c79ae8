import { stringify } from 'yaml';
import { changesIn, type CommitFiles } from '../../src/core/changes.js';
import { ed25519Line } from '../helpers/registry-fixture.js';

const KEY = ed25519Line('dana');
const member = (over: Record<string, unknown> = {}) =>
  stringify({ name: 'Dana', kind: 'human', org: 'o', status: 'active', groups: ['infra'], ssh_keys: [{ name: 'laptop', key: KEY, added: '2026-01-01' }], ...over });
const files = (entries: Record<string, string>) => new Map(Object.entries(entries));
const commit = (before: Record<string, string>, after: Record<string, string>): CommitFiles => ({ commit: 'abc1234', date: '2026-11-20', before: files(before), after: files(after) });
const kinds = (c: CommitFiles) => changesIn(c).map((x) => [x.kind, x.subject, x.detail]);
const DANA = 'keys/dana/member.yml';

describe('changesIn', () => {
  it('carries the commit and date on every change', () => {
    expect(changesIn(commit({}, { [DANA]: member() }))).toEqual([
      { date: '2026-11-20', commit: 'abc1234', kind: 'member-added', subject: 'dana', detail: 'Dana (o) groups infra' },
      { date: '2026-11-20', commit: 'abc1234', kind: 'key-added', subject: 'dana/laptop' },
    ]);
  });

  it('compares keys by blob: the same key with another comment is no change', () => {
    const recommented = member({ ssh_keys: [{ name: 'laptop', key: `${KEY.split(' ').slice(0, 2).join(' ')} other-comment`, added: '2026-01-01' }] });
    expect(kinds(commit({ [DANA]: member() }, { [DANA]: recommented }))).toEqual([]);
  });

  it('reports an expiry change and a return from departure as member-changed', () => {
    const before = member({ status: 'departed', departed: '2026-10-01' });
    const after = member({ ssh_keys: [{ name: 'laptop', key: KEY, added: '2026-01-01', expires: '2027-01-01' }] });
    expect(kinds(commit({ [DANA]: before }, { [DANA]: after }))).toEqual([['member-changed', 'dana', 'status departed -> active; key laptop expires (never) -> 2027-01-01']]);
  });

  it('a deleted member file is member-removed', () => {
    expect(kinds(commit({ [DANA]: member() }, {}))).toEqual([['member-removed', 'dana', 'keys/dana/member.yml deleted']]);
  });

  it('concludes nothing from a file that does not parse in one of the two versions', () => {
    expect(kinds(commit({ [DANA]: member() }, { [DANA]: 'name: [unclosed\n' }))).toEqual([]);
    expect(kinds(commit({ 'infra.yml': 'access: [\n' }, { 'infra.yml': stringify({ access: [{ groups: ['a'], hosts: 'all', user: 'root' }] }) }))).toEqual([]);
  });

  it('a first rotation (no rotated_at before) is token-rotated', () => {
    const bot = (t: Record<string, unknown>) => stringify({ name: 'Roo', kind: 'bot', org: 'o', status: 'active', tokens: [{ name: 'matrix', kind: 'matrix', consumers: [], ...t }] });
    expect(kinds(commit({ 'keys/roo/member.yml': bot({}) }, { 'keys/roo/member.yml': bot({ rotated_at: '2026-11-19' }) }))).toEqual([['token-rotated', 'roo/matrix', 'on 2026-11-19']]);
  });

  it('a replaced pgp.asc is pgp-key-replaced naming the new fingerprint (the next reencrypt hands every secret to it)', () => {
    const [OLD, NEW] = ['A'.repeat(40), 'B'.repeat(40)];
    expect(kinds(commit({ 'keys/alice/pgp.asc': OLD }, { 'keys/alice/pgp.asc': NEW }))).toEqual([['pgp-key-replaced', 'alice', `now ${NEW} (was ${OLD})`]]);
    expect(kinds(commit({}, { 'keys/alice/pgp.asc': `${NEW}\n${OLD}` }))).toEqual([['pgp-key-added', 'alice', `${NEW}, ${OLD}`]]);
    expect(kinds(commit({ 'keys/alice/pgp.asc': OLD }, {}))).toEqual([['pgp-key-removed', 'alice', `was ${OLD}`]]);
    expect(kinds(commit({ 'keys/alice/pgp.asc': OLD }, { 'keys/alice/pgp.asc': OLD }))).toEqual([]);
    // a file with no readable certificate is still a change, said as such
    expect(kinds(commit({ 'keys/alice/pgp.asc': OLD }, { 'keys/alice/pgp.asc': '' }))).toEqual([['pgp-key-replaced', 'alice', `now no readable certificate (was ${OLD})`]]);
  });

  it('a token consumer added, or pointed at another repository, is a change: the next rotation writes the value there', () => {
    const bot = (consumers: unknown[]) => stringify({ name: 'Roo', kind: 'bot', org: 'o', status: 'active', tokens: [{ name: 'github', kind: 'github', consumers }] });
    const mine = { github_secret: { repo: 'coop/site', name: 'TOKEN' } };
    const theirs = { github_secret: { repo: 'mallory/loot', name: 'TOKEN' } };
    expect(kinds(commit({ 'keys/roo/member.yml': bot([mine]) }, { 'keys/roo/member.yml': bot([mine, theirs]) }))).toEqual([['token-consumer-added', 'roo/github', 'github_secret:mallory/loot:TOKEN']]);
    expect(kinds(commit({ 'keys/roo/member.yml': bot([mine]) }, { 'keys/roo/member.yml': bot([theirs]) }))).toEqual([
      ['token-consumer-added', 'roo/github', 'github_secret:mallory/loot:TOKEN'],
      ['token-consumer-removed', 'roo/github', 'github_secret:coop/site:TOKEN'],
    ]);
    // hostile shapes in history are read leniently, never thrown on
    expect(() => changesIn(commit({ 'keys/roo/member.yml': bot([mine]) }, { 'keys/roo/member.yml': bot([null, 'x', { github_secret: [1] }, {}]) }))).not.toThrow();
  });

  it('pairs a removed and an added grant for the same groups as one change, and leaves unrelated ones apart', () => {
    const config = (access: unknown[]) => stringify({ org: 'T', access });
    const before = config([
      { groups: ['infra'], hosts: 'all', user: 'sysadmin' },
      { groups: ['ops'], hosts: 'web', user: 'deploy' },
    ]);
    const after = config([
      { groups: ['infra'], hosts: 'all:!bbb', user: 'sysadmin', environments: ['production'] },
      { groups: ['monitoring'], hosts: 'monitoring', user: 'prometheus' },
    ]);
    expect(kinds(commit({ 'infra.yml': before }, { 'infra.yml': after }))).toEqual([
      ['grant-changed', 'infra -> all:!bbb as sysadmin in production', 'was infra -> all as sysadmin'],
      ['grant-added', 'monitoring -> monitoring as prometheus', undefined],
      ['grant-removed', 'ops -> web as deploy', undefined],
    ]);
  });

  it('reordered grants are no change', () => {
    const a = { groups: ['infra'], hosts: 'all', user: 'sysadmin' };
    const b = { groups: ['ops'], hosts: 'web', user: 'deploy' };
    expect(kinds(commit({ 'infra.yml': stringify({ access: [a, b] }) }, { 'infra.yml': stringify({ access: [b, a] }) }))).toEqual([]);
  });
});

describe('certificates in "changes since"', () => {
  const c1 = { serial: 3, key: 'laptop', fingerprint: 'SHA256:x', ca: 'SHA256:y', valid_after: '2026-11-20T08:00:00Z', valid_before: '2026-11-20T20:00:00Z', signed_by: 'alice', reason: 'on-call' };
  it('lists each certificate issued, by whom and why, and each revoked', () => {
    expect(kinds(commit({ [DANA]: member() }, { [DANA]: member({ certificates: [c1] }) }))).toEqual([
      ['certificate-issued', 'dana/laptop#3', '2026-11-20T08:00:00Z to 2026-11-20T20:00:00Z, signed by alice: on-call'],
    ]);
    expect(kinds(commit({ [DANA]: member({ certificates: [c1] }) }, { [DANA]: member({ certificates: [{ ...c1, revoked: '2026-11-20' }] }) }))).toEqual([['certificate-revoked', 'dana/laptop#3', 'on 2026-11-20']]);
    expect(kinds(commit({ [DANA]: member({ certificates: [c1] }) }, { [DANA]: member({ certificates: [c1] }) }))).toEqual([]);
  });

  it('admins added to or removed from infra.yml, with what it means for the secrets', () => {
    const config = (admins: string[]) => stringify({ org: 'o', admins, access: [] });
    expect(kinds(commit({ 'infra.yml': config(['alice', 'bob']) }, { 'infra.yml': config(['bob', 'carol']) }))).toEqual([
      ['admin-added', 'carol', 'now an admin: `infra tokens reencrypt` gives them every secret'],
      ['admin-removed', 'alice', 'no longer an admin: what they could read stays exposed until rotated'],
    ]);
    expect(kinds(commit({ 'infra.yml': config(['alice']) }, { 'infra.yml': config(['alice']) }))).toEqual([]);
  });

  it("a token's readable_by gaining or losing a reader is readers-changed", () => {
    const BOT = 'keys/roobot/member.yml';
    const bot = (readable_by?: string[]) => stringify({ name: 'Roo', kind: 'bot', status: 'active', groups: [], ssh_keys: [], tokens: [{ name: 'github', kind: 'github', rotated_at: '2026-10-01', consumers: [], ...(readable_by ? { readable_by } : {}) }] });
    expect(kinds(commit({ [BOT]: bot(['alice']) }, { [BOT]: bot(['alice', 'bob']) }))).toEqual([['readers-changed', 'roobot/github', 'readable by bob too']]);
    expect(kinds(commit({ [BOT]: bot(['alice', 'bob']) }, { [BOT]: bot(['bob']) }))).toEqual([['readers-changed', 'roobot/github', 'no longer recorded as readable by alice']]);
    expect(kinds(commit({ [BOT]: bot() }, { [BOT]: bot(['carol']) }))).toEqual([['readers-changed', 'roobot/github', 'readable by carol too']]);
    expect(kinds(commit({ [BOT]: bot(['bob', 'alice']) }, { [BOT]: bot(['alice', 'bob']) }))).toEqual([]);
  });
});
