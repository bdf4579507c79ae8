import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { addGrant, type GrantView } from '../../services/grants.js';

export default class GrantsAdd extends InfraCommand<{ grant: GrantView; next: string[]; written: string[] }> {
  static override summary = 'Grant member groups SSH access as a remote user on the hosts an Ansible pattern selects.';
  static override description =
    'Appends one grant to `access` in infra.yml. The pattern is resolved as `ansible --list-hosts` would, and must select at least one host. --vpn-only restricts the key lines to the VPN networks’ ranges (from=).';
  static override examples = [
    '<%= config.bin %> grants add --groups monitoring --hosts web --user monitor',
    '<%= config.bin %> grants add --groups meet-tech --hosts "bbb:&production" --user bbb-admin --vpn-only --env production',
  ];
  static override flags = {
    groups: Flags.string({ description: 'member groups, comma-separated' }),
    hosts: Flags.string({ description: 'Ansible host pattern (all, a group, a host, bbb:&production, ...)' }),
    user: Flags.string({ description: 'remote Unix user whose authorized_keys get the keys' }),
    'vpn-only': Flags.boolean({ description: 'key lines only accepted from the VPN ranges' }),
    env: Flags.string({ description: 'only in this environment (repeatable; default: all)', multiple: true }),
  };

  async run(): Promise<{ grant: GrantView; next: string[]; written: string[] }> {
    const { flags } = await this.parseWith(GrantsAdd);
    const result = await addGrant(this.context(), { groups: flags.groups, hosts: flags.hosts, user: flags.user, vpnOnly: flags['vpn-only'], env: flags.env });
    const g = result.grant;
    const reach = Object.entries(g.reaches).map(([env, hosts]) => `${env}: ${hosts.join(', ') || 'no host'}`).join('; ');
    this.say(`Grant ${g.number}: ${g.groups.join(',')} → ${g.user}@${g.hosts}${g.vpn_only ? ' (VPN only)' : ''}. Reaches ${reach}.`);
    this.say(['Next:', ...result.next.map((n) => `  ${n}`)].join('\n'));
    return result;
  }
}
