import { InfraCommand } from '../_shared/base-command.js';
import { table } from '../../lib/style.js';
import { listMembers, type MemberSummary } from '../../services/members.js';

export default class MembersList extends InfraCommand<{ members: MemberSummary[] }> {
  static override summary = 'List the principals (people and bots).';
  static override examples = ['<%= config.bin %> members list', '<%= config.bin %> members list --json'];

  async run(): Promise<{ members: MemberSummary[] }> {
    await this.parseWith(MembersList);
    const ctx = this.context();
    const result = await listMembers(ctx);
    if (!this.jsonEnabled()) {
      const rows = result.members.map((m) => [m.handle + (m.admin ? '*' : ''), m.name, m.kind, m.org, m.status, m.groups.join(',') || '-', String(m.ssh_keys), String(m.vpn_peers)]);
      this.out(table(['HANDLE', 'NAME', 'KIND', 'ORG', 'STATUS', 'GROUPS', 'KEYS', 'PEERS'], rows, { width: ctx.stdout.columns, shrink: [5, 3, 1], wrap: [5, 3, 1] }));
      this.say('* admin (may decrypt bot tokens)');
    }
    return result;
  }
}
