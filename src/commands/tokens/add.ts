import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { InfraCommand } from '../_shared/base-command.js';
import { addToken, type AddTokenResult } from '../../services/tokens.js';

export default class TokensAdd extends InfraCommand<AddTokenResult> {
  static override summary = "Register a bot's token: its kind, rotation period and where it is used.";
  static override description = `Only what anyone may read goes into keys/HANDLE/member.yml; the value is stored at the first \`infra tokens rotate HANDLE/NAME\`.
A consumer is github_secret:OWNER/REPO:NAME, github_env_secret:OWNER/REPO:ENVIRONMENT:NAME, github_org_secret:ORG:NAME or ansible_vault_var:ENV:GROUP:VAR (the environment must be in infra.yml and the group in its inventory).`;
  static override examples = [
    '<%= config.bin %> tokens add roobot deploy-key --kind generic --every 30 --consumer github_secret:example-coop/site:DEPLOY_KEY --consumer ansible_vault_var:production:bots:roobot_deploy_key',
    '<%= config.bin %> tokens add roobot org-github --kind github --consumer github_org_secret:example-coop:ROOBOT_TOKEN',
  ];
  static override args = {
    handle: Args.string({ required: true, description: 'the bot' }),
    name: Args.string({ required: true, description: 'name of the token, e.g. github' }),
  };
  static override flags = {
    kind: Flags.string({ required: true, options: ['github', 'matrix', 'generic'], description: 'github (a pasted personal token), matrix (password login), generic (32 random bytes)' }),
    every: Flags.integer({ description: 'rotate every DAYS (default: policy.tokens.rotate_every_days)' }),
    consumer: Flags.string({ multiple: true, description: 'where the value is used (repeatable)' }),
    homeserver: Flags.string({ description: 'matrix: the homeserver URL clients use' }),
  };

  async run(): Promise<AddTokenResult> {
    const { args, flags } = await this.parseWith(TokensAdd);
    const result = await addToken(this.context(), { ...args, kind: flags.kind, every: flags.every, consumers: flags.consumer ?? [], homeserver: flags.homeserver });
    this.say(`added ${result.token} (${result.kind}) with ${result.consumers.length} consumer(s)`);
    return result;
  }
}
