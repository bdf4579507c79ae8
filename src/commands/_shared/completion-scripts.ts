/**
 * `infra autocomplete` (oclif's plugin) writes bash and zsh scripts that complete command and flag names
 * only, and nothing after an argument (`infra vpn join alice --<TAB>`). After it has written them, this
 * appends a completion function that asks `infra __complete` instead, which also knows member handles,
 * `bot/token` names and devices; the later `complete`/`compdef` wins. Appended once (a marker line).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Hook } from '@oclif/core/interfaces';

const MARKER = '# infra: values from the registry (infra __complete)';

export const BASH_COMPLETION = `
${MARKER}
_infra_complete() {
  local IFS=$'\\n'
  COMPREPLY=($(infra __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _infra_complete infra
`;

export const ZSH_COMPLETION = `
${MARKER}
_infra_complete() {
  local -a candidates
  candidates=("\${(@f)$(infra __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  candidates=(\${candidates:#})
  if (( \${#candidates} )); then compadd -Q -a candidates; else _files; fi
}
compdef _infra_complete infra
`;

async function append(file: string, text: string): Promise<void> {
  const current = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (current === undefined || current.includes(MARKER)) return;
  await fs.appendFile(file, text);
}

const hook: Hook<'postrun'> = async function (opts) {
  if (opts.Command.id !== 'autocomplete' && opts.Command.id !== 'autocomplete:create') return;
  const dir = path.join(opts.config.cacheDir, 'autocomplete');
  await append(path.join(dir, 'functions', 'bash', `${opts.config.bin}.bash`), BASH_COMPLETION);
  await append(path.join(dir, 'zsh_setup'), ZSH_COMPLETION);
};

export default hook;
