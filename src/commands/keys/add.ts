import { Args, Flags } from '@oclif/core';
import { readInput } from '../../adapters/input.js';
import { appendToSeq } from '../../adapters/store.js';
import { localDate } from '../../core/dates.js';
import { planKeyAdds, type Candidate, type Verdict } from '../../core/key-entries.js';
import { looksLikePrivateKey, parsePublicKey, splitKeyText, sshKeygenLine } from '../../core/ssh-key.js';
import { NAME_RE } from '../../core/types.js';
import { assertHandle, isIsoDate } from '../../core/validate.js';
import { InfraCommand } from '../../lib/base-command.js';
import { ExitCode, InfraError, invalidInput } from '../../lib/errors.js';
import { clean } from '../../lib/style.js';

export interface KeysAddResult {
  member: string;
  added: Array<{ name: string; type: string; bits: number; fingerprint: string; source?: string }>;
  skipped: Array<{ fingerprint: string; reason: string }>;
}

const PRIVATE_KEY_HINT = 'give the PUBLIC key: the .pub file next to it (e.g. ~/.ssh/id_ed25519.pub), or `ssh-keygen -y -f KEY`';

export default class KeysAdd extends InfraCommand<KeysAddResult> {
  static override summary = "Add SSH public keys to a member: from a file, stdin, or their GitHub/GitLab account.";
  static override description =
    'Each key is checked against the policy (type, RSA size) and refused if another principal has it. Keys already present are skipped. A private key given by mistake is refused and never printed.';
  static override examples = [
    '<%= config.bin %> keys add alice ~/.ssh/id_ed25519.pub --name laptop',
    'cat id_ed25519.pub | <%= config.bin %> keys add alice - --name laptop --expires 2027-03-01',
    '<%= config.bin %> keys add alice --github alice-gh --all',
    '<%= config.bin %> keys add alice --gitlab alice --gitlab-url https://git.coop --all',
  ];
  static override args = {
    handle: Args.string({ required: true, description: 'the member' }),
    file: Args.string({ description: 'a .pub or authorized_keys-style file, or - for stdin' }),
  };
  static override flags = {
    name: Flags.string({ description: 'name of the key, e.g. laptop (default: from its comment)' }),
    expires: Flags.string({ description: 'expiry date YYYY-MM-DD, rendered as expiry-time' }),
    github: Flags.string({ description: "import the user's authentication keys from GitHub", exclusive: ['file', 'gitlab'] }),
    gitlab: Flags.string({ description: "import the user's authentication keys from a GitLab instance", exclusive: ['file', 'github'] }),
    'gitlab-url': Flags.string({ description: 'the GitLab instance (default: $INFRA_GITLAB_URL or https://gitlab.com)', dependsOn: ['gitlab'] }),
    all: Flags.boolean({ description: 'with --github/--gitlab: take every key, without asking' }),
  };

