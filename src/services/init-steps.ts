/**
 * `infra init` on a terminal: after the scaffold, the first admin, environment and grant by prompts
 * (docs/reference.md, "infra init"). Each step calls the very service its command calls (`members add`,
 * `admins add`, `env add`, `grants add`), so the files are the ones those commands would write, and a
 * bad answer gets the command's own error; the step is then asked again. A blank answer skips a step.
 * Every step is one locked, atomic edit: a Ctrl-C (exit 130) leaves the scaffold and the steps done, valid.
 */
import { shellQuote } from '../lib/shell-quote.js';
import { assertHandle } from '../core/validate.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { addAdmin } from './admins.js';
import { say, type Context } from './context.js';
import { addEnvironment } from './environments.js';
import { addGrant } from './grants.js';
import { addMember } from './members.js';

export interface FirstSteps {
  /** The first admin's handle, when that step was done. */
  admin?: string;
  environment?: string;
  /** The grant's number (`infra grants remove N`). */
  grant?: number;
  /** What to run next, as commands. */
  next: string[];
}

/** A step asked again after a refusal at most this often: then skipped, with the command that does it. */
const ATTEMPTS = 3;

const splitWords = (v: string) => v.split(/[\s,]+/).filter(Boolean);

/** Runs `step` until it is done or skipped (undefined); a refusal is shown as the command shows it, and the step is asked again. */
async function retrying<T>(ctx: Context, skipped: string, step: () => Promise<T | undefined>): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (e) {
      if (!(e instanceof InfraError) || (e.exitCode !== ExitCode.invalid && e.exitCode !== ExitCode.usage)) throw e; // 130 and bugs end init
      say(ctx, `infra: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ''}`);
      if (attempt === ATTEMPTS) {
        say(ctx, `skipped; later: ${skipped}`);
        return undefined;
      }
    }
  }
}

async function adminStep(ctx: Context): Promise<{ handle: string; groups: string[] } | undefined> {
  const prompter = ctx.prompter!;
  return retrying(ctx, 'infra members add HANDLE --pgp KEY.asc --groups infra, then infra admins add HANDLE', async () => {
    const handle = (await prompter.input({ message: 'First admin: their handle, a short lowercase id (blank: skip)' })).trim();
    if (!handle) return undefined;
    assertHandle(handle); // members add's own check, before the handle is shown in the next prompts
    const registry = (await ctx.store.load()).registry;
    const existing = registry.members.find((m) => m.handle === handle);
    let groups = existing?.groups ?? [];
    if (!existing) {
      const pgp = (await prompter.input({ message: `Path to ${handle}'s OpenPGP public key (gpg --export --armor EMAIL > ${shellQuote(`${handle}.asc`)})` })).trim();
      const groupList = await prompter.input({ message: `${handle}'s groups, comma-separated`, default: 'infra' });
      groups = splitWords(groupList);
      await addMember(ctx, { handle, pgp, groups: groupList });
    }
    await addAdmin(ctx, handle);
    say(ctx, `${handle} is a member and an admin.\nNext: infra keys add ${shellQuote(handle)} ~/.ssh/id_ed25519.pub  # their SSH key`);
    return { handle, groups };
  });
}

async function environmentStep(ctx: Context): Promise<string | undefined> {
  const prompter = ctx.prompter!;
  return retrying(ctx, 'infra env add NAME inventories/NAME --host HOST=ADDRESS', async () => {
    const name = (await prompter.input({ message: 'First environment: its name, e.g. production (blank: skip)' })).trim();
    if (!name) return undefined;
    const folder = (await prompter.input({ message: `Inventory folder of ${name}`, default: `inventories/${name}` })).trim();
    const hosts = splitWords(await prompter.input({ message: `Hosts of ${name}: HOST or HOST=ADDRESS, separated by spaces (blank: none yet)` }));
    // the scaffold's production, named again without hosts: nothing to do, and no "already exists" to show
    if (!hosts.length && (await ctx.store.loadConfig()).environments[name] === folder) {
      say(ctx, `Environment ${name}: ${folder} (there already).\nNext:\n  add hosts to ${folder}/hosts.yml (Ansible YAML inventory)`);
      return name;
    }
    const result = await addEnvironment(ctx, { name, path: folder, hosts });
    say(ctx, [`Environment ${name}: ${result.path}${result.hosts.length ? ` with ${result.hosts.join(', ')}` : ''}.`, 'Next:', ...result.next.map((n) => `  ${n}`)].join('\n'));
    return name;
  });
}

async function grantStep(ctx: Context, groups: string[]): Promise<number | undefined> {
  const prompter = ctx.prompter!;
  return retrying(ctx, 'infra grants add --groups GROUP --hosts PATTERN --user USER', async () => {
    const groupList = (await prompter.input({ message: 'First grant: which member groups, comma-separated (blank: skip)', ...(groups.length ? { default: groups.join(',') } : {}) })).trim();
    if (!groupList) return undefined;
    const hosts = (await prompter.input({ message: 'On which hosts: an Ansible pattern (all, a group, a host)', default: 'all' })).trim();
    const user = (await prompter.input({ message: 'As which remote user (whose authorized_keys get the keys)' })).trim();
    const vpnOnly = await prompter.confirm({ message: 'Only from the VPN (needs a VPN network: infra vpn network add)?', default: false });
    const result = await addGrant(ctx, { groups: groupList, hosts, user, vpnOnly });
    say(ctx, [`Grant ${result.grant.number}: ${result.grant.groups.join(',')} → ${result.grant.user}@${result.grant.hosts}.`, 'Next:', ...result.next.map((n) => `  ${n}`)].join('\n'));
    return result.grant.number;
  });
}

/** The prompts after the scaffold. Only called with a prompter (a terminal, neither --json nor --no-input). */
export async function firstSteps(ctx: Context, root: string): Promise<FirstSteps> {
  if ((await ctx.store.root()) !== root) throw new InfraError(ExitCode.bug, `init made ${root} but the commands would edit ${await ctx.store.root()}`);
  say(ctx, `Created a registry in ${root}. Now the first admin, environment and grant (each as its command would do it; a blank answer skips it).`);
  const admin = await adminStep(ctx);
  const environment = await environmentStep(ctx);
  const grant = await grantStep(ctx, admin?.groups ?? []);
  const next = [
    ...(admin ? [] : ['infra members add HANDLE --name NAME --org ORG --email EMAIL --groups infra --pgp KEY.asc', 'infra admins add HANDLE']),
    ...(environment ? [] : ['infra env add production inventories/production --host HOST=ADDRESS']),
    ...(grant ? [] : ['infra grants add --groups infra --hosts all --user sysadmin']),
    admin ? `infra keys add ${shellQuote(admin.handle)} ~/.ssh/id_ed25519.pub` : 'infra keys add HANDLE KEY.pub',
    'infra render  # then apply it: ansible-playbook -i inventories/ENV ansible/apply-access.yml',
    'infra audit',
  ];
  return { ...(admin ? { admin: admin.handle } : {}), ...(environment ? { environment } : {}), ...(grant ? { grant } : {}), next };
}
