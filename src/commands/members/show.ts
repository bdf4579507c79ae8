import * as Args from '@oclif/core/args';
import { InfraCommand } from '../_shared/base-command.js';
import { bold, clean, table } from '../../lib/style.js';
import { showMember, type ShowMemberResult } from '../../services/members.js';

export default class MembersShow extends InfraCommand<ShowMemberResult> {
  static override summary = 'One principal: keys, VPN peers, tokens, and the hosts they reach.';
  static override description =
    'NOTE marks what `infra audit` reports as of today: expired, expiring (within policy.audit.horizon_days) and old keys (over policy.ssh.max_age_days), overdue and due-soon tokens. Reaches lists every environment, host and remote user a grant gives them, and whether only from the VPN.';
  static override examples = ['<%= config.bin %> members show alice', '<%= config.bin %> members show roobot --json'];
  static override args = { handle: Args.string({ required: true, description: 'the member' }) };

  async run(): Promise<ShowMemberResult> {
    const { args } = await this.parseWith(MembersShow);
    const ctx = this.context();
    const r = await showMember(ctx, args.handle);
    if (this.jsonEnabled()) return r;
    const m = r.member;
    const fit = (shrink: number[]) => ({ width: ctx.stdout.columns - 2, shrink });
    const section = (title: string, text: string) => ['', bold(title), text.trimEnd()];
    this.out([
      // the name is free text: bidi overrides in it must not reorder the line
      bold(`${m.handle}: ${clean(m.name)}`),
      clean(`${m.kind}, ${m.org}${m.email ? `, ${m.email}` : ''}${m.admin ? ', admin' : ''}; ${m.status}${m.departed ? ` since ${m.departed}` : ''}`),
      `groups: ${m.groups.join(', ') || '-'}`,
      ...section('SSH keys', r.keys.length ? table(['NAME', 'TYPE', 'BITS', 'FINGERPRINT', 'AGE', 'EXPIRES', 'NOTE'], r.keys.map((k) => [k.name, k.type, String(k.bits), k.fingerprint, `${k.age_days}d`, k.expires ?? '-', k.marks.map((x) => x.note).join('; ')]), fit([3, 6, 1, 0])) : '  none'),
      ...section('VPN peers', m.vpn_peers.length ? table(['NETWORK', 'DEVICE', 'ADDRESSES', 'PUBLIC KEY'], m.vpn_peers.map((p) => [p.network, p.device, p.addresses.join(' '), p.public_key]), fit([3, 2])) : '  none'),
      ...(r.tokens.length ? section('Tokens', table(['NAME', 'KIND', 'ROTATED', 'NEXT DUE', 'NOTE'], r.tokens.map((t) => [t.name, t.kind, t.rotated_at ?? 'never', t.next_due ?? 'now', t.mark?.note ?? '']))) : []),
      ...section(
        'Reaches',
        r.reaches.length
          ? table(['ENV', 'HOST', 'USER', 'KEYS', 'FROM'], r.reaches.map((x) => [x.environment, x.host, x.user, x.keys.join(','), x.vpn_only ? 'VPN only' : 'anywhere']), fit([3, 1]))
          : m.status === 'departed' ? '  nothing (departed)' : '  nothing: no grant in infra.yml covers their groups',
      ),
    ].join('\n'));
    return r;
  }
}
