import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { bold } from '../../lib/style.js';
import { offboardMember, type OffboardResult } from '../../services/members.js';

export default class MembersOffboard extends InfraCommand<OffboardResult> {
  static override summary = 'Mark a member departed; their keys and peers stop granting anything at the next render.';
  static override description =
    'Sets status: departed and the date, removes them from admins, and prints the follow-up checklist: render and apply, VPN, tokens they could read (to rotate), and accounts outside infra. Their keys stay in member.yml for the record and are rendered as revoked.';
  static override examples = ['<%= config.bin %> members offboard frank', '<%= config.bin %> members offboard bob --date 2026-10-01 --json'];
  static override args = { handle: Args.string({ required: true, description: 'who is leaving' }) };
  static override flags = { date: Flags.string({ description: 'departure date YYYY-MM-DD (default: today)' }) };

  async run(): Promise<OffboardResult> {
    const { args, flags } = await this.parseWith(MembersOffboard);
    const result = await offboardMember(this.context(), args.handle, flags.date);
    if (!this.jsonEnabled()) {
      this.say(result.already_departed ? `${result.handle} already departed on ${result.departed}; nothing changed.` : `${result.handle} marked departed on ${result.departed}.`);
      this.out([bold('Follow-up checklist:'), ...result.checklist.map((c) => `  [ ] ${c}`)].join('\n'));
    }
    return result;
  }
}
