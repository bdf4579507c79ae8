import { Args } from '@oclif/core';
import { removeFromSeq } from '../../adapters/store.js';
import { findKey } from '../../core/key-entries.js';
import { parsePublicKey } from '../../core/ssh-key.js';
import { assertHandle, printable } from '../../core/validate.js';
import { InfraCommand } from '../../lib/base-command.js';
import { ExitCode, InfraError } from '../../lib/errors.js';

export interface KeysRemoveResult {
  member: string;
  name: string;
  fingerprint: string;
  written: string[];
}

export default class KeysRemove extends InfraCommand<KeysRemoveResult> {
  static override summary = 'Remove one SSH key from a member, by name or SHA256 fingerprint.';
  static override description = 'At the next `infra render` the key moves to infra_revoked_keys on every host that had it, so the playbook removes it.';
  static override examples = ['<%= config.bin %> keys remove alice old-rsa', '<%= config.bin %> keys remove alice SHA256:3x5dZ8o1xvS6gPCl0DJjMy3eJ6o1Lq0zN0W5fvb6Qhk'];
  static override args = {
    handle: Args.string({ required: true, description: 'the member' }),
    key: Args.string({ required: true, description: 'the key name, or its SHA256 fingerprint' }),
  };

  async run(): Promise<KeysRemoveResult> {
    const { args } = await this.parseWith(KeysRemove);
    assertHandle(args.handle);
    const { result, written } = await this.mutate((tx) => {
      const member = tx.registry.members.find((m) => m.handle === args.handle);
      if (!member) throw new InfraError(ExitCode.invalid, `no member "${args.handle}"`, { hint: 'see `infra members list`' });
      const index = findKey(member, args.key);
      if (index < 0)
        throw new InfraError(ExitCode.invalid, `${args.handle} has no key named or fingerprinted "${printable(args.key)}"`, {
          hint: `their keys: ${member.ssh_keys.map((k) => k.name).join(', ') || 'none'} (see \`infra keys list ${args.handle}\`)`,
        });
      const entry = member.ssh_keys[index];
      removeFromSeq(tx.memberDoc(args.handle), ['ssh_keys'], index);
      return { member: args.handle, name: entry.name, fingerprint: parsePublicKey(entry.key).fingerprint };
    });
    this.say(`removed ${result.member}/${result.name} (${result.fingerprint}). Next: infra render, then apply the playbook so hosts drop it.`);
    return { ...result, written };
  }
}
