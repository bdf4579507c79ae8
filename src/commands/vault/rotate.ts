import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { interruptible } from '../_shared/interrupt.js';
import { rotateVault, type RotateVaultResult } from '../../services/vault.js';

export default class VaultRotate extends InfraCommand<RotateVaultResult> {
  static override summary = 'Make a new Ansible vault password and re-encrypt every vault value and vault file under the inventories with it.';
  static override description = `Inline \`!vault |\` values in any vars file and whole vault-encrypted files are re-encrypted (what ansible-vault rekey does), keeping vault ids and every other byte. Nothing changes while any item does not decrypt with the current password, or a file holding one is not UTF-8 YAML: each is named with its file and line.
Each step is recorded as it happens: the new password is first stored encrypted to the admins (vault/password.pending.asc), each file rewritten is recorded in vault/vault.yml, and only at the end does the new password replace the old one. After a failure, Ctrl+C or a crash, \`--resume --key FILE\` finishes it.`;
  static override examples = ['<%= config.bin %> vault rotate --key ~/admin-key.asc', '<%= config.bin %> vault rotate --resume --key ~/admin-key.asc'];
  static override flags = {
    key: Flags.string({ description: "your private OpenPGP key: decrypts the current (and pending) password; names you as rotated_by" }),
    resume: Flags.boolean({ description: 'finish a rotation that stopped part-way' }),
  };

  async run(): Promise<RotateVaultResult> {
    const { flags } = await this.parseWith(VaultRotate);
    const stopping = () => process.stderr.write('stopping after the current file (Ctrl+C again to stop at once; then infra vault rotate --resume)\n');
    return interruptible(stopping, async (cancelled) => {
      const r = await rotateVault(this.context(), { key: flags.key, resume: flags.resume, cancelled });
      if (!this.jsonEnabled())
        this.out(
          r.nothing_to_resume
            ? 'nothing to resume'
            : `rotated the vault password on ${r.rotated_at} by ${r.rotated_by}: ${r.items} vault item(s) under the new password; ${r.rewritten.length} file(s) re-encrypted by this run${r.already_done.length ? `, ${r.already_done.length} already done` : ''}`,
        );
      return r;
    });
  }
}
