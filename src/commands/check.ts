import { inspectRegistry } from '../adapters/store.js';
import { policyCheck } from '../core/validate.js';
import { InfraCommand } from '../lib/base-command.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readPublicKey } from '../adapters/pgp.js';
import type { Member } from '../core/types.js';
import { ExitCode, formatProblem, InfraError, type Problem } from '../lib/errors.js';
import { clean, green } from '../lib/style.js';
import { inventoryProblems } from '../adapters/inventories.js';

export interface CheckResult {
  ok: boolean;
  members: number;
  problems: Problem[];
}

/** Each keys/<handle>/pgp.asc must be a public key that can encrypt: tokens are encrypted to admins' keys. */
async function pgpProblems(root: string, members: readonly Member[]): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const m of members.filter((x) => x.has_pgp)) {
    const rel = `keys/${m.handle}/pgp.asc`;
    try {
      const key = await readPublicKey(await fs.readFile(path.join(root, rel)), rel);
      if (!key.canEncrypt) problems.push({ file: rel, field: '(key)', message: `${key.fingerprint} has no encryption subkey, so tokens cannot be encrypted to it` });
    } catch (e) {
      problems.push({ file: rel, field: '(key)', message: e instanceof InfraError ? e.message.replace(`${rel}: `, '') : String(e) });
    }
  }
  return problems;
}

export default class Check extends InfraCommand<CheckResult> {
  static override summary = 'Validate the whole registry against the schema and the policy.';
  static override description =
    'Reports every problem at once as file:line: field: problem, and exits 3 when there is any: YAML syntax, unknown or missing fields, handles, dates, keys that fail policy (type, RSA size), one key under two members, VPN addresses, admins without a member file, grants whose host patterns name nothing in the inventories. Use it as a CI gate.';
  static override examples = ['<%= config.bin %> check', '<%= config.bin %> check --json'];

  async run(): Promise<CheckResult> {
    await this.parseWith(Check);
    const root = await this.root();
    const { partial, problems } = await inspectRegistry(root);
    const all = [...problems];
    if (partial) {
      all.push(...policyCheck(partial.registry.config, partial.registry.members, partial.located));
      all.push(...(await inventoryProblems(partial)));
      all.push(...(await pgpProblems(root, partial.registry.members)));
    }
    const result: CheckResult = { ok: all.length === 0, members: partial?.registry.members.length ?? 0, problems: all };
    if (!this.jsonEnabled()) {
      if (all.length) this.out(all.map((p) => clean(formatProblem(p))).join('\n'));
      else this.say(green(`registry is valid: ${result.members} members`));
    }
    if (all.length) {
      this.say(all.length === 1 ? '1 problem; fix it and run `infra check` again' : `${all.length} problems; fix them and run \`infra check\` again`);
      return this.finishWith(ExitCode.invalid, result);
    }
    return result;
  }
}
