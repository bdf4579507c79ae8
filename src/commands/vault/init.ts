import * as Args from '@oclif/core/args';
import { InfraCommand } from '../_shared/base-command.js';
import { initVault, type InitVaultResult } from '../../services/vault.js';
import { shellQuote } from '../../lib/shell-quote.js';

export default class VaultInit extends InfraCommand<InitVaultResult> {
  static override summary = 'Store the Ansible vault password in the registry, encrypted to every admin, and write ansible/vault-pass-client.';
  static override description = `Without an argument a new random password is made (32 random bytes, base64url). With - the password the inventories use now is read from stdin (or a hidden prompt on a terminal), stripped of surrounding whitespace as Ansible strips a password file. It is stored in vault/password.asc (OpenPGP, one message every admin's key decrypts) and recorded in vault/vault.yml.
ansible/vault-pass-client is the script Ansible then uses as its vault password file, with your key in INFRA_ADMIN_KEY. An existing vault/password.asc is never replaced: rotate it with \`infra vault rotate\`.`;
  static override examples = ['<%= config.bin %> vault init', '<%= config.bin %> vault init - < ~/vault-pass'];
  static override args = { source: Args.string({ description: '- to read the existing password from stdin (a password is never taken from the command line)' }) };

  async run(): Promise<InitVaultResult> {
    const { args } = await this.parseWith(VaultInit);
    const r = await initVault(this.context(), { source: args.source });
    if (!this.jsonEnabled())
      this.out(
        [
          `stored ${r.generated ? 'a new random' : 'the given'} vault password in ${r.password_file}, encrypted to ${r.encrypted_to.join(', ')}`,
          `recorded in ${r.state_file}`,
          r.client_written ? `wrote ${r.client_file}: INFRA_ADMIN_KEY=YOUR-KEY.asc ansible-playbook --vault-password-file ${shellQuote(r.client_file)} ...` : `kept ${r.client_file} (it differs from what infra writes)`,
        ].join('\n'),
      );
    return r;
  }
}
