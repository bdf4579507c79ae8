import { InfraCommand } from '../_shared/base-command.js';
import { initCa, type CaResult } from '../../services/ca.js';

export default class CaInit extends InfraCommand<CaResult> {
  static override summary = "Make the registry's SSH user CA: ca/user_ca.pub, and its private key encrypted to every admin in ca/user_ca.asc.";
  static override description =
    'An Ed25519 key made here; the private key is written only inside an OpenPGP message to every admin (gpg --decrypt with any admin key reads it) and never printed. Refused when the registry has a CA already (use `infra ca rotate`). A protected change: commit it and have a second admin approve it. Then `infra render` and apply, so hosts trust the CA.';
  static override examples = ['<%= config.bin %> ca init', '<%= config.bin %> ca init --json'];

  async run(): Promise<CaResult> {
    await this.parseWith(CaInit);
    const result = await initCa(this.context());
    if (!this.jsonEnabled()) {
      this.out(`${result.public_key} infra-user-ca`);
      this.say(`user CA ${result.fingerprint} made; private key encrypted to ${result.encrypted_to.join(', ')}`);
      this.say('next: commit ca/ (a protected change), then `infra render` and apply, so hosts trust it; sign with `infra certs sign HANDLE --hours N --ca-key YOUR-KEY.asc`');
    }
    return result;
  }
}
