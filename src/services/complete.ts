/**
 * `infra __complete`: the shell's completion asks for the candidates of a partial command line
 * (core/completion.ts), with the names read from the registry in the current folder (or --dir / INFRA_DIR).
 * Completion must never fail at the shell: a registry that does not load gives command and flag names only.
 */
import { completions, NO_NAMES, type CommandShape, type RegistryNames } from '../core/completion.js';
import type { Context } from './context.js';

async function registryNames(ctx: Context): Promise<RegistryNames> {
  try {
    const { partial } = await ctx.store.inspect();
    if (!partial) return NO_NAMES;
    const { members, config } = partial.registry;
    return {
      handles: members.map((m) => m.handle),
      tokens: members.flatMap((m) => m.tokens.map((t) => `${m.handle}/${t.name}`)),
      devices: Object.fromEntries(members.map((m) => [m.handle, m.vpn_peers.map((p) => p.device)])),
      keys: Object.fromEntries(members.map((m) => [m.handle, m.ssh_keys.map((k) => k.name)])),
      networks: Object.keys(config.vpn),
      environments: Object.keys(config.environments),
    };
  } catch {
    return NO_NAMES;
  }
}

export async function completeLine(ctx: Context, words: string[], commands: CommandShape[]): Promise<{ candidates: string[] }> {
  // names come from the registry only when an argument or flag value is being completed: a command name needs none
  const needsNames = words.length > 1;
  return { candidates: completions(words, commands, needsNames ? await registryNames(ctx) : NO_NAMES) };
}
