import * as Args from '@oclif/core/args';
import { InfraCommand } from '../_shared/base-command.js';
import { revokeCertificates, type RevokeResult } from '../../services/certs.js';

export default class CertsRevoke extends InfraCommand<RevokeResult> {
  static override summary = "Revoke a certificate (SERIAL), a member's (HANDLE) or a key's (HANDLE/KEY): hosts refuse them after the next render and apply.";
  static override description = 'Records `revoked: DATE` on each certificate; `infra render` puts the serials in the KRL hosts read (sshd RevokedKeys). Expired certificates need no revoking and are left as they are.';
  static override examples = ['<%= config.bin %> certs revoke 1', '<%= config.bin %> certs revoke alice/laptop'];
  static override args = { target: Args.string({ required: true, description: 'SERIAL, HANDLE or HANDLE/KEY' }) };

  async run(): Promise<RevokeResult> {
    const { args } = await this.parseWith(CertsRevoke);
    const result = await revokeCertificates(this.context(), { target: args.target });
    if (!this.jsonEnabled()) {
      for (const r of result.revoked) this.say(`revoked certificate ${r.serial} (${r.member}/${r.key}, valid until ${r.valid_before})`);
      for (const u of result.unchanged) this.say(`certificate ${u.serial} (${u.member}/${u.key}) is already ${u.why}`);
      if (result.revoked.length) this.say('next: `infra render`, commit, and apply (ansible/apply-access.yml): hosts refuse them from then on');
      else this.say('nothing to revoke');
    }
    return result;
  }
}
