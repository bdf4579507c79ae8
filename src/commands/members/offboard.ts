import { Args, Flags } from '@oclif/core';
import { isMap, isSeq } from 'yaml';
import { localDate } from '../../core/dates.js';
import { assertHandle, isIsoDate } from '../../core/validate.js';
import type { Member, Registry } from '../../core/types.js';
import { InfraCommand } from '../../lib/base-command.js';
import { ExitCode, InfraError } from '../../lib/errors.js';
import { bold } from '../../lib/style.js';

export interface OffboardResult {
  handle: string;
  departed: string;
  already_departed: boolean;
  removed_from_admins: boolean;
  revoked_keys: string[];
  peers_removed_at_render: string[];
  tokens_to_rotate: string[];
  checklist: string[];
  written: string[];
}

/** What still has to happen after the registry says someone left. Pure: from the registry as it was. */
export function offboardChecklist(registry: Registry, member: Member, wasAdmin: boolean): { checklist: string[]; tokensToRotate: string[] } {
  const h = member.handle;
  const tokens = wasAdmin ? registry.members.flatMap((m) => m.tokens.map((t) => `${m.handle}/${t.name}`)) : member.tokens.map((t) => `${h}/${t.name}`);
  const checklist = [
    `Render and apply: \`infra render\`, review and commit, then run the playbook (ansible/apply-access.yml); ${member.ssh_keys.length} key(s) of ${h} move to infra_revoked_keys and leave every host.`,
  ];
  if (member.vpn_peers.length)
    checklist.push(`VPN: ${member.vpn_peers.map((p) => `${p.network}/${p.device}`).join(', ')} drop out of the servers' peer lists at that render; apply it (wg syncconf) so the tunnels close.`);
  if (wasAdmin) checklist.push(`Tokens: ${h} was an admin and could decrypt every bot token. Re-encrypt to the remaining admins: \`infra tokens reencrypt\`.`);
  for (const t of tokens) checklist.push(`Rotate \`infra tokens rotate ${t}\` (readable by ${h} until rotated; the audit reports it as token-exposed).`);
  checklist.push(
    `Accounts outside infra: ${member.github ? `remove @${member.github} from the GitHub organisation, ` : 'GitHub organisation, '}Matrix rooms and admin rights, BigBlueButton/Greenlight admin accounts, mailing lists, the password manager, DNS and hosting panels.`,
  );
  checklist.push(`Check nothing is left: \`infra audit\` before the next meeting.`);
  return { checklist, tokensToRotate: tokens };
}

export default class MembersOffboard extends InfraCommand<OffboardResult> {
  static override summary = 'Mark a member departed; their keys and peers stop granting anything at the next render.';
  static override description =
    'Sets status: departed and the date, removes them from admins, and prints the follow-up checklist: render and apply, VPN, tokens they could read (to rotate), and accounts outside infra. Their keys stay in member.yml for the record and are rendered as revoked.';
  static override examples = ['<%= config.bin %> members offboard carol', '<%= config.bin %> members offboard carol --date 2026-10-01 --json'];
  static override args = { handle: Args.string({ required: true, description: 'who is leaving' }) };
  static override flags = { date: Flags.string({ description: 'departure date YYYY-MM-DD (default: today)' }) };

  async run(): Promise<OffboardResult> {
    const { args, flags } = await this.parseWith(MembersOffboard);
    assertHandle(args.handle);
    if (flags.date !== undefined && !isIsoDate(flags.date))
      throw new InfraError(ExitCode.invalid, `--date must be a date YYYY-MM-DD`, { hint: `infra members offboard ${args.handle} --date ${localDate(new Date())}` });
    const date = flags.date ?? localDate(new Date());
    const { result, written } = await this.mutate((tx) => {
      const member = tx.registry.members.find((m) => m.handle === args.handle);
      if (!member) throw new InfraError(ExitCode.invalid, `no member "${args.handle}"`, { hint: 'see `infra members list`' });
      const wasAdmin = tx.registry.config.admins.includes(member.handle);
      const already = member.status === 'departed';
      if (!already) {
        const doc = tx.memberDoc(member.handle);
        doc.set('status', 'departed');
        // departed: goes right after status, where a reader looks for it
        const map = doc.contents;
        if (isMap(map) && !map.has('departed')) {
          const at = map.items.findIndex((p) => (p.key as { value?: unknown })?.value === 'status');
          map.items.splice(at + 1, 0, doc.createPair('departed', date));
        } else doc.set('departed', date);
      }
      if (wasAdmin) {
        const admins = tx.configDoc().get('admins', true);
        if (isSeq(admins)) admins.items = admins.items.filter((n) => (n as { value?: unknown }).value !== member.handle);
      }
      const { checklist, tokensToRotate } = offboardChecklist(tx.registry, member, wasAdmin);
      return {
        handle: member.handle,
        departed: already ? member.departed! : date,
        already_departed: already,
        removed_from_admins: wasAdmin,
        revoked_keys: member.ssh_keys.map((k) => `${member.handle}/${k.name}`),
        peers_removed_at_render: member.vpn_peers.map((p) => `${p.network}/${p.device}`),
        tokens_to_rotate: tokensToRotate,
        checklist,
      };
    });
    if (!this.jsonEnabled()) {
      this.say(result.already_departed ? `${result.handle} already departed on ${result.departed}; nothing changed.` : `${result.handle} marked departed on ${result.departed}.`);
      this.out([bold('Follow-up checklist:'), ...result.checklist.map((c) => `  [ ] ${c}`)].join('\n'));
    }
    return { ...result, written };
  }
}
