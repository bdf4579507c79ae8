import * as Args from '@oclif/core/args';
import { InfraCommand } from '../_shared/base-command.js';
import { table } from '../../lib/style.js';
import { listKeys, type KeyRow } from '../../services/keys.js';

export default class KeysList extends InfraCommand<{ keys: KeyRow[] }> {
  static override summary = 'List SSH keys with type, bits, SHA256 fingerprint, age and expiry.';
  static override description = 'NOTE marks what `infra audit` reports about a key as of today: below policy, expired, expiring within policy.audit.horizon_days, older than policy.ssh.max_age_days; and keys of departed members (they grant nothing). --json has the same as `problems` and `marks` (code, severity, note).';
  static override examples = ['<%= config.bin %> keys list', '<%= config.bin %> keys list alice --json'];
  static override args = { handle: Args.string({ description: 'only this member' }) };

  async run(): Promise<{ keys: KeyRow[] }> {
    const { args } = await this.parseWith(KeysList);
    const ctx = this.context();
    const result = await listKeys(ctx, args.handle);
    if (!this.jsonEnabled()) {
      const rows = result.keys.map((k) => [
        `${k.member}/${k.name}`,
        k.type,
        String(k.bits),
        k.fingerprint,
        `${k.age_days}d`,
        k.expires ?? '-',
        [k.status === 'departed' ? 'departed' : '', ...k.problems, ...k.marks.map((m) => m.note)].filter(Boolean).join('; '),
      ]);
      this.out(table(['KEY', 'TYPE', 'BITS', 'FINGERPRINT', 'AGE', 'EXPIRES', 'NOTE'], rows, { width: ctx.stdout.columns, shrink: [3, 1, 6, 0], wrap: [6] }));
    }
    return result;
  }
}
