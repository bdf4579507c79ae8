import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { vaultPassword } from '../../services/vault.js';

export default class VaultPassword extends InfraCommand<{ password: string }> {
  static override summary = 'Decrypt the Ansible vault password (vault/password.asc) and print it for a program.';
  static override description = `This is what ansible/vault-pass-client runs for Ansible. The password alone is printed on stdout, followed by a newline, when stdout is a pipe or a file; on a terminal it is printed only with --reveal, so it does not land in the scrollback by accident.
The key's passphrase comes from INFRA_PGP_PASSPHRASE, else a hidden prompt on the terminal (/dev/tty even when stdout is a pipe, as Ansible runs the client; never with --no-input).`;
  static override examples = ['<%= config.bin %> vault password --key ~/admin-key.asc --reveal'];
  static override flags = {
    key: Flags.string({ description: 'your private OpenPGP key (gpg --export-secret-keys --armor EMAIL > FILE)' }),
    reveal: Flags.boolean({ description: 'print it on a terminal too' }),
  };

  async run(): Promise<{ password: string }> {
    const { flags } = await this.parseWith(VaultPassword);
    const r = await vaultPassword(this.context(), { key: flags.key, reveal: flags.reveal, tty: !flags['no-input'] });
    if (!this.jsonEnabled()) this.out(r.password);
    return r;
  }
}
