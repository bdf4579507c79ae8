import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { editMember, type EditMemberResult } from '../../services/members.js';

export default class MembersEdit extends InfraCommand<EditMemberResult> {
  static override summary = "Change a principal's fields: name, email, org, groups, GitHub login, OpenPGP key.";
  static override description = 'Each change edits only its own line of keys/HANDLE/member.yml. --pgp adds or replaces keys/HANDLE/pgp.asc after checking it is a public key that can encrypt.';
  static override examples = [
    '<%= config.bin %> members edit carol --email carol@new.example',
    '<%= config.bin %> members edit dana --add-group infra --remove-group monitoring',
    '<%= config.bin %> members edit alice --pgp keys/alice/pgp.asc --json',
  ];
  static override args = { handle: Args.string({ required: true, description: 'the member' }) };
  static override flags = {
    name: Flags.string({ description: 'full name' }),
    email: Flags.string({ description: 'email address' }),
    org: Flags.string({ description: 'organisation id' }),
    groups: Flags.string({ description: 'the whole list of groups, comma-separated' }),
    'add-group': Flags.string({ description: 'add one group (repeatable)', multiple: true }),
    'remove-group': Flags.string({ description: 'remove one group (repeatable)', multiple: true }),
    pgp: Flags.string({ description: 'file with their OpenPGP public key (armored or binary)' }),
    github: Flags.string({ description: 'GitHub login' }),
  };

  async run(): Promise<EditMemberResult> {
    const { args, flags } = await this.parseWith(MembersEdit);
    const result = await editMember(this.context(), { ...args, ...flags, addGroup: flags['add-group'], removeGroup: flags['remove-group'] });
    this.say(result.changed.length ? `${result.handle}: changed ${result.changed.join(', ')}` : `${result.handle}: nothing changed`);
    return result;
  }
}
