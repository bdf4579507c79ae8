import * as Args from '@oclif/core/args';
import { InfraCommand } from '../_shared/base-command.js';
import { removeGrant, type GrantView } from '../../services/grants.js';

export default class GrantsRemove extends InfraCommand<{ removed: GrantView; next: string[]; written: string[] }> {
  static override summary = 'Remove grant N (as `infra grants list` numbers them).';
  static override description = 'Removes the grant’s lines from `access` in infra.yml, with the comment lines right above it. Its keys leave the hosts at the next render and apply.';
  static override examples = ['<%= config.bin %> grants remove 2'];
  static override args = { number: Args.integer({ required: true, description: 'the grant number, from `infra grants list`' }) };

  async run(): Promise<{ removed: GrantView; next: string[]; written: string[] }> {
    const { args } = await this.parseWith(GrantsRemove);
    const result = await removeGrant(this.context(), args.number);
    const g = result.removed;
    this.say(`Removed grant ${g.number}: ${g.groups.join(',')} → ${g.user}@${g.hosts}.`);
    this.say(['Next:', ...result.next.map((n) => `  ${n}`)].join('\n'));
    return result;
  }
}
