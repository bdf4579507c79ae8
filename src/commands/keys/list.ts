import { Args } from '@oclif/core';
import { daysBetween, localDate } from '../../core/dates.js';
import { parsePublicKey, policyProblems } from '../../core/ssh-key.js';
import { InfraCommand } from '../../lib/base-command.js';
import { ExitCode, InfraError } from '../../lib/errors.js';
import { table } from '../../lib/style.js';

export interface KeyRow {
  member: string;
  name: string;
  type: string;
  bits: number;
  fingerprint: string;
  comment: string;
  added: string;
  age_days: number;
  expires?: string;
  source?: string;
  status: 'active' | 'departed';
  problems: string[];
}

export interface KeysListResult {
  keys: KeyRow[];
}

export default class KeysList extends InfraCommand<KeysListResult> {
  static override summary = 'List SSH keys with type, bits, SHA256 fingerprint, age and expiry.';
  static override examples = ['<%= config.bin %> keys list', '<%= config.bin %> keys list alice --json'];
  static override args = { handle: Args.string({ description: 'only this member' }) };

  async run(): Promise<KeysListResult> {
    const { args } = await this.parseWith(KeysList);
    const { registry } = await this.load();
    const members = args.handle ? registry.members.filter((m) => m.handle === args.handle) : registry.members;
    if (args.handle && !members.length) throw new InfraError(ExitCode.invalid, `no member "${args.handle.slice(0, 40)}"`, { hint: 'see `infra members list`' });
    const today = localDate(new Date());
    const keys: KeyRow[] = members.flatMap((m) =>
      m.ssh_keys.map((k) => {
        const p = parsePublicKey(k.key);
        return {
          member: m.handle,
          name: k.name,
          type: p.type,
          bits: p.bits,
          fingerprint: p.fingerprint,
          comment: p.comment,
          added: k.added,
          age_days: daysBetween(k.added, today),
          ...(k.expires ? { expires: k.expires } : {}),
          ...(k.source ? { source: k.source } : {}),
          status: m.status,
          problems: policyProblems(p, registry.config.policy.ssh),
        };
      }),
    );
    if (!this.jsonEnabled())
      this.out(
        table(
          ['KEY', 'TYPE', 'BITS', 'FINGERPRINT', 'AGE', 'EXPIRES', 'NOTE'],
          keys.map((k) => [
            `${k.member}/${k.name}`,
            k.type,
            String(k.bits),
            k.fingerprint,
            `${k.age_days}d`,
            k.expires ?? '-',
            [k.status === 'departed' ? 'departed' : '', ...k.problems].filter(Boolean).join('; '),
          ]),
        ),
      );
    return { keys };
  }
}
