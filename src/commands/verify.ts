import * as Flags from '@oclif/core/flags';
import { InfraCommand } from './_shared/base-command.js';
import { ExitCode } from '../lib/errors.js';
import { clean, green } from '../lib/style.js';
import { verifyHistory, type VerifyResult } from '../services/signed-changes.js';

export default class Verify extends InfraCommand<VerifyResult> {
  static override summary = 'Check that every commit since the last verified one was signed by someone allowed to make it.';
  static override description = `Judges each commit in REV..HEAD against the registry as it stood at its first parent: who signed it (SSH signatures by ssh-keygen -Y verify against that registry's allowed signers, OpenPGP signatures against the member's pgp.asc), what it changed, and the change rules: a member signs their own folder, an admin anything, and a protected change needs a second admin's \`infra approve\`. Without --since the range starts at the commit --pin last recorded (git config infra.verifiedThrough), else at the root commit, whose registry is the trust root.
Exits 4 with one line per violation (commit, author, what it changed, the rule, who must sign or approve). Writes nothing, except --pin after a clean run.`;
  static override examples = ['<%= config.bin %> verify', '<%= config.bin %> verify --since HEAD --json', '<%= config.bin %> verify --pin'];
  static override flags = {
    since: Flags.string({ description: 'verify the commits after this one (a commit, branch or tag; a pull request: origin/main)' }),
    pin: Flags.boolean({ description: 'after a clean run, record HEAD as verified (git config infra.verifiedThrough): the next run starts there' }),
  };

  async run(): Promise<VerifyResult> {
    const { flags } = await this.parseWith(Verify);
    const result = await verifyHistory(this.context(), { since: flags.since, pin: flags.pin });
    const from = result.since ? `after ${result.since.slice(0, 12)}${result.sinceFrom === 'pin' ? ' (pinned)' : ''}` : 'after the root commit';
    if (!this.jsonEnabled() && result.violations.length)
      this.out(result.violations.map((v) => clean(`${v.commit.slice(0, 12)} ${v.author}: ${v.code}: ${v.changed.join('; ')}: ${v.rule}; fix: ${v.fix}`)).join('\n'));
    if (!result.ok) {
      this.say(`${result.violations.length} violation${result.violations.length === 1 ? '' : 's'} in ${result.commits.length} commit${result.commits.length === 1 ? '' : 's'} ${from}; nothing was pinned`);
      return this.finishWith(ExitCode.checkFailed, result);
    }
    this.say(green(`${result.commits.length} commit${result.commits.length === 1 ? '' : 's'} ${from} verified${result.pinned ? `; pinned ${result.pinned.slice(0, 12)}` : ''}`));
    return result;
  }
}
