import * as Args from '@oclif/core/args';
import { InfraCommand } from '../_shared/base-command.js';
import { removeKey, type RemoveKeyResult } from '../../services/keys.js';

export default class KeysRemove extends InfraCommand<RemoveKeyResult> {
  static override summary = 'Remove one SSH key from a member, by name or SHA256 fingerprint.';
  static override description = 'At the next `infra render` the key moves to infra_revoked_keys on every host that had it, so the playbook removes it.';
  static override examples = ['<%= config.bin %> keys remove erin old-thinkpad', '<%= config.bin %> keys remove alice SHA256:UAHuVB4caPKCoFPLK3Kl75lKFQ87L4S4+ZWIo8T4v3Q'];
  static override args = {
    handle: Args.string({ required: true, description: 'the member' }),
    key: Args.string({ required: true, description: 'the key name, or its SHA256 fingerprint' }),
  };

  async run(): Promise<RemoveKeyResult> {
    const { args } = await this.parseWith(KeysRemove);
    const result = await removeKey(this.context(), args.handle, args.key);
    this.say(`removed ${result.member}/${result.name} (${result.fingerprint}). Next: infra render, then apply the playbook so hosts drop it.`);
    return result;
  }
}
