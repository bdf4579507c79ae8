/**
 * What the audit's parts share (docs/reference.md, "infra audit"): how a finding is made, a key read once, plural
 * words, the apply command a fix names, and where an environment's inventory folder is.
 */
import { shellCommand } from '../lib/shell-quote.js';
import { CODES, type FindingCode, type Severity } from './audit.js';
import type { KeySummary, ParseKey } from './key-summary.js';
import type { InfraConfig, Member } from './types.js';
import type { Finding } from './vpn-plan.js';

export const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export const finding = (code: FindingCode, subject: string, detail: string, fix: string, severity: Severity = CODES[code]): Finding => ({ code, severity, subject, detail, fix });

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
export const applyCommand = (folder: string, host?: string, tags?: string) =>
  shellCommand(['ansible-playbook', '-i', folder, 'ansible/apply-access.yml', ...(tags ? ['--tags', tags] : []), ...(host ? ['--limit', host] : [])]);

export const folderOf = (config: InfraConfig, env: string, folders?: Readonly<Record<string, string>>) => folders?.[env] ?? config.environments[env];

export const decode = (content: string | Uint8Array) => (typeof content === 'string' ? content : new TextDecoder().decode(content));

/** A key entry's summary, undefined when it does not parse (validation reports it: invalid-registry). */
export type KeyReader = (entry: { key: string }) => KeySummary | undefined;

export function keyReader(parseKey: ParseKey): KeyReader {
  return (entry) => {
    try {
      return parseKey(entry.key);
    } catch {
      return undefined; // a member that loaded has only parseable keys
    }
  };
}

export interface ParsedKey {
  member: Member;
  name: string;
  parsed: KeySummary;
}

export function parsedKeys(members: readonly Member[], readKey: KeyReader): ParsedKey[] {
  const out: ParsedKey[] = [];
  for (const member of members)
    for (const k of member.ssh_keys) {
      const parsed = readKey(k);
      if (parsed) out.push({ member, name: k.name, parsed });
    }
  return out;
}

