import { InfraCommand } from '../_shared/base-command.js';
import { table } from '../../lib/style.js';
import { listTokens, type TokenRow } from '../../services/tokens.js';

export default class TokensList extends InfraCommand<{ tokens: TokenRow[] }> {
  static override summary = 'List bot tokens: owner, kind, consumers, last rotation, next due, GitHub expiry. Never a secret.';
  static override examples = ['<%= config.bin %> tokens list', '<%= config.bin %> tokens list --json'];

  async run(): Promise<{ tokens: TokenRow[] }> {
    await this.parseWith(TokensList);
    const ctx = this.context();
    const result = await listTokens(ctx);
    if (!this.jsonEnabled() && result.tokens.length) {
      const rows = result.tokens.map((t) => [
        t.token,
        t.kind,
        t.rotated_at ? `${t.rotated_at}${t.rotated_by ? ` (${t.rotated_by})` : ''}` : 'never',
        `${t.next_due ?? 'now'}${t.status === 'ok' ? '' : ` ${t.status}`}`,
        t.expires_at ?? '-',
        [t.pending ? `ROTATION UNFINISHED (${t.pending.left.length} left)` : '', t.consumers.join(', ')].filter(Boolean).join('; '),
      ]);
      this.out(table(['TOKEN', 'KIND', 'ROTATED', 'DUE', 'EXPIRES', 'CONSUMERS'], rows, { width: ctx.stdout.columns, shrink: [3, 2, 5, 0], wrap: [3, 2, 5, 0] }));
    }
    return result;
  }
}
