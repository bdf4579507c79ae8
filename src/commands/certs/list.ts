import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { table } from '../../lib/style.js';
import { listCertificates, type CertRow } from '../../services/certs.js';

export default class CertsList extends InfraCommand<{ certificates: CertRow[] }> {
  static override summary = 'List SSH certificates the registry issued: valid ones, or with --all expired and revoked ones too.';
  static override examples = ['<%= config.bin %> certs list', '<%= config.bin %> certs list alice --all --json'];
  static override args = { handle: Args.string({ required: false, description: 'only this member' }) };
  static override flags = { all: Flags.boolean({ description: 'also expired and revoked certificates' }) };

  async run(): Promise<{ certificates: CertRow[] }> {
    const { args, flags } = await this.parseWith(CertsList);
    const ctx = this.context();
    const result = await listCertificates(ctx, { handle: args.handle, all: flags.all });
    if (!this.jsonEnabled()) {
      if (!result.certificates.length) this.say(flags.all ? 'no certificates recorded' : 'no certificate in force (see --all)');
      else
        this.out(
          table(
            ['SERIAL', 'KEY', 'STATUS', 'FROM', 'UNTIL', 'SIGNED BY', 'REASON'],
            result.certificates.map((c) => [String(c.serial), `${c.member}/${c.key}`, c.revoked ? `revoked ${c.revoked}` : c.status, c.valid_after, c.valid_before, c.signed_by, c.reason ?? '']),
            { width: ctx.stdout.columns, shrink: [6] },
          ),
        );
    }
    return result;
  }
}
