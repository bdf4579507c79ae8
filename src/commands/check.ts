import { InfraCommand } from './_shared/base-command.js';
import { ExitCode, formatProblem } from '../lib/errors.js';
import { clean, green } from '../lib/style.js';
import { checkRegistry, type CheckResult } from '../services/registry.js';

export default class Check extends InfraCommand<CheckResult> {
  static override summary = 'Validate the whole registry against the schema and the policy.';
  static override description =
    'Reports every problem at once as file:line: field: problem, and exits 3 when there is any: YAML syntax, unknown or missing fields, handles, dates, keys that fail policy (type, RSA size), one key under two members, VPN addresses, admins without a member file, grants whose host patterns name nothing in the inventories. Use it as a CI gate.';
  static override examples = ['<%= config.bin %> check', '<%= config.bin %> check --json'];

  async run(): Promise<CheckResult> {
    await this.parseWith(Check);
    const result = await checkRegistry(this.context());
    const n = result.problems.length;
    for (const note of result.notes ?? []) this.say(`note: ${note}`);
    if (!this.jsonEnabled() && n) this.out(result.problems.map((p) => clean(formatProblem(p))).join('\n'));
    if (!n) {
      this.say(green(`registry is valid: ${result.members} member${result.members === 1 ? '' : 's'}`));
      return result;
    }
    this.say(n === 1 ? '1 problem; fix it and run `infra check` again' : `${n} problems; fix them and run \`infra check\` again`);
    return this.finishWith(ExitCode.invalid, result);
  }
}
