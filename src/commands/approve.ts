import * as Args from '@oclif/core/args';
import { InfraCommand } from './_shared/base-command.js';
import { approveChange, type ApproveResult } from '../services/signed-changes.js';

export default class Approve extends InfraCommand<ApproveResult> {
  static override summary = "Approve a protected change as the second admin: an empty commit signed with your key, naming it.";
  static override description = `Makes \`git commit --allow-empty -S\` with the trailer Infra-Approves: <full hash>, signed by your own git signing configuration (gpg.format, user.signingkey), which approves REV and every commit before it in the range \`infra verify\` checks. Refused when your signing key is not an admin's at HEAD, or when you signed REV yourself.`;
  static override examples = ['<%= config.bin %> approve', '<%= config.bin %> approve HEAD --json'];
  static override args = { rev: Args.string({ required: false, description: 'the commit to approve (default HEAD)' }) };

  async run(): Promise<ApproveResult> {
    const { args } = await this.parseWith(Approve);
    const result = await approveChange(this.context(), { rev: args.rev });
    this.say(`${result.approver} approved ${result.approves.slice(0, 12)} and the commits before it: ${result.commit.slice(0, 12)}. Push it with the change.`);
    if (result.stillUnapproved.length) this.say(`not approved (you signed them; another admin must): ${result.stillUnapproved.map((c) => c.slice(0, 12)).join(', ')}`);
    return result;
  }
}
