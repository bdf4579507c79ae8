import { InfraCommand } from '../../lib/base-command.js';
import { table } from '../../lib/style.js';

export interface MemberSummary {
  handle: string;
  name: string;
  kind: 'human' | 'bot';
  org: string;
  status: 'active' | 'departed';
  groups: string[];
  ssh_keys: number;
  vpn_peers: number;
  admin: boolean;
}

export interface MembersListResult {
  members: MemberSummary[];
}

export default class MembersList extends InfraCommand<MembersListResult> {
  static override summary = 'List the principals (people and bots).';
  static override examples = ['<%= config.bin %> members list', '<%= config.bin %> members list --json | jq -r \'.members[] | select(.status == "departed") | .handle\''];

  async run(): Promise<MembersListResult> {
    await this.parseWith(MembersList);
    const { registry } = await this.load();
    const members = registry.members.map((m) => ({
      handle: m.handle,
      name: m.name,
      kind: m.kind,
      org: m.org,
      status: m.status,
      groups: m.groups,
      ssh_keys: m.ssh_keys.length,
      vpn_peers: m.vpn_peers.length,
      admin: registry.config.admins.includes(m.handle),
    }));
    if (!this.jsonEnabled())
      this.out(
        table(
          ['HANDLE', 'NAME', 'KIND', 'ORG', 'STATUS', 'GROUPS', 'KEYS', 'PEERS'],
          members.map((m) => [m.handle + (m.admin ? '*' : ''), m.name, m.kind, m.org, m.status, m.groups.join(',') || '-', String(m.ssh_keys), String(m.vpn_peers)]),
        ),
      );
    this.say('* admin (may decrypt bot tokens)');
    return { members };
  }
}
