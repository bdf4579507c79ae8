import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { addEnvironment, type AddEnvironmentResult } from '../../services/environments.js';

export default class EnvAdd extends InfraCommand<AddEnvironmentResult> {
  static override summary = 'Add an environment (an Ansible inventory folder); makes an empty inventory there if none exists.';
  static override description =
    'Adds NAME: PATH under `environments` in infra.yml. When PATH holds no inventory (hosts.yml, hosts.yaml or hosts), writes PATH/hosts.yml, with the hosts given by --host. An existing inventory is never rewritten: it is hand-written, and infra only reads it.';
  static override examples = ['<%= config.bin %> env add lab inventories/lab --host lab1=192.0.2.10 --host lab2', '<%= config.bin %> env add backup inventories/backup --json'];
  static override args = {
    name: Args.string({ required: true, description: 'environment name' }),
    path: Args.string({ required: true, description: 'inventory folder, relative to the registry' }),
  };
  static override flags = { host: Flags.string({ description: 'HOST or HOST=ADDRESS for a new inventory (repeatable)', multiple: true }) };

  async run(): Promise<AddEnvironmentResult> {
    const { args, flags } = await this.parseWith(EnvAdd);
    const result = await addEnvironment(this.context(), { name: args.name, path: args.path, hosts: flags.host });
    this.say(`Environment ${result.environment}: ${result.path}${result.inventory_created ? ` (new inventory${result.hosts.length ? ` with ${result.hosts.join(', ')}` : ', no hosts yet'})` : ''}.`);
    this.say(['Next:', ...result.next.map((n) => `  ${n}`)].join('\n'));
    return result;
  }
}
