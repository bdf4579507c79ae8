import * as Flags from '@oclif/core/flags';
import { auditJson, auditJsonText, auditMarkdown, auditTable, type AuditJson } from '../core/audit-format.js';
import { InfraCommand } from './_shared/base-command.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { runAudit } from '../services/audit.js';
import { shellQuote } from '../lib/shell-quote.js';

export default class Audit extends InfraCommand<AuditJson> {
  static override summary = 'The pre-meeting report: who reaches which host, and what to fix now, soon, or watch.';
  static override description = `Findings (high, medium, low), each with the exact command or edit that fixes it, and the access matrix: hosts x members, remote user, VPN-only. An invalid registry still gets a report (invalid-registry findings, and the rest on what loads).
--format table (default) fits the terminal; markdown pastes into meeting notes; json (or --json) is for scripts. --since DATE|GITREF adds what changed, from the registry's git history. --wg-dump FILE (or - for stdin) checks a saved \`wg show all dump\`; --live asks each host's sshd what it trusts (sshd -T, every AuthorizedKeysFile, CAs, keys commands) and reads WireGuard peers, through Ansible, all hosts at once (--forks), each within --timeout seconds.
--fail-on SEVERITY makes it a CI gate: exit 4 when a finding is that severe or worse (the report is printed anyway).`;
  static override examples = [
    '<%= config.bin %> audit',
    '<%= config.bin %> audit --format markdown > meeting-notes.md',
    '<%= config.bin %> audit --env production --as-of 2026-12-01 --json',
    '<%= config.bin %> audit --fail-on high',
    'wg show all dump > dump.txt && <%= config.bin %> audit --wg-dump dump.txt   # the dump saved on a VPN server',
    '<%= config.bin %> audit --since 2026-11-01 --format markdown   # with what changed since the last meeting (the registry is a git repository)',
  ];
  static override flags = {
    env: Flags.string({ description: "only this environment's hosts (a name under environments: in infra.yml)" }),
    format: Flags.string({ description: 'table (default), markdown or json' }),
    'as-of': Flags.string({ description: 'judge every date against this day (YYYY-MM-DD) instead of today' }),
    since: Flags.string({ description: 'also list access changes since a date (YYYY-MM-DD) or a git ref' }),
    'fail-on': Flags.string({ description: 'exit 4 when a finding is this severe or worse: low, medium or high' }),
    live: Flags.boolean({ description: "ask each host's sshd what it trusts, and read WireGuard peers, through Ansible" }),
    limit: Flags.string({ description: 'with --live: only the hosts this Ansible pattern selects' }),
    'wg-dump': Flags.string({ description: 'a saved `wg show all dump` (FILE, or - for stdin)' }),
    forks: Flags.integer({ description: 'with --live: hosts asked at once (default the number of hosts, up to 50)' }),
    timeout: Flags.integer({ description: 'with --live: seconds each host has to answer (default 10)' }),
  };

  async run(): Promise<AuditJson> {
    const { flags } = await this.parseWith(Audit);
    if (this.jsonEnabled() && flags.format !== undefined && flags.format !== 'json')
      throw new InfraError(ExitCode.usage, `--json prints JSON; it cannot be combined with --format ${flags.format}`, { hint: `infra audit --format ${shellQuote(flags.format)}` });
    const ctx = this.context();
    const report = await runAudit(ctx, { env: flags.env, format: flags.format, asOf: flags['as-of'], since: flags.since, failOn: flags['fail-on'], live: flags.live, limit: flags.limit, wgDump: flags['wg-dump'], forks: flags.forks, timeout: flags.timeout });
    if (!this.jsonEnabled()) {
      const print = { table: () => auditTable(report, ctx.stdout.columns), markdown: () => auditMarkdown(report), json: () => auditJsonText(report) }[report.format];
      ctx.stdout.write(print());
    }
    for (const note of report.notes ?? []) this.say(`note: ${note}`);
    if (!report.failed) return auditJson(report);
    this.say(`exit 4: findings at or above --fail-on ${flags['fail-on']}`);
    return this.finishWith(ExitCode.checkFailed, auditJson(report));
  }
}
