import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { reencryptTokens, type ReencryptResult } from '../../services/tokens.js';

export default class TokensReencrypt extends InfraCommand<ReencryptResult> {
  static override summary = 'Re-encrypt every admin-held secret (token values, pending values, the vault password, the CA key) to the current admins.';
  static override description =
    "Run it after an admin joins or leaves. Decrypting needs one current admin's private key. The tokens a former admin could read are listed: re-encrypting does not take the value back from them, so those must be rotated.";
  static override examples = ['<%= config.bin %> tokens reencrypt --key ~/admin-key.asc'];
  static override flags = { key: Flags.string({ description: 'your private OpenPGP key (gpg --export-secret-keys --armor EMAIL > FILE); - reads it from stdin', required: true }) };

  async run(): Promise<ReencryptResult> {
    const { flags } = await this.parseWith(TokensReencrypt);
    const result = await reencryptTokens(this.context(), { key: flags.key });
    this.say(`re-encrypted ${result.reencrypted.length} file(s) to ${result.recipients.map((r) => `${r.handle} (${r.fingerprint})`).join(', ') || result.admins.join(', ')}`);
    if (!this.jsonEnabled())
      for (const e of result.exposed) this.out(`rotate the ${e.label} ${e.subject}: readable by former admin(s) ${e.readable_by_former_admins.join(', ')} -> ${e.command}`);
    return result;
  }
}
