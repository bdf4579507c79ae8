import * as Flags from '@oclif/core/flags';
import { InfraCommand } from './_shared/base-command.js';
import { ExitCode } from '../lib/errors.js';
import { render, type RenderResult } from '../services/render.js';

export default class Render extends InfraCommand<RenderResult> {
  static override summary = 'Write the generated inventory files: authorized_keys lines and WireGuard peers per host.';
  static override description = `Resolves infra.yml's grants over each environment's Ansible inventory and writes inventories/<env>/host_vars/<host>/infra.generated.yml for every host a grant (or a VPN network's \`servers\`) reaches: infra_authorized_keys (remote user -> complete list of lines), infra_revoked_keys (departed members' and removed keys, for state: absent) and infra_wireguard_peers.
Everything is planned before anything is written; only files whose content changes are rewritten (atomically). A host no grant reaches any more keeps a file listing its old keys under infra_revoked_keys (so the playbook removes them); a host gone from the inventory loses its file. Hand-written files in host_vars/<host>/ are never touched, and one defining an infra_* variable stops the render.
--check writes nothing and exits 4 when anything would change (a CI gate). Apply the result with the shipped playbook: ansible-playbook -i inventories/<env> ansible/apply-access.yml`;
  static override examples = ['<%= config.bin %> render', '<%= config.bin %> render --env production --dry-run', '<%= config.bin %> render --check', '<%= config.bin %> render --json'];
  static override flags = {
    env: Flags.string({ description: 'render only this environment (a name under environments: in infra.yml)' }),
    check: Flags.boolean({ description: 'write nothing; exit 4 if any file would change' }),
    'dry-run': Flags.boolean({ description: 'write nothing; print what would be written and removed' }),
    'allow-unverified': Flags.boolean({ description: 'render even when policy.changes.require_signed finds commits `infra verify` does not accept' }),
  };

  async run(): Promise<RenderResult> {
    const { flags } = await this.parseWith(Render);
    const writing = !flags.check && !flags['dry-run'];
    const result = await render(this.context(), { env: flags.env, dryRun: !writing, allowUnverified: flags['allow-unverified'] });
    const drift = result.written.length + result.removed.length > 0;
    const lines = [...result.written.map((f) => `${writing ? 'wrote' : 'write'}  ${f}`), ...result.removed.map((f) => `${writing ? 'removed' : 'remove'} ${f}`)];
    if (!this.jsonEnabled() && lines.length) this.out(lines.join('\n'));
    const counts = (w: string, r: string) => `${result.written.length} ${w}, ${result.removed.length} ${r}, ${result.unchanged} unchanged`;
    if (flags.check && drift) {
      this.say(`the generated files are out of date (${counts('to write', 'to remove')}): run \`infra render\` and commit the result`);
      return this.finishWith(ExitCode.checkFailed, result);
    }
    if (flags.check) this.say(`the generated files are up to date (${result.unchanged} files)`);
    else if (!writing) this.say(`dry run: ${counts('to write', 'to remove')}; nothing was written`);
    else this.say(drift ? `${counts('written', 'removed')}. Apply: ansible-playbook -i inventories/<env> ansible/apply-access.yml` : `nothing to do: ${result.unchanged} files up to date`);
    return result;
  }
}
