import * as Args from '@oclif/core/args';
import { InfraCommand } from '../_shared/base-command.js';
import { addAdmin, type AdminChangeResult } from '../../services/admins.js';

export default class AdminsAdd extends InfraCommand<AdminChangeResult> {
  static override summary = 'Make an active human member an admin: one who can decrypt the registry’s secrets.';
  static override description =
    'Adds HANDLE to `admins` in infra.yml (one line changes). An admin needs keys/HANDLE/pgp.asc. The stored secrets (bot tokens, the vault password, the CA key) are not readable by them until an existing admin runs `infra tokens reencrypt`; until then the audit reports secret-not-readable.';
  static override examples = ['<%= config.bin %> admins add alice', '<%= config.bin %> admins add bob --json'];
  static override args = { handle: Args.string({ required: true, description: 'the member' }) };

  async run(): Promise<AdminChangeResult> {
    const { args } = await this.parseWith(AdminsAdd);
    const result = await addAdmin(this.context(), args.handle);
    this.say(result.changed ? `${result.handle} is now an admin (admins: ${result.admins.join(', ')}).` : `${result.handle} is an admin already; nothing changed.`);
    if (result.next.length) this.say(['Next:', ...result.next.map((n) => `  ${n}`)].join('\n'));
    return result;
  }
}
