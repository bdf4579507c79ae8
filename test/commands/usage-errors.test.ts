/** Usage errors (exit 2) in infra's own style, with a suggestion, on any stream: not only on a terminal. */
import { spawnCli } from '../helpers/cli.js';

describe('usage errors', () => {
  it('an unknown command names the closest ones and exits 2', async () => {
    const r = await spawnCli(['members', 'lst']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('infra: "members lst" is not an infra command (did you mean "members list" or "members add" or "members edit"?)\nhint: infra members list --help\n');
    expect(r.stdout).toBe('');
  });

  it('a mistyped topic is suggested too', async () => {
    const r = await spawnCli(['membrs']);
    expect(r.stderr).toContain('did you mean "members"?');
  });

  it('with --json the error is the one JSON document on stdout', async () => {
    const r = await spawnCli(['vpn', 'jion', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 2, message: expect.stringContaining('did you mean "vpn join"'), hint: 'infra vpn join --help' } });
  });

  it('an unknown flag suggests the nearest flag of that command', async () => {
    const r = await spawnCli(['keys', 'add', 'alice', '--nmae', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('infra: nonexistent flag: --nmae (did you mean --name?)\nhint: infra keys add --help\n');
  });

  it('missing arguments are named in one line', async () => {
    const r = await spawnCli(['keys', 'remove']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('infra: missing 2 required args: handle, key\nhint: infra keys remove --help\n');
  });
});
