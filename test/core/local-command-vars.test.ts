/**
 * core/local-command-vars.ts: which inventory connection settings run a command on the controller during
 * `audit --live` (Ansible honours each), table-driven; and the finding and notice they become.
 */
import { localCommandFindings, localCommandNotice, localCommandSettings, type VarSource } from '../../src/core/local-command-vars.js';

const src = (vars: Record<string, unknown>, hosts = ['web1'], where = 'inv/group_vars/all.yml'): VarSource => ({ where, hosts, vars });

describe('localCommandSettings', () => {
  it.each([
    ['ProxyCommand in common args', { ansible_ssh_common_args: '-o ProxyCommand="sh -c id"' }, 'ansible_ssh_common_args', /ProxyCommand/],
    ['-oProxyCommand glued, lower case', { ansible_ssh_extra_args: '-oproxycommand=nc %h %p' }, 'ansible_ssh_extra_args', /proxycommand/],
    ['LocalCommand', { ansible_ssh_args: '-o PermitLocalCommand=yes -o LocalCommand=touch /tmp/x' }, 'ansible_ssh_args', /Command/],
    ['KnownHostsCommand', { ansible_ssh_common_args: '-o KnownHostsCommand=/bin/x' }, 'ansible_ssh_common_args', /KnownHostsCommand/],
    ['ProxyUseFdpass', { ansible_ssh_common_args: '-o ProxyUseFdpass=yes' }, 'ansible_ssh_common_args', /ProxyUseFdpass/],
    ['Match exec', { ansible_ssh_common_args: '-o "Match exec \\"touch /tmp/x\\""' }, 'ansible_ssh_common_args', /Match … exec/],
    ['another config file', { ansible_ssh_common_args: '-F /tmp/evil_config' }, 'ansible_ssh_common_args', /-F/],
    ['a templated value', { ansible_ssh_common_args: "{{ lookup('pipe', 'id') }}" }, 'ansible_ssh_common_args', /template/],
    ['scp and sftp args', { ansible_scp_extra_args: '-o ProxyCommand=x' }, 'ansible_scp_extra_args', /ProxyCommand/],
    ['an ssh executable', { ansible_ssh_executable: '/tmp/fake-ssh' }, 'ansible_ssh_executable', /instead of ssh/],
    ['a paramiko proxy command', { ansible_paramiko_proxy_command: 'nc %h %p' }, 'ansible_paramiko_proxy_command', /proxy command/],
    ['a local connection', { ansible_connection: 'local' }, 'ansible_connection', /controller/],
    ['the builtin local connection', { ansible_connection: 'ansible.builtin.local' }, 'ansible_connection', /controller/],
    ['a docker connection', { ansible_connection: 'community.docker.docker' }, 'ansible_connection', /community\.docker\.docker connection runs a program/],
  ])('%s', (_, vars, variable, reason) => {
    const [setting, ...rest] = localCommandSettings([src(vars)]);
    expect(rest).toEqual([]);
    expect(setting).toMatchObject({ where: 'inv/group_vars/all.yml', variable, hosts: ['web1'], reason: expect.stringMatching(reason) });
  });

  it.each([
    ['ordinary ssh args', { ansible_ssh_common_args: '-o StrictHostKeyChecking=yes -o ProxyJump=bastion.example' }],
    ['ssh, paramiko and winrm connections', { ansible_connection: 'ssh' }],
    ['a python interpreter on a remote host', { ansible_python_interpreter: '/usr/bin/python3' }],
    ['null values', { ansible_ssh_common_args: null, ansible_ssh_executable: null }],
    ['other variables', { ansible_host: '10.0.0.1', ansible_user: 'ProxyCommand' }],
  ])('%s: nothing', (_, vars) => {
    expect(localCommandSettings([src(vars)])).toEqual([]);
  });

  it('a python interpreter runs on the controller for the hosts whose connection is local (set anywhere)', () => {
    const settings = localCommandSettings([
      src({ ansible_connection: 'local' }, ['ctl'], 'inv/host_vars/ctl.yml'),
      src({ ansible_python_interpreter: '/tmp/evil-python' }, ['ctl', 'web1', 'web2'], 'inv/group_vars/all.yml'),
    ]);
    expect(settings.map((s) => [s.variable, s.hosts])).toEqual([
      ['ansible_connection', ['ctl']],
      ['ansible_python_interpreter', ['ctl']],
    ]);
  });

  it('a hostile value is printed without control characters, shortened', () => {
    const [s] = localCommandSettings([src({ ansible_ssh_executable: `/x\n\u001b[2Jfake line${'a'.repeat(300)}` })]);
    expect(s.value).not.toMatch(/[\n\u001b]/);
    expect(s.value.length).toBeLessThanOrEqual(200);
  });
});

describe('the findings and the notice', () => {
  const settings = localCommandSettings([src({ ansible_ssh_common_args: '-o ProxyCommand=id' }, ['a', 'b', 'c', 'd', 'e', 'f', 'g'])]);
  it('one medium live-runs-local-command finding per setting, naming environment, file, variable, value and hosts', () => {
    expect(localCommandFindings('production', settings)).toEqual([
      {
        code: 'live-runs-local-command',
        severity: 'medium',
        subject: 'production: inv/group_vars/all.yml: ansible_ssh_common_args',
        detail: 'ansible_ssh_common_args: -o ProxyCommand=id (ssh option ProxyCommand runs a command on the controller; applies to a, b, c, d, e and 2 more). `infra audit --live` runs Ansible with it',
        fix: 'check that inv/group_vars/all.yml sets ansible_ssh_common_args on purpose (its git history says who set it); remove it if not',
      },
    ]);
  });
  it('the notice lists each setting; nothing when there is none', () => {
    expect(localCommandNotice('production', settings)).toEqual([
      'production: 1 connection setting(s) run a command on this machine when Ansible connects (see the live-runs-local-command findings):',
      '  inv/group_vars/all.yml: ansible_ssh_common_args: -o ProxyCommand=id (ssh option ProxyCommand runs a command on the controller)',
    ]);
    expect(localCommandNotice('production', [])).toEqual([]);
  });
});
