/** `infra audit` through the built CLI (run `npm run build` first): one test per output mode, --fail-on, bad flags. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { run, spawnCli } from '../helpers/cli.js';
import { copyExample } from '../helpers/example.js';

const AS_OF = '2026-11-29';

describe('infra audit', () => {
  it('table: fits the width COLUMNS gives when stdout is not a terminal, findings with their fixes, then the access matrix', async () => {
    const dir = await copyExample();
    const r = await spawnCli(['audit', '--dir', dir, '--as-of', AS_OF], { env: { COLUMNS: '64' } });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^infra audit, 2026-11-29: \d+ high, \d+ medium, \d+ low$/);
    expect(lines.filter((l) => [...l].length > 64)).toEqual([]);
    expect(r.stdout).toMatch(/^HIGH +expired-key +dana\/old-laptop$/m);
    expect(r.stdout.replace(/\n +/g, ' ')).toContain('fix: infra keys remove dana old-laptop'); // wrapped, never cut
    expect(r.stdout).toMatch(/^Access \(\* = only from the VPN\)$/m);
    expect(r.stdout).toMatch(/^production\/bbb1 +sysadmin +alice, bob\*, dana\*/m);
    expect(r.stderr).toBe('');

    const wide = await spawnCli(['audit', '--dir', dir, '--as-of', AS_OF], { env: { COLUMNS: '200' } });
    expect(wide.stdout.split('\n').some((l) => [...l].length > 64)).toBe(true);
  });

  it('--format markdown: heading with the date, summary, findings table, access matrix; a | quoted from a file cannot break a row', async () => {
    const dir = await copyExample();
    const config = path.join(dir, 'infra.yml');
    // a grant whose pattern selects nothing is an invalid-registry finding that quotes the pattern
    await fs.writeFile(config, (await fs.readFile(config, 'utf8')).replace('hosts: monitoring', 'hosts: "mon|itoring"'));
    const r = await run(['audit', '--dir', dir, '--as-of', AS_OF, '--format', 'markdown']);
    expect(r.code).toBe(0);
    const md = r.stdout;
    expect(md.startsWith('# Infrastructure audit, 2026-11-29\n\n**')).toBe(true);
    expect(md).toContain('| Severity | Code | Subject | Detail | Fix |');
    expect(md).toMatch(/^\| high \| weak-key \| `erin\/old-thinkpad` \|/m); // a subject is a code span
    expect(md).toMatch(/^\| high \| invalid-registry \| .*mon\\\|itoring/m);
    expect(md).toContain('## Access');
    expect(md).toMatch(/^\| Host \| alice \| bob \| dana \| erin \| frank \|$/m);
    // every table row has as many cells as its header
    for (const block of md.split('\n\n').filter((b) => b.startsWith('|'))) {
      const rows = block.split('\n').filter((row) => row !== '');
      const cells = (row: string) => row.replace(/\\\|/g, '').split('|').length;
      expect(rows.map(cells)).toEqual(rows.map(() => cells(rows[0])));
    }
  });

  it('--json: the documented shape, findings sorted, summary counted; --format json prints the same data', async () => {
    const dir = await copyExample();
    const r = await run(['audit', '--dir', dir, '--as-of', AS_OF, '--json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(Object.keys(json).sort()).toEqual(['access', 'as_of', 'changes', 'findings', 'summary']);
    expect(json.as_of).toBe(AS_OF);
    expect(json.findings[0]).toEqual({ code: expect.any(String), severity: 'high', subject: expect.any(String), detail: expect.any(String), fix: expect.any(String) });
    expect(new Set(json.findings.map((f: { code: string }) => f.code)).size).toBeGreaterThanOrEqual(8);
    expect(json.summary.high).toBe(json.findings.filter((f: { severity: string }) => f.severity === 'high').length);
    expect(json.access).toContainEqual(expect.objectContaining({ environment: 'production', host: 'bbb1', user: 'sysadmin', vpn_only: false }));
    const viaFormat = await run(['audit', '--dir', dir, '--as-of', AS_OF, '--format', 'json']);
    expect(JSON.parse(viaFormat.stdout)).toEqual(json);
  });

  it('--fail-on high: exit 4 with the report still printed; --fail-on high on a report with no high finding is 0', async () => {
    const dir = await copyExample();
    const r = await spawnCli(['audit', '--dir', dir, '--as-of', AS_OF, '--fail-on', 'high']);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^HIGH +weak-key/m);
    expect(r.stderr).toContain('--fail-on high');
    const json = await spawnCli(['audit', '--dir', dir, '--as-of', AS_OF, '--fail-on', 'high', '--json']);
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stdout).summary.high).toBeGreaterThan(0);
  });

  it('bad flags: an unknown severity is exit 3, --limit without --live and --json with --format markdown are exit 2, an unknown flag is exit 2', async () => {
    const dir = await copyExample();
    const severity = await run(['audit', '--dir', dir, '--fail-on', 'critical']);
    expect(severity.code).toBe(3);
    expect(severity.stderr).toContain('--fail-on "critical" is not a severity');
    expect((await run(['audit', '--dir', dir, '--limit', 'bbb1'])).code).toBe(2);
    const both = await run(['audit', '--dir', dir, '--json', '--format', 'markdown']);
    expect(both.code).toBe(2);
    expect(JSON.parse(both.stdout).error.message).toContain('--json prints JSON');
    const typo = await run(['audit', '--dir', dir, '--fail-of', 'high']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean --fail-on?');
    expect((await run(['audit', '--dir', dir, '--as-of', '29/11/2026'])).code).toBe(3);
  });
});
