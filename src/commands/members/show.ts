import { Args } from '@oclif/core';
import { loadInventories } from '../../adapters/inventories.js';
import { addDays, daysBetween, localDate } from '../../core/dates.js';
import { hostsReachedBy, type Reach } from '../../core/grants.js';
import { parsePublicKey } from '../../core/ssh-key.js';
import type { Member } from '../../core/types.js';
import { assertHandle } from '../../core/validate.js';
import { InfraCommand } from '../../lib/base-command.js';
import { ExitCode, InfraError } from '../../lib/errors.js';
import { bold, table } from '../../lib/style.js';

export interface MemberShowResult {
  member: Omit<Member, 'has_pgp'> & { admin: boolean; has_pgp: boolean };
  keys: Array<{ name: string; type: string; bits: number; fingerprint: string; added: string; expires?: string; source?: string }>;
  tokens: Array<{ name: string; kind: string; rotated_at?: string; next_due?: string }>;
  reaches: Reach[];
}

export default class MembersShow extends InfraCommand<MemberShowResult> {
  static override summary = 'One principal: keys, VPN peers, tokens, and the hosts they reach.';
  static override examples = ['<%= config.bin %> members show alice', '<%= config.bin %> members show roobot --json'];
  static override args = { handle: Args.string({ required: true, description: 'the member' }) };

  async run(): Promise<MemberShowResult> {
    const { args } = await this.parseWith(MembersShow);
    assertHandle(args.handle);
    const loaded = await this.load();
    const { config, members } = loaded.registry;
    const member = members.find((m) => m.handle === args.handle);
    if (!member) throw new InfraError(ExitCode.invalid, `no member "${args.handle}"`, { hint: 'see `infra members list`' });
    const reaches = hostsReachedBy(member.handle, config, members, await loadInventories(loaded));
    const keys = member.ssh_keys.map((k) => {
      const p = parsePublicKey(k.key);
      return { name: k.name, type: p.type, bits: p.bits, fingerprint: p.fingerprint, added: k.added, ...(k.expires ? { expires: k.expires } : {}), ...(k.source ? { source: k.source } : {}) };
    });
    const tokens = member.tokens.map((t) => {
      const every = t.rotate_every_days ?? config.policy.tokens.rotate_every_days;
      return { name: t.name, kind: t.kind, ...(t.rotated_at ? { rotated_at: t.rotated_at, next_due: addDays(t.rotated_at, every) } : {}) };
    });
    const result: MemberShowResult = { member: { ...member, admin: config.admins.includes(member.handle) }, keys, tokens, reaches };
    if (!this.jsonEnabled()) this.out(this.human(result));
    return result;
  }

  private human(r: MemberShowResult): string {
    const m = r.member;
    const today = localDate(new Date());
    const lines = [
      bold(`${m.handle}: ${m.name}`),
      `${m.kind}, ${m.org}${m.email ? `, ${m.email}` : ''}${m.admin ? ', admin' : ''}; ${m.status}${m.departed ? ` since ${m.departed}` : ''}`,
      `groups: ${m.groups.join(', ') || '-'}`,
      '',
      bold('SSH keys'),
      r.keys.length ? table(['NAME', 'TYPE', 'BITS', 'FINGERPRINT', 'AGE', 'EXPIRES'], r.keys.map((k) => [k.name, k.type, String(k.bits), k.fingerprint, `${daysBetween(k.added, today)}d`, k.expires ?? '-'])).trimEnd() : '  none',
      '',
      bold('VPN peers'),
      m.vpn_peers.length ? table(['NETWORK', 'DEVICE', 'ADDRESSES', 'PUBLIC KEY'], m.vpn_peers.map((p) => [p.network, p.device, p.addresses.join(' '), p.public_key])).trimEnd() : '  none',
    ];
    if (r.tokens.length) lines.push('', bold('Tokens'), table(['NAME', 'KIND', 'ROTATED', 'NEXT DUE'], r.tokens.map((t) => [t.name, t.kind, t.rotated_at ?? 'never', t.next_due ?? 'now'])).trimEnd());
    lines.push('', bold('Reaches'));
    lines.push(
      r.reaches.length
        ? table(['ENV', 'HOST', 'USER', 'KEYS', 'FROM'], r.reaches.map((x) => [x.environment, x.host, x.user, x.keys.join(','), x.vpnOnly ? 'VPN only' : 'anywhere'])).trimEnd()
        : m.status === 'departed'
          ? '  nothing (departed)'
          : '  nothing: no grant in infra.yml covers their groups',
    );
    return lines.join('\n');
  }
}
