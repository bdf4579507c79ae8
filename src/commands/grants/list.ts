import { InfraCommand } from '../_shared/base-command.js';
import { table } from '../../lib/style.js';
import { listGrants, type GrantView } from '../../services/grants.js';

export default class GrantsList extends InfraCommand<{ grants: GrantView[] }> {
  static override summary = 'List the grants with the hosts each pattern reaches now.';
  static override description = 'N is the number `infra grants remove N` takes. HOSTS REACHED is what the pattern selects in each environment’s inventory today.';
  static override examples = ['<%= config.bin %> grants list', '<%= config.bin %> grants list --json'];

  async run(): Promise<{ grants: GrantView[] }> {
    await this.parseWith(GrantsList);
    const ctx = this.context();
    const result = await listGrants(ctx);
    if (!this.jsonEnabled()) {
      if (!result.grants.length) this.say('No grants yet: infra grants add --groups GROUP --hosts PATTERN --user USER');
      else {
        const rows = result.grants.map((g) => [
          String(g.number),
          g.groups.join(','),
          g.hosts,
          g.user,
          g.vpn_only ? 'yes' : 'no',
          Object.entries(g.reaches).map(([env, hosts]) => `${env}: ${hosts.join(' ') || '(none)'}`).join('; '),
        ]);
        this.out(table(['N', 'GROUPS', 'HOSTS', 'USER', 'VPN ONLY', 'HOSTS REACHED'], rows, { width: ctx.stdout.columns, shrink: [5, 2, 1] }));
      }
    }
    return result;
  }
}
