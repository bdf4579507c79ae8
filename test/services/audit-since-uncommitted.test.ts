/**
 * `runAudit --since` on a real git repository: admins added and removed in infra.yml, and edits of the working
 * tree not committed yet, listed last and marked uncommitted (in the JSON, the table and the Markdown).
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { auditMarkdown, auditTable } from '../../src/core/audit-format.js';
import { runAudit } from '../../src/services/audit.js';
import { removeKey } from '../../src/services/keys.js';
import { testContext } from '../helpers/context.js';
import { copyExample } from '../helpers/example.js';
import { requireTool } from '../helpers/real-tools.js';

const TODAY = '2026-11-29';
const HAS_GIT = requireTool('git', 'git');

(HAS_GIT ? describe : describe.skip)('runAudit --since: admins and uncommitted edits', () => {
  const git = (dir: string, args: string[], date: string) =>
    execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.org', '-c', 'commit.gpgsign=false', '-C', dir, ...args], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, GIT_CONFIG_NOSYSTEM: '1', HOME: dir },
    });
  const commit = (dir: string, date: string) => {
    git(dir, ['add', '-A'], date);
    git(dir, ['commit', '-q', '-m', `change of ${date}`], date);
    return git(dir, ['rev-parse', '--short', 'HEAD'], date).trim();
  };

  it('an admin removed in a commit, and a key removed but not committed: both listed, the second plainly uncommitted', async () => {
    const root = await copyExample();
    const ctx = testContext({ root, today: TODAY });
    git(root, ['init', '-q', '-b', 'main'], '2026-11-01T12:00:00+00:00');
    const first = commit(root, '2026-11-01T12:00:00+00:00');
    const config = await fs.readFile(path.join(root, 'infra.yml'), 'utf8');
    expect(config).toMatch(/^admins: \[alice, bob\]/m); // the example's admins, as a flow list
    await fs.writeFile(path.join(root, 'infra.yml'), config.replace(/^admins: \[alice, bob\]/m, 'admins: [bob]'));
    const added = commit(root, '2026-11-10T12:00:00+00:00');
    await removeKey(ctx, 'dana', 'old-laptop'); // not committed

    const r = await runAudit(ctx, { since: first });
    expect(r.changes).toEqual([
      expect.objectContaining({ date: '2026-11-10', commit: added, kind: 'admin-removed', subject: 'alice' }),
      { date: TODAY, commit: 'uncommitted', kind: 'key-removed', subject: 'dana/old-laptop', uncommitted: true },
    ]);
    expect(r.changes![1]).not.toHaveProperty('verdict');
    expect(auditTable(r, 120)).toMatch(/2026-11-29 +uncommitted +key-removed +dana\/old-laptop/);
    expect(auditMarkdown(r)).toContain('| 2026-11-29 | **uncommitted** | key-removed | `dana/old-laptop` |  |');

    // committed, it is an ordinary change and nothing is uncommitted
    const removed = commit(root, '2026-11-20T12:00:00+00:00');
    const after = await runAudit(ctx, { since: first });
    expect(after.changes!.map((c) => [c.commit, c.kind, c.uncommitted ?? false])).toEqual([
      [added, 'admin-removed', false],
      [removed, 'key-removed', false],
    ]);
  });

  it('an untracked new member file is an uncommitted member-added', async () => {
    const root = await copyExample();
    const ctx = testContext({ root, today: TODAY });
    git(root, ['init', '-q', '-b', 'main'], '2026-11-01T12:00:00+00:00');
    const first = commit(root, '2026-11-01T12:00:00+00:00');
    await fs.mkdir(path.join(root, 'keys/gina'));
    await fs.writeFile(path.join(root, 'keys/gina/member.yml'), 'name: Gina\nkind: human\norg: o\nstatus: active\ngroups: [infra]\nssh_keys: []\n');
    const r = await runAudit(ctx, { since: first });
    expect(r.changes).toEqual([expect.objectContaining({ commit: 'uncommitted', kind: 'member-added', subject: 'gina', uncommitted: true })]);
  });
});
