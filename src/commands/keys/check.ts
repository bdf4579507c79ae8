import { Args } from '@oclif/core';
import { readInput, readStdin } from '../../adapters/input.js';
import { loadRegistry } from '../../adapters/store.js';
import { checkAuthorizedKeys, sshKeygenLine, type KeysCheckReport } from '../../core/ssh-key.js';
import { DEFAULT_POLICY, type SshPolicy } from '../../core/types.js';
import { InfraCommand } from '../../lib/base-command.js';
import { ExitCode, InfraError } from '../../lib/errors.js';
import { clean } from '../../lib/style.js';

export interface KeysCheckResult extends KeysCheckReport {
  files?: Array<{ file: string } & KeysCheckReport>;
}

export default class KeysCheck extends InfraCommand<KeysCheckResult> {
  static override summary = 'Check authorized_keys-format lines: what `ssh-keygen -l` prints, plus policy verdicts.';
  static override description =
    'Reads files (or stdin): options, comments with spaces, CRLF, security keys (sk-*), cert-authority lines. Prints bits, SHA256 fingerprint, comment and type per key, and whether it passes the policy (from the registry when there is one, else the defaults). Exit 4 when any line fails.';
  static override examples = ['<%= config.bin %> keys check ~/.ssh/authorized_keys', 'ssh host cat .ssh/authorized_keys | <%= config.bin %> keys check -', '<%= config.bin %> keys check --json keys.txt'];
  static override strict = false;
  static override args = { file: Args.string({ description: 'files to read; - or nothing reads stdin' }) };

  async run(): Promise<KeysCheckResult> {
    const { argv } = await this.parseWith(KeysCheck);
    const files = (argv as string[]).length ? (argv as string[]) : ['-'];
    if (files.filter((f) => f === '-').length > 1) throw new InfraError(ExitCode.usage, 'stdin (-) can be read only once');
    const policy = await this.policy();
    const reports: Array<{ file: string } & KeysCheckReport> = [];
    for (const file of files) {
      const text = file === '-' ? await readStdin() : await readInput(file);
      reports.push({ file: file === '-' ? '(stdin)' : file, ...checkAuthorizedKeys(text, policy) });
    }
    const result: KeysCheckResult =
      reports.length === 1 ? { keys: reports[0].keys, errors: reports[0].errors } : { keys: reports.flatMap((r) => r.keys), errors: reports.flatMap((r) => r.errors), files: reports };
    if (!this.jsonEnabled()) {
      for (const r of reports) {
        const prefix = reports.length > 1 ? `${r.file}:` : 'line ';
        const rows = [
          ...r.keys.map((k) => ({ line: k.line, text: `${prefix}${k.line}: ${sshKeygenLine({ ...k, comment: k.comment } as never)}${k.options.length ? ` [${k.options.join(',')}]` : ''}  ${k.ok ? 'ok' : `FAIL: ${k.problems.join('; ')}`}` })),
          ...r.errors.map((e) => ({ line: e.line, text: `${prefix}${e.line}: not a key: ${e.problem}` })),
        ].sort((a, b) => a.line - b.line);
        this.out(rows.map((row) => clean(row.text)).join('\n') || `${r.file}: no keys`);
      }
    }
    const failed = result.keys.filter((k) => !k.ok).length + result.errors.length;
    if (failed) {
      this.say(`${failed} line${failed === 1 ? '' : 's'} failed`);
      return this.finishWith(ExitCode.checkFailed, result);
    }
    return result;
  }

  /** The registry's policy when run inside one; the defaults elsewhere (checking a host's file needs no registry). */
  private async policy(): Promise<SshPolicy> {
    let root: string;
    try {
      root = await this.root();
    } catch {
      return DEFAULT_POLICY.ssh;
    }
    return (await loadRegistry(root)).registry.config.policy.ssh;
  }
}
