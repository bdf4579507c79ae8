import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { addMember, type AddMemberResult } from '../../services/members.js';
import { shellQuote } from '../../lib/shell-quote.js';

export default class MembersAdd extends InfraCommand<AddMemberResult> {
  static override summary = 'Add a principal: a person or a bot.';
  static override description = 'Creates keys/HANDLE/member.yml. Add SSH keys afterwards with `infra keys add`, devices with `infra vpn join`. On a terminal, missing values are asked for; otherwise every missing flag is named at once.';
  static override examples = [
    '<%= config.bin %> members add gina --name "Gina Rossi" --org agaric --email gina@agaric.example --groups infra,meet-tech --github gina-r',
    '<%= config.bin %> members add helperbot --bot --name "Helper bot" --org example-coop --groups bots',
  ];
  static override args = { handle: Args.string({ description: 'short lowercase id: a-z first, then a-z 0-9 -', required: true }) };
  static override flags = {
    name: Flags.string({ description: 'full name' }),
    org: Flags.string({ description: 'organisation id, e.g. hypha' }),
    email: Flags.string({ description: 'email address (required for people)' }),
    groups: Flags.string({ description: 'comma-separated groups, e.g. infra,meet-tech' }),
    github: Flags.string({ description: 'GitHub login, for `infra keys add --github`' }),
    bot: Flags.boolean({ description: 'a bot (holds tokens) rather than a person' }),
    pgp: Flags.string({ description: 'file with their OpenPGP public key (armored or binary), needed by admins' }),
  };

  async run(): Promise<AddMemberResult> {
    const { args, flags } = await this.parseWith(MembersAdd);
    const result = await addMember(this.context(), { ...args, ...flags });
    this.say(`Added ${result.kind} ${result.handle}. Next: infra keys add ${shellQuote(result.handle)} KEY.pub${result.kind === 'human' ? ` (or --github USER), infra vpn join ${shellQuote(result.handle)} --device laptop` : ''}`);
    return result;
  }
}
