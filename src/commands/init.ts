import * as Flags from '@oclif/core/flags';
import { InfraCommand } from './_shared/base-command.js';
import { initRegistry, type InitResult } from '../services/registry.js';
import { shellQuote } from '../lib/shell-quote.js';

export default class Init extends InfraCommand<InitResult> {
  static override summary = 'Scaffold a registry in an empty folder.';
  static override description =
    'Creates infra.yml, keys/, an empty production inventory, the JSON Schemas editors use to validate the files, and the Ansible playbooks that apply what `infra render` writes (ansible/). Existing files are never overwritten. On a terminal it then offers the first admin, environment and grant by prompts (blank answers skip), doing what `infra members add`, `admins add`, `env add` and `grants add` do; --no-input, --json or a stdin that is not a terminal keep the scaffold alone.';
  static override examples = [
    { description: 'On a terminal, then prompts for the first admin, environment and grant (blank answers skip them)', command: '<%= config.bin %> init --dir ./access --org "Example Meet Co-op"' },
    '<%= config.bin %> init --dir ./access2 --org "Example Meet Co-op" --no-input --json',
  ];
  static override flags = { org: Flags.string({ description: 'the organisation name written into infra.yml' }) };

  async run(): Promise<InitResult> {
    const { flags } = await this.parseWith(Init);
    const result = await initRegistry(this.context(), { dir: flags.dir, org: flags.org });
    if (result.setup) this.say(['Next:', ...result.setup.next.map((n) => `  ${n}`)].join('\n'));
    else this.say(`Created a registry in ${result.root}: ${result.created.join(', ')}.\nNext: infra members add HANDLE --name NAME --org ORG --email EMAIL`);
    if (result.allowed_signers_file) this.say(`git config gpg.ssh.allowedSignersFile ${shellQuote(result.allowed_signers_file)}: \`git log --show-signature\` names who signed each commit`);
    return result;
  }
}
