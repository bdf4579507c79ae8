import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { rotateCa, type CaResult } from '../../services/ca.js';

export default class CaRotate extends InfraCommand<CaResult & { checked_old_key: boolean }> {
  static override summary = 'Replace the SSH user CA: a new key; hosts keep trusting the old one until its last certificate expires.';
  static override description =
    "The old public key moves to ca/retired-<id>.pub while a certificate it signed is unexpired and unrevoked (render lists both CAs until then, and drops the old one at the first render after), and its encrypted private key is deleted. Run it when an admin who could decrypt ca/user_ca.asc leaves. With --ca-key, the old ca/user_ca.asc is first checked to decrypt and to match ca/user_ca.pub.";
  static override examples = ['<%= config.bin %> ca rotate', '<%= config.bin %> ca rotate --ca-key ~/admin-key.asc'];
  static override flags = {
    'ca-key': Flags.string({ description: "your private OpenPGP key: check the old CA key decrypts and matches ca/user_ca.pub before replacing it" }),
  };

  async run(): Promise<CaResult & { checked_old_key: boolean }> {
    const { flags } = await this.parseWith(CaRotate);
    const result = await rotateCa(this.context(), { caKey: flags['ca-key'] });
    if (!this.jsonEnabled()) {
      this.out(`${result.public_key} infra-user-ca`);
      const old = result.retired!;
      this.say(
        old.file
          ? `new user CA ${result.fingerprint}; the old one (${old.fingerprint}) stays trusted in ${old.file} until ${old.trusted_until ?? 'its certificates expire'}`
          : `new user CA ${result.fingerprint}; the old one (${old.fingerprint}) signed nothing still in force and is dropped`,
      );
      this.say('next: commit ca/ (a protected change), `infra render` and apply');
    }
    return result;
  }
}
