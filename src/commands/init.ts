import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Flags } from '@oclif/core';
import { writeFileAtomic, CONFIG_FILE } from '../adapters/store.js';
import { InfraCommand } from '../lib/base-command.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { textProblem } from '../core/validate.js';

export interface InitResult {
  root: string;
  created: string[];
}

const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));

export function scaffoldConfig(org: string): string {
  return `# yaml-language-server: $schema=schema/infra.schema.json
# The registry's org-wide settings. Reviewed like code: change it in a pull request.
org: ${JSON.stringify(org)}
admins: []                      # handles that may decrypt bot tokens; each needs keys/<handle>/pgp.asc
environments:                   # name -> Ansible inventory folder
  production: inventories/production
policy:
  ssh:
    allowed_types: [ed25519, ed25519-sk, ecdsa, ecdsa-sk, rsa]   # dsa is never allowed
    min_rsa_bits: 3072
    max_age_days: 730           # older keys are reported by the audit, not refused
  tokens:
    rotate_every_days: 90
  audit:
    min_members_per_host: 2
    horizon_days: 30
access: []                      # grants: {groups: [..], hosts: <Ansible pattern>, user: <remote user>}
vpn: {}
`;
}

export default class Init extends InfraCommand<InitResult> {
  static override summary = 'Scaffold a registry in an empty folder.';
  static override description = 'Creates infra.yml, keys/, an empty production inventory and the JSON Schemas editors use to validate the files. Existing files are never overwritten.';
  static override examples = ['<%= config.bin %> init --org "Example Meet Co-op"', '<%= config.bin %> init --dir ./access --org "Example Meet Co-op" --no-input'];
  static override flags = {
    org: Flags.string({ description: 'the organisation name written into infra.yml' }),
  };

  async run(): Promise<InitResult> {
    const { flags } = await this.parseWith(Init);
    const root = path.resolve(flags.dir ?? process.env.INFRA_DIR ?? '.');
    if (await fs.stat(path.join(root, CONFIG_FILE)).catch(() => undefined))
      throw new InfraError(ExitCode.invalid, `${path.join(root, CONFIG_FILE)} already exists: this folder is a registry already`, { hint: 'run `infra check` to validate it' });
    const org = await this.need(flags.org, 'org', 'Organisation name', (v) => textProblem(v, 'a name') ?? true);
    const files: Record<string, string> = {
      [CONFIG_FILE]: scaffoldConfig(org),
      'keys/.gitkeep': '',
      'inventories/production/hosts.yml': '# Hand-written Ansible inventory: infra reads it, never rewrites it.\nall:\n  hosts: {}\n',
      'schema/infra.schema.json': await fs.readFile(path.join(SCHEMA_DIR, 'infra.schema.json'), 'utf8'),
      'schema/member.schema.json': await fs.readFile(path.join(SCHEMA_DIR, 'member.schema.json'), 'utf8'),
    };
    const created: string[] = [];
    for (const [rel, content] of Object.entries(files)) {
      const target = path.join(root, rel);
      if (await fs.stat(target).catch(() => undefined)) continue;
      await writeFileAtomic(target, content);
      created.push(rel);
    }
    this.say(`Created a registry for ${org} in ${root}.\nNext: infra members add HANDLE --name NAME --org ORG --email EMAIL`);
    return { root, created };
  }
}
