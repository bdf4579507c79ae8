import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { signCertificate, type SignResult } from '../../services/certs.js';

export default class CertsSign extends InfraCommand<SignResult> {
  static override summary = "Sign a short-lived SSH certificate for one of a member's registered keys (shift access).";
  static override description =
    "Principal: the handle; key id HANDLE/KEY#SERIAL; serial: the next one in the registry; window --hours N from now, or --from/--until (ISO 8601, local time unless it ends in Z or an offset), at most policy.certs.max_hours (default 24). The certificate is recorded in the member's member.yml (serial, key, window, who signed, why) and printed on stdout, or written with -o (mode 0644; a folder gets KEY-cert.pub). --ca-key decrypts ca/user_ca.asc (passphrase from INFRA_PGP_PASSPHRASE or a hidden prompt). Use it with: ssh -i KEY -o CertificateFile=KEY-cert.pub USER@HOST.";
  static override examples = [
    '<%= config.bin %> certs sign alice --key laptop --hours 8 --reason "on-call" --ca-key ~/admin-key.asc -o ~/.ssh/id_ed25519-cert.pub',
    '<%= config.bin %> certs sign alice --key laptop --from 2027-02-01T08:00 --until 2027-02-01T20:00 --ca-key ~/admin-key.asc',
  ];
  static override args = { handle: Args.string({ required: true, description: 'the member' }) };
  static override flags = {
    key: Flags.string({ description: "which of the member's ssh_keys (needed when they have more than one)" }),
    hours: Flags.string({ description: 'valid from now for this many hours' }),
    from: Flags.string({ description: 'start of the window, e.g. 2026-12-05T08:00 (with --until)' }),
    until: Flags.string({ description: 'end of the window, e.g. 2026-12-05T20:00 (with --from)' }),
    reason: Flags.string({ description: 'why, for the record (e.g. "on-call weekend")' }),
    'ca-key': Flags.string({ description: 'your private OpenPGP key as an admin (gpg --export-secret-keys --armor EMAIL > FILE)' }),
    out: Flags.string({ char: 'o', description: 'write the certificate here (a folder: KEY-cert.pub in it) instead of stdout' }),
  };

  async run(): Promise<SignResult> {
    const { args, flags } = await this.parseWith(CertsSign);
    const result = await signCertificate(this.context(), {
      handle: args.handle,
      key: flags.key,
      hours: flags.hours,
      from: flags.from,
      until: flags.until,
      reason: flags.reason,
      caKey: flags['ca-key'],
      out: flags.out,
    });
    if (!this.jsonEnabled()) {
      if (!result.file) this.out(result.certificate);
      this.say(`certificate ${result.serial} (${result.key_id}) for ${result.principals.join(', ')}: ${result.valid_after} to ${result.valid_before}, signed by ${result.signed_by}${result.file ? `; written to ${result.file}` : ''}`);
    }
    return result;
  }
}
