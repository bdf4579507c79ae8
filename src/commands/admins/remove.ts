import * as Args from '@oclif/core/args';
import { InfraCommand } from '../_shared/base-command.js';
import { removeAdmin, type AdminChangeResult } from '../../services/admins.js';

export default class AdminsRemove extends InfraCommand<AdminChangeResult> {
  static override summary = 'Remove an admin, and list every secret they could read (to rotate).';
  static override description =
    'Removes HANDLE from `admins` in infra.yml. They could decrypt every stored secret until now: each is listed with the command that rotates it, and the audit reports secret-exposed until it is rotated.';
  static override examples = ['<%= config.bin %> admins remove bob', '<%= config.bin %> admins remove bob --json'];
  static override args = { handle: Args.string({ required: true, description: 'the admin' }) };

  async run(): Promise<AdminChangeResult> {
    const { args } = await this.parseWith(AdminsRemove);
    const result = await removeAdmin(this.context(), args.handle);
    this.say(`${result.handle} is no longer an admin (admins: ${result.admins.join(', ') || 'none'}).`);
    if (result.could_read.length) this.say([`${result.handle} could read:`, ...result.could_read.map((s) => `  ${s.label} ${s.subject}`)].join('\n'));
    this.say(['Next:', ...result.next.map((n) => `  ${n}`)].join('\n'));
    return result;
  }
}
