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

  it.each([
    ['help membrs', ['help', 'membrs']],
    ['membrs --help', ['membrs', '--help']],
    ['membrs -h', ['membrs', '-h']],
  ])('help for an unknown command (%s) is the same usage error as running it', async (_name, args) => {
    const asked = await spawnCli(args as string[]);
    const ran = await spawnCli(['membrs']);
    expect(asked.code).toBe(2);
    expect(asked.stderr).toBe(ran.stderr);
    expect(asked.stderr).toContain('did you mean "members"?');
    expect(asked.stdout).toBe('');
  });

  it('help for an unknown subcommand of a real topic is an error too, not the topic\'s help', async () => {
    const r = await spawnCli(['help', 'members', 'lst']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"members lst" is not an infra command (did you mean "members list"');
  });

  it('help nosuch --json: the error is the one JSON document on stdout', async () => {
    const r = await spawnCli(['help', 'nosuch', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 2, message: '"nosuch" is not an infra command', hint: 'infra --help lists every command' } });
  });

  it.each([[['help', 'members']], [['help', 'keys', 'add', 'alice']], [['help', 'vpn', 'network', 'add']], [['-h']]])('help for what exists still shows help: %j', async (args) => {
    const r = await spawnCli(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('USAGE');
  });

  it('tokens reencrypt shows --key as required, and its absence is one usage line naming the flag', async () => {
    const help = await spawnCli(['tokens', 'reencrypt', '--help']);
    expect(help.stdout).toMatch(/\$ infra tokens reencrypt --key <value>/);
    expect(help.stdout).toMatch(/--key=<value>\s+\(required\)/);
    const r = await spawnCli(['tokens', 'reencrypt']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('infra: missing required flag --key\nhint: infra tokens reencrypt --help\n');
  });
});