  async run(): Promise<KeysAddResult> {
    const { args, flags } = await this.parseWith(KeysAdd);
    assertHandle(args.handle);
    if (flags.name !== undefined && !NAME_RE.test(flags.name))
      throw new InfraError(ExitCode.invalid, `--name: "${clean(flags.name).slice(0, 40)}" is not a key name (letters, digits, . _ -; no spaces or /)`);
    if (flags.expires !== undefined && !isIsoDate(flags.expires)) throw new InfraError(ExitCode.invalid, '--expires must be a date YYYY-MM-DD');
    const loaded = await this.load();
    const member = loaded.registry.members.find((m) => m.handle === args.handle);
    if (!member) throw new InfraError(ExitCode.invalid, `no member "${args.handle}"`, { hint: `add them first: infra members add ${args.handle} --name ... --org ... --email ...` });

    const fromForge = flags.github !== undefined || flags.gitlab !== undefined;
    const origin = flags.github !== undefined ? `github:${flags.github}` : flags.gitlab !== undefined ? `gitlab:${flags.gitlab}` : args.file === '-' ? 'stdin' : (args.file ?? 'the pasted text');
    let candidates = fromForge ? await this.forgeCandidates(flags) : await this.inputCandidates(args.file);
    if (flags.expires) candidates = candidates.map((c) => ({ ...c, expires: flags.expires }));
    const today = localDate(new Date());

    // Pick among the forge's new keys (a terminal user chooses unless --all).
    if (fromForge) {
      const preview = planKeyAdds(member, loaded.registry.members, candidates, loaded.registry.config.policy.ssh, today, flags.name);
      const fresh = preview.filter((v): v is Extract<Verdict, { kind: 'add' }> => v.kind === 'add');
      if (fresh.length > 1 && !flags.all) {
        if (!this.canPrompt())
          throw new InfraError(ExitCode.usage, `${fresh.length} new keys found; pass --all to add them all`, { hint: `infra keys add ${args.handle} --${flags.github ? `github ${flags.github}` : `gitlab ${flags.gitlab}`} --all` });
        const chosen = await this.prompter().checkbox({
          message: 'Which keys should be added?',
          choices: fresh.map((v) => ({ name: clean(`${v.entry.name}: ${sshKeygenLine(v.key)}`), value: v.key.base64, checked: true })),
        });
        candidates = candidates.filter((c) => chosen.includes(c.key.base64) || !fresh.some((f) => f.key.base64 === c.key.base64));
      }
    }

    const { result } = await this.mutate((tx) => {
      const current = tx.registry.members.find((m) => m.handle === args.handle)!;
      const verdicts = planKeyAdds(current, tx.registry.members, candidates, tx.registry.config.policy.ssh, today, flags.name);
      const refused = verdicts.filter((v) => v.kind === 'refused');
      if (refused.length)
        throw invalidInput(
          'keys refused',
          refused.map((v) => ({ file: origin, field: `${v.key.type} ${v.key.fingerprint}`, message: (v as { problems: string[] }).problems.join('; ') })),
          'nothing was added; generate an accepted key with `ssh-keygen -t ed25519` and add its .pub file',
        );
      const doc = tx.memberDoc(args.handle);
      const out: KeysAddResult = { member: args.handle, added: [], skipped: [] };
      for (const v of verdicts) {
        if (v.kind === 'present') out.skipped.push({ fingerprint: v.key.fingerprint, reason: `already present as ${v.existing}` });
        if (v.kind !== 'add') continue;
        appendToSeq(doc, ['ssh_keys'], v.entry);
        out.added.push({ name: v.entry.name, type: v.key.type, bits: v.key.bits, fingerprint: v.key.fingerprint, ...(v.entry.source ? { source: v.entry.source } : {}) });
      }
      return out;
    });
    for (const a of result.added) this.say(`added ${args.handle}/${a.name}: ${a.bits} ${a.fingerprint} (${a.type})`);
    for (const s of result.skipped) this.say(`skipped ${s.fingerprint}: ${s.reason}`);
    if (result.added.length) this.say('Next: infra render, then apply the playbook.');
    return result;
  }

  private async inputCandidates(file: string | undefined): Promise<Candidate[]> {
    let text: string;
    let origin: string;
    if (file !== undefined) {
      text = await readInput(file);
      origin = file === '-' ? 'stdin' : file;
    } else if (this.canPrompt()) {
      text = await this.prompter().input({ message: 'Paste the public key (one line: ssh-ed25519 AAAA... comment)' });
      origin = 'the pasted text';
    } else {
      throw new InfraError(ExitCode.usage, 'no key given: pass FILE, - for stdin, --github USER or --gitlab USER', { hint: 'infra keys add HANDLE ~/.ssh/id_ed25519.pub' });
    }
    if (looksLikePrivateKey(text))
      throw new InfraError(ExitCode.invalid, `${origin}: this is a PRIVATE key; nothing of it was stored or printed`, { hint: PRIVATE_KEY_HINT });
    const items = splitKeyText(text);
    const bad = items.filter((i) => i.problem);
    if (bad.length)
      throw invalidInput(
        `${origin} holds lines that are not public keys`,
        bad.map((i) => ({ file: origin, line: i.line, field: 'key', message: i.problem! })),
        bad.find((b) => b.hint)?.hint ?? 'nothing was added; fix the file and run the command again',
      );
    if (!items.length) throw new InfraError(ExitCode.invalid, `${origin}: no public key in it`, { hint: 'a public key line looks like: ssh-ed25519 AAAAC3Nza... you@laptop' });
    return items.map((i) => ({ key: i.key! }));
  }

  private async forgeCandidates(flags: { github?: string; gitlab?: string; 'gitlab-url'?: string }): Promise<Candidate[]> {
    const { fetchGithubKeys, fetchGitlabKeys } = await import('../../adapters/forge-keys.js');
    const found = flags.github !== undefined ? await fetchGithubKeys(flags.github) : await fetchGitlabKeys(flags.gitlab!, { baseUrl: flags['gitlab-url'] });
    this.say(`found ${found.length} key${found.length === 1 ? '' : 's'} on ${flags.github !== undefined ? 'GitHub' : 'GitLab'}`);
    const out: Candidate[] = [];
    for (const k of found) {
      let key;
      try {
        key = parsePublicKey(k.key);
      } catch (e) {
        this.say(`skipped ${k.source}: ${(e as Error).message}`);
        continue;
      }
      // GitHub returns keys without comments: the title, when there is one, is the better comment.
      const withComment = k.title && !key.comment ? { ...key, comment: k.title } : key;
      out.push({ key: withComment, source: k.source, ...(k.expires ? { expires: k.expires } : {}), suggestedName: `${flags.github !== undefined ? 'github' : 'gitlab'}-${k.id}` });
    }
    return out;
  }
}
