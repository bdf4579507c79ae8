/**
 * The vault-encrypted things in an inventory file, found and rewritten without touching any other byte:
 * inline `!vault |` values in a YAML vars file (what `ansible-vault encrypt_string` writes), and whole
 * files that start with `$ANSIBLE_VAULT;` (what `ansible-vault encrypt` writes). Pure: texts in, texts out;
 * the re-encryption itself is the caller's (docs/reference.md, "Vault password rotation").
 */
import { parseAllDocuments, visit, type Scalar } from 'yaml';
import type { Problem } from '../lib/errors.js';

export const VAULT_PREFIX = '$ANSIBLE_VAULT;';
/** The tags Ansible's YAML loader decrypts (ansible/parsing/yaml/constructor.py). */
const VAULT_TAGS = new Set(['!vault', '!vault-encrypted']);

export interface VaultItem {
  /** 1-based line of the item: the `!vault` tag's line, or 1 for a whole file. */
  line: number;
  kind: 'inline' | 'file';
  /** The envelope: header and hex lines joined by `\n`, without indentation. */
  envelope: string;
  /** The span of the text the envelope occupies (first header character to the end of the last hex line). */
  start: number;
  end: number;
  /** Put before every envelope line but the first (the first keeps the text before `start`). */
  indent: string;
  eol: '\n' | '\r\n';
}

/** Whether a file's text is a whole vault-encrypted file (Ansible checks the very first bytes). */
export const isVaultFile = (text: string): boolean => text.startsWith(VAULT_PREFIX);

/** The item of a whole vault-encrypted file: its text up to its trailing line breaks. */
export function wholeFileItem(text: string): VaultItem {
  const end = text.replace(/[\r\n]+$/, '').length;
  return { line: 1, kind: 'file', envelope: text.slice(0, end).split(/\r?\n/).map((l) => l.trim()).join('\n'), start: 0, end, indent: '', eol: /\r\n/.test(text) ? '\r\n' : '\n' };
}

/** Whether a YAML text may hold an inline vault value (cheap test before parsing). */
export const mentionsVaultTag = (text: string): boolean => /!vault(?:-encrypted)?\b/.test(text);

const lineAt = (text: string, offset: number) => text.slice(0, offset).split('\n').length;

/**
 * Every inline vault value in a YAML text (every document), with problems for what infra cannot rewrite
 * safely: a text that is not valid YAML, a `!vault` value that is not a literal block, a block that does
 * not hold a vault envelope. Duplicate keys are accepted, as Ansible's loader accepts them.
 */
export function findInlineVaultItems(text: string, file: string): { items: VaultItem[]; problems: Problem[] } {
  const items: VaultItem[] = [];
  const problems: Problem[] = [];
  const docs = parseAllDocuments(text, { uniqueKeys: false, strict: false });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    if (doc.errors.length) {
      const e = doc.errors[0];
      const line = e.linePos?.[0]?.line ?? lineAt(text, e.pos[0]);
      problems.push({ file, line, field: '(yaml)', message: `not valid YAML (${e.message.split('\n')[0]}), so its vault values cannot be re-encrypted safely` });
      continue;
    }
    visit(doc, {
      Scalar(_key, node: Scalar) {
        if (!node.tag || !VAULT_TAGS.has(node.tag) || !node.range) return;
        const line = lineAt(text, node.range[0]);
        const item = blockItem(text, node, line);
        if (typeof item === 'string') problems.push({ file, line, field: node.tag, message: item });
        else items.push(item);
      },
    });
  }
  return { items, problems };
}

/** The item of a `!vault |` literal block, or why it cannot be one. */
function blockItem(text: string, node: Scalar, line: number): VaultItem | string {
  if (node.type !== 'BLOCK_LITERAL') return 'a vault value written other than as a literal block (`!vault |`) is not rewritten by infra: write it as `ansible-vault encrypt_string` does';
  const [from, to] = node.range!;
  const headerEnd = text.indexOf('\n', from);
  if (headerEnd < 0 || headerEnd >= to) return 'an empty vault value';
  // content lines: [offset, text without the line break]
  const lines: Array<[number, string]> = [];
  for (let at = headerEnd + 1; at < to; ) {
    const nl = text.indexOf('\n', at);
    const stop = nl < 0 || nl > to ? to : nl;
    lines.push([at, text.slice(at, stop).replace(/\r$/, '')]);
    at = stop + 1;
  }
  const filled = lines.filter(([, l]) => l.trim() !== '');
  if (!filled.length) return 'an empty vault value';
  const envelope = filled.map(([, l]) => l.trim()).join('\n');
  const value = String(node.value).split(/\r?\n/).map((l) => l.trim()).filter(Boolean).join('\n');
  if (envelope !== value) return 'a vault block whose lines infra cannot map to its value';
  if (!envelope.startsWith(VAULT_PREFIX)) return `a !vault value that does not start with ${VAULT_PREFIX}`;
  const [firstAt, firstLine] = filled[0];
  const [lastAt, lastLine] = filled[filled.length - 1];
  const indent = firstLine.slice(0, firstLine.length - firstLine.trimStart().length);
  const start = firstAt + indent.length;
  const end = lastAt + lastLine.length;
  const eol = text.slice(headerEnd - 1, headerEnd + 1) === '\r\n' ? '\r\n' : '\n';
  return { line, kind: 'inline', envelope, start, end, indent, eol };
}

/** `text` with each item's envelope replaced by the new one at the same index (same indentation and line breaks). */
export function replaceVaultItems(text: string, items: readonly VaultItem[], envelopes: readonly string[]): string {
  const order = items.map((item, i) => ({ item, envelope: envelopes[i] })).sort((a, b) => b.item.start - a.item.start);
  let out = text;
  for (const { item, envelope } of order) {
    const lines = envelope.trim().split(/\r?\n/);
    const block = lines.map((l, i) => (i === 0 ? l : item.indent + l)).join(item.eol);
    out = out.slice(0, item.start) + block + out.slice(item.end);
  }
  return out;
}

/** The 1-based line of the first byte sequence that is not UTF-8, or undefined when all of it is. */
export function firstNonUtf8Line(data: Uint8Array): number | undefined {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 1;
  let start = 0;
  for (let i = 0; i <= data.length; i++) {
    if (i < data.length && data[i] !== 0x0a) continue;
    try {
      decoder.decode(data.subarray(start, i));
    } catch {
      return line;
    }
    line++;
    start = i + 1;
  }
  return undefined;
}
