import { promises as fs } from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { Document } from 'yaml';
import { memberRel, YAML_OUT } from '../../adapters/store.js';
import { readPublicKey } from '../../adapters/pgp.js';
import { GROUP_RE, assertHandle, textProblem } from '../../core/validate.js';
import { InfraCommand } from '../../lib/base-command.js';
import { ExitCode, InfraError } from '../../lib/errors.js';

export interface MembersAddResult {
  handle: string;
  kind: 'human' | 'bot';
  written: string[];
  pgp_fingerprint?: string;
}

const ORG_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

export function memberYaml(fields: Record<string, unknown>): string {
  const doc = new Document(fields);
  doc.commentBefore = ' yaml-language-server: $schema=../../schema/member.schema.json';
  return doc.toString(YAML_OUT);
}

export default class MembersAdd extends InfraCommand<MembersAddResult> {
  static override summary = 'Add a principal: a person or a bot.';
  static override description = 'Creates keys/HANDLE/member.yml. Add SSH keys afterwards with `infra keys add`, devices with `infra vpn join`.';
  static override examples = [
    '<%= config.bin %> members add alice --name "Alice Moreau" --org hypha --email alice@hypha.example --groups infra,meet-tech --github alice-gh',
    '<%= config.bin %> members add roobot --bot --name "Roobot" --org example-coop --groups bots',
    '<%= config.bin %> members add bob --name "Bob Ng" --org webarchitects --email bob@webarch.example --pgp bob.asc',
  ];
  static override args = { handle: Args.string({ description: 'short lowercase id: a-z first, then a-z 0-9 -', required: true }) };
  static override flags = {
    name: Flags.string({ description: 'full name' }),
    org: Flags.string({ description: 'organisation id, e.g. hypha' }),
    email: Flags.string({ description: 'email address (required for people)' }),
    groups: Flags.string({ description: 'comma-separated groups, e.g. infra,meet-tech' }),
    github: Flags.string({ description: 'GitHub login, for `infra keys add --github`' }),
    bot: Flags.boolean({ description: 'a bot (holds tokens) rather than a person' }),
    pgp: Flags.string({ description: 'file with their OpenPGP public key (armored or binary), needed by admins' }),
  };

  async run(): Promise<MembersAddResult> {
    const { args, flags } = await this.parseWith(MembersAdd);
    assertHandle(args.handle);
    await this.root(); // no registry: fail before any prompt
    // Validate what can be validated before prompting, so a typo fails fast.
    const groups = (flags.groups ?? '').split(',').map((g) => g.trim()).filter(Boolean);
    for (const g of groups) if (!GROUP_RE.test(g)) throw new InfraError(ExitCode.invalid, `--groups: "${g.slice(0, 40)}" is not a group name (lowercase letters, digits, _ and -)`);
    const pgp = flags.pgp ? await readPublicKey(await fs.readFile(flags.pgp).catch(() => {
      throw new InfraError(ExitCode.invalid, `--pgp ${flags.pgp}: no such file`);
    }), flags.pgp) : undefined;
    if (pgp && !pgp.canEncrypt) throw new InfraError(ExitCode.invalid, `--pgp ${flags.pgp}: the key has no encryption subkey, so tokens cannot be encrypted to it`, { hint: 'add one: gpg --quick-add-key FINGERPRINT cv25519 encr' });

    const kind = flags.bot ? 'bot' : 'human';
    const name = await this.need(flags.name, 'name', 'Full name', (v) => textProblem(v, 'a name') ?? true);
    const org = await this.need(flags.org, 'org', 'Organisation id (e.g. hypha)', (v) => ORG_RE.test(v) || 'lowercase letters, digits, . _ -');
    const email =
      kind === 'human' || flags.email !== undefined ? await this.need(flags.email, 'email', 'Email', (v) => EMAIL_RE.test(v) || 'an email address') : undefined;

    const fields: Record<string, unknown> = {
      name,
      kind,
      org,
      ...(email ? { email } : {}),
      ...(flags.github ? { github: flags.github } : {}),
      status: 'active',
      groups,
      ssh_keys: [],
      vpn_peers: [],
      ...(kind === 'bot' ? { tokens: [] } : {}),
    };
    const { written } = await this.mutate((tx) => {
      if (tx.registry.members.some((m) => m.handle === args.handle) || tx.loaded.files.has(memberRel(args.handle)))
        throw new InfraError(ExitCode.invalid, `member "${args.handle}" already exists: ${memberRel(args.handle)}`, { hint: `see it with \`infra members show ${args.handle}\`` });
      tx.writeFile(memberRel(args.handle), memberYaml(fields));
      if (pgp) tx.writeFile(`keys/${args.handle}/pgp.asc`, pgp.armored);
    });
    this.say(`Added ${kind} ${args.handle}. Next: infra keys add ${args.handle} KEY.pub${kind === 'human' ? ` (or --github USER), infra vpn join ${args.handle} --device laptop` : ''}`);
    return { handle: args.handle, kind, written, ...(pgp ? { pgp_fingerprint: pgp.fingerprint } : {}) };
  }
}
