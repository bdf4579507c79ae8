/**
 * Shell completion (`infra __complete`, docs/reference.md "infra autocomplete, infra help"): the candidates
 * for the last, partial word of a command line, as cobra's `__complete` gives them: command and topic
 * names, a command's flags, and the values the registry knows — member handles, `bot/token` names,
 * a member's devices and key names, networks and environments.
 */

export interface CommandShape {
  /** With spaces: `vpn join`. */
  id: string;
  /** Flag name -> whether it takes a value, and whether it may be given more than once. */
  flags: Record<string, { takesValue: boolean; multiple?: boolean }>;
  /** Positional argument names, in order (`handle`, `token`, `key` ...). */
  args: string[];
}

export interface RegistryNames {
  handles: string[];
  /** `bot/token` */
  tokens: string[];
  /** handle -> device names */
  devices: Record<string, string[]>;
  /** handle -> SSH key names */
  keys: Record<string, string[]>;
  networks: string[];
  environments: string[];
}

export const NO_NAMES: RegistryNames = { handles: [], tokens: [], devices: {}, keys: {}, networks: [], environments: [] };

const own = <T>(record: Record<string, T[]>, key: string | undefined): T[] => (key !== undefined && Object.hasOwn(record, key) ? record[key] : []);

/** Values of a positional argument, by its name; `handle` is the command's first argument when it names a member. */
function argValues(command: string, arg: string, handle: string | undefined, names: RegistryNames): string[] {
  if (arg === 'handle') return names.handles;
  if (arg === 'token') return names.tokens;
  if (arg === 'key' && command === 'keys remove') return own(names.keys, handle);
  return [];
}

/** Values of a flag: devices of the member named first, networks, environments; certs sign's --key is a key name. */
function flagValues(command: string, flag: string, handle: string | undefined, names: RegistryNames): string[] {
  if (flag === 'device') return own(names.devices, handle);
  if (flag === 'network') return names.networks;
  if (flag === 'env') return names.environments;
  if (flag === 'key' && command === 'certs sign') return own(names.keys, handle);
  return [];
}

/** `words`: the words after `infra`, the last one being completed (may be empty). */
export function completions(words: readonly string[], commands: readonly CommandShape[], names: RegistryNames): string[] {
  const typed = words.slice(0, -1);
  const partial = words.at(-1) ?? '';
  const matching = (candidates: Iterable<string>) => [...new Set(candidates)].filter((c) => c.startsWith(partial)).sort();
  let command: CommandShape | undefined;
  let used = 0;
  for (const c of commands) {
    const parts = c.id.split(' ');
    if (parts.length > used && parts.length <= typed.length && parts.every((p, i) => typed[i] === p)) {
      command = c;
      used = parts.length;
    }
  }
  if (!command) {
    // a command or topic name: the next word of every id that begins with what is typed
    const prefix = typed.join(' ');
    return matching(commands.map((c) => c.id.split(' ')).filter((p) => p.length > typed.length && p.slice(0, typed.length).join(' ') === prefix).map((p) => p[typed.length]));
  }
  const rest = typed.slice(used);
  const positionals: string[] = [];
  const given = new Set<string>();
  let valueOf: string | undefined;
  for (const word of rest) {
    if (valueOf !== undefined) {
      valueOf = undefined;
      continue;
    }
    if (word.startsWith('--') && word.length > 2) {
      const [name, value] = word.slice(2).split(/=(.*)/s);
      given.add(name);
      if (command.flags[name]?.takesValue && value === undefined) valueOf = name;
    } else if (!word.startsWith('-') || word === '-') positionals.push(word);
  }
  const handle = command.args[0] === 'handle' ? positionals[0] : undefined;
  if (valueOf !== undefined) return matching(flagValues(command.id, valueOf, handle, names));
  if (partial.startsWith('-')) {
    const flags = Object.entries(command.flags).filter(([name, f]) => f.multiple || !given.has(name));
    return matching(flags.map(([name]) => `--${name}`));
  }
  const arg = command.args[positionals.length];
  return arg === undefined ? [] : matching(argValues(command.id, arg, handle, names));
}
