/**
 * Who may decrypt the registry's secrets: `infra admins add|remove`. An admin needs an OpenPGP key
 * (keys/<handle>/pgp.asc), since every secret is encrypted to every admin (docs/reference.md, "Tokens").
 * Adding one does not make the stored secrets readable to them: `infra tokens reencrypt` does.
 */
import { assertHandle } from '../core/validate.js';
import { ExitCode, InfraError } from '../lib/errors.js';
import { requireMember, type Context } from './context.js';
import { readSecretCatalog } from '../adapters/secret-catalog.js';
import { secretsReadableBy } from '../core/secrets.js';
import { shellQuote } from '../lib/shell-quote.js';

export interface AdminChangeResult {
  handle: string;
  admins: string[];
  changed: boolean;
  /** What to do next, as commands. */
  next: string[];
  /** Removal: each secret whose ciphertext is (or was) encrypted to them, by kind, with the command that rotates it. */
  could_read: Array<{ kind: string; label: string; subject: string; path: string; rotate: string }>;
  written: string[];
}

export async function addAdmin(ctx: Context, handle: string): Promise<AdminChangeResult> {
  assertHandle(handle);
  const { result, written } = await ctx.store.mutate('admins add', (tx) => {
    const member = requireMember(tx.registry, handle);
    if (member.kind !== 'human')
      throw new InfraError(ExitCode.invalid, `${handle} is a bot: admins are people who decrypt secrets with their own key`, { hint: 'infra members list  # the humans' });
    if (member.status !== 'active')
      throw new InfraError(ExitCode.invalid, `${handle} has departed: a departed member cannot become an admin`, { hint: `infra members show ${shellQuote(handle)}` });
    if (!member.has_pgp)
      throw new InfraError(ExitCode.invalid, `${handle} has no OpenPGP key (keys/${handle}/pgp.asc): secrets could not be encrypted to them`, {
        hint: `infra members edit ${shellQuote(handle)} --pgp THEIR-KEY.asc  # export it with gpg --export --armor EMAIL > THEIR-KEY.asc`,
      });
    const admins = tx.registry.config.admins;
    if (admins.includes(handle)) return { admins, changed: false };
    const next = [...admins, handle];
    tx.edit('infra.yml').setList(['admins'], next);
    return { admins: next, changed: true };
  });
  return {
    handle,
    ...result,
    next: result.changed ? ['infra tokens reencrypt --key YOUR-ADMIN-KEY.asc  # so the stored secrets are readable by them too', 'infra audit  # secret-not-readable until then'] : [],
    could_read: [],
    written,
  };
}

export async function removeAdmin(ctx: Context, handle: string): Promise<AdminChangeResult> {
  assertHandle(handle);
  const { result, written } = await ctx.store.mutate('admins remove', async (tx) => {
    const admins = tx.registry.config.admins;
    if (!admins.includes(handle))
      throw new InfraError(ExitCode.invalid, `${handle} is not an admin (admins: ${admins.join(', ') || 'none'})`, { hint: 'infra members list  # admins are marked *' });
    const next = admins.filter((a) => a !== handle);
    tx.edit('infra.yml').setList(['admins'], next);
    // who can read each secret is what its ciphertext says, not the admin list of the moment
    const catalog = await readSecretCatalog(tx.root, tx.registry.members);
    return { admins: next, couldRead: secretsReadableBy(catalog, handle) };
  });
  return {
    handle,
    admins: result.admins,
    changed: true,
    next: [
      'infra tokens reencrypt --key YOUR-ADMIN-KEY.asc  # new ciphertexts no longer name them',
      ...result.couldRead.map((s) => s.rotate),
      'infra audit  # secret-exposed until each is rotated',
    ],
    could_read: result.couldRead,
    written,
  };
}
