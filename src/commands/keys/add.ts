import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { addKeys, type AddKeysResult } from '../../services/keys.js';

export default class KeysAdd extends InfraCommand<AddKeysResult> {
  static override summary = 'Add SSH public keys to a member: from a file, stdin, or their GitHub/GitLab account.';
  static override description =
    'Each key is checked against the policy (type, RSA size) and refused if another principal has it. Keys already present are skipped. From GitHub or GitLab, the keys that pass are offered (all of them with --all) and the others are listed with why. A private key given by mistake is refused and never printed.';
  static override examples = [
    '<%= config.bin %> keys add alice ~/.ssh/id_ed25519.pub --name desktop',
    'cat ~/.ssh/id_ed25519.pub | <%= config.bin %> keys add bob - --name spare --expires 2027-03-01',
    '<%= config.bin %> keys add alice --github alice-gh --all',
    '<%= config.bin %> keys add alice --gitlab alice --gitlab-url https://git.coop --all',
  ];
  static override args = {
    handle: Args.string({ required: true, description: 'the member' }),
    file: Args.string({ description: 'a .pub or authorized_keys-style file, or - for stdin' }),
  };
  static override flags = {
    name: Flags.string({ description: 'name of the key, e.g. laptop (default: from its comment)' }),
    expires: Flags.string({ description: 'expiry date YYYY-MM-DD, rendered as expiry-time' }),
    github: Flags.string({ description: "import the user's authentication keys from GitHub", exclusive: ['gitlab'] }),
    gitlab: Flags.string({ description: "import the user's authentication keys from a GitLab instance", exclusive: ['github'] }),
    'gitlab-url': Flags.string({ description: 'the GitLab instance (default: $INFRA_GITLAB_URL or https://gitlab.com)', dependsOn: ['gitlab'] }),
    all: Flags.boolean({ description: 'with --github/--gitlab: take every acceptable key, without asking' }),
  };

  async run(): Promise<AddKeysResult> {
    const { args, flags } = await this.parseWith(KeysAdd);
    const result = await addKeys(this.context(), { ...args, ...flags, gitlabUrl: flags['gitlab-url'] });
    for (const a of result.added) this.say(`added ${result.member}/${a.name}: ${a.bits} ${a.fingerprint} (${a.type})`);
    for (const s of result.skipped) this.say(`skipped ${s.fingerprint}: ${s.reason}`);
    if (result.added.length) this.say('Next: infra render, then apply the playbook.');
    return result;
  }
}
