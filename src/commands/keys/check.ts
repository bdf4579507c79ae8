import * as Args from '@oclif/core/args';
import { wrapText } from '../../core/audit-format.js';
import { sshKeygenLine } from '../../core/ssh-key.js';
import { InfraCommand } from '../_shared/base-command.js';
import { ExitCode } from '../../lib/errors.js';
import { clean } from '../../lib/style.js';
import { checkKeys, type CheckKeysResult } from '../../services/keys.js';

export default class KeysCheck extends InfraCommand<CheckKeysResult> {
  static override summary = 'Check authorized_keys-format lines: what `ssh-keygen -l` prints, plus policy verdicts.';
  static override description =
    'Reads files (or stdin): options, comments with spaces, CRLF, security keys (sk-*), cert-authority lines. Prints bits, SHA256 fingerprint, comment and type per key, and whether it passes the policy (from the registry when there is one, else the defaults). Exit 4 when any line fails.';
  static override examples = ['<%= config.bin %> keys check ~/.ssh/id_ed25519.pub', 'cat ~/.ssh/id_ed25519.pub | <%= config.bin %> keys check -', '<%= config.bin %> keys check --json ~/.ssh/id_ed25519.pub'];
  static override strict = false;
  static override args = { file: Args.string({ description: 'files to read; - or nothing reads stdin' }) };

  async run(): Promise<CheckKeysResult> {
    const { argv } = await this.parseWith(KeysCheck);
    const ctx = this.context();
    const columns = ctx.stdout.columns;
    const { reports, failed, ...result } = await checkKeys(ctx, argv as string[]);
    if (!this.jsonEnabled())
      for (const r of reports) {
        const prefix = reports.length > 1 ? `${r.file}:` : 'line ';
        const rows = [
          ...r.keys.map((k) => ({ line: k.line, text: fitLine(clean(`${prefix}${k.line}: ${sshKeygenLine(k)}${k.options.length ? ` [${k.options.join(',')}]` : ''}`), clean(k.ok ? 'ok' : `FAIL: ${k.problems.join('; ')}`), columns) })),
          ...r.errors.map((e) => ({ line: e.line, text: clean(`${prefix}${e.line}: not a key: ${e.problem}`) })),
        ].sort((a, b) => a.line - b.line);
        this.out(rows.map((row) => row.text).join('\n') || clean(`${r.file}: no keys`));
      }
    if (failed) {
      this.say(`${failed} line${failed === 1 ? '' : 's'} failed`);
      return this.finishWith(ExitCode.checkFailed, result);
    }
    return result;
  }
}

/**
 * The `ssh-keygen -l` line, then two spaces and the verdict; when that would not fit `columns`, the
 * verdict goes on continuation lines beneath it (indented 4), wrapped at words, and so does an over-long
 * key line. A pipe without $COLUMNS (infinite columns) keeps one line per key, as ssh-keygen does.
 */
function fitLine(head: string, verdict: string, columns: number): string {
  if (head.length + 2 + verdict.length <= columns) return `${head}  ${verdict}`;
  const [first, ...rest] = head.length <= columns ? [head] : wrapText(head, columns);
  const more = rest.length ? wrapText(rest.join(' '), columns - 4) : [];
  // the verdict joins the last continuation line when it fits there, else lines of its own
  if (more.length && more[more.length - 1].length + 2 + verdict.length <= columns - 4) more[more.length - 1] += `  ${verdict}`;
  else more.push(...wrapText(verdict, columns - 4));
  return [first, ...more.map((l) => `    ${l}`)].join('\n');
}
