/**
 * A registry file read and parsed within limits: at most MAX_REGISTRY_FILE_BYTES, UTF-8 only, no alias bomb,
 * with the positions problems point at.
 */
import { promises as fs } from 'node:fs';
import { Document, isMap, LineCounter, parseDocument, visit, type Node as YamlNode } from 'yaml';
import { ExitCode, InfraError, type Problem } from '../lib/errors.js';
import type { Path } from '../core/validate.js';
import { decodeUtf8 } from '../lib/utf8.js';
import { shellCommand } from '../lib/shell-quote.js';

/** How edited YAML is written back: no re-wrapping, `[a, b]` as people write it. */
export const YAML_OUT = { lineWidth: 0, flowCollectionPadding: false } as const;

/** A parsed YAML file with what it takes to point at lines and to detect changes under us. */
export interface YamlFile {
  rel: string; // path relative to the registry root, with /
  text: string;
  doc: Document;
  lines: LineCounter;
}

/** How many times aliases may expand in one registry file: a few anchors are fine, an alias bomb is not. */
export const MAX_ALIAS_EXPANSIONS = 100;

/**
 * An alias bomb (aliases of aliases, each expanding many times) would take the process's memory when the
 * document is converted: the `yaml` package's own guard throws a bare ReferenceError. Convert once with that
 * guard here, where a refusal becomes a problem naming the file and the first alias's line.
 */
function aliasProblem(rel: string, doc: Document, lines: LineCounter): Problem | undefined {
  let firstAlias: number | undefined;
  visit(doc, {
    Alias(_, node) {
      firstAlias = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  if (firstAlias === undefined) return undefined;
  try {
    doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
    return undefined;
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    return {
      file: rel,
      line: lines.linePos(firstAlias).line,
      field: '(yaml)',
      message: `its YAML aliases (*name) expand to more than ${MAX_ALIAS_EXPANSIONS} copies, which infra refuses (a YAML "alias bomb" takes all memory): write the values out`,
    };
  }
}

export function parseYamlFile(rel: string, text: string): { file: YamlFile; problems: Problem[] } {
  const lines = new LineCounter();
  // logLevel error: a mapping used as a key is reported by validation (an unknown field), not warned about on stderr
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  const problems: Problem[] = doc.errors.map((e) => ({
    file: rel,
    // An unclosed `[` or `{` is noticed lines later, where the parser gives up: point at the opener.
    line: lines.linePos(/\bflow (sequence|mapping|collection)\b/i.test(e.message) ? (unclosedFlowOpener(text, e.pos[0]) ?? e.pos[0]) : e.pos[0]).line,
    field: '(yaml)',
    message: `YAML syntax error: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
  }));
  if (!problems.length) {
    const aliases = aliasProblem(rel, doc, lines);
    if (aliases) problems.push(aliases);
  }
  return { file: { rel, text, doc, lines }, problems };
}

/** Offset of the outermost `[` or `{` still open at `pos` (outside quotes and comments), if any. */
export function unclosedFlowOpener(text: string, pos: number): number | undefined {
  const open: number[] = [];
  let quote: string | undefined;
  for (let i = 0; i < Math.min(pos, text.length); i++) {
    const c = text[i];
    if (quote) {
      if (c === quote && !(quote === '"' && text[i - 1] === '\\')) quote = undefined;
      else if (c === '\n' && !open.length) quote = undefined;
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) {
      const nl = text.indexOf('\n', i);
      i = nl === -1 ? text.length : nl;
      continue;
    }
    if ((c === '"' || c === "'") && (open.length || /[\s:,[{-]/.test(text[i - 1] ?? ' '))) quote = c;
    else if (c === '[' || c === '{') open.push(i);
    else if ((c === ']' || c === '}') && open.length) open.pop();
  }
  return open[0];
}

export function lineOf(file: YamlFile, p: Path): number | undefined {
  const node = p.length === 0 ? file.doc.contents : (file.doc.getIn(p, true) as YamlNode | undefined);
  // A scalar at a path: point at its key's line when the value sits on a later line.
  if (node && typeof node === 'object' && 'range' in node && node.range) return file.lines.linePos(node.range[0]).line;
  if (p.length) {
    const parent = p.length === 1 ? file.doc.contents : (file.doc.getIn(p.slice(0, -1), true) as YamlNode | undefined);
    if (isMap(parent)) {
      const pair = parent.items.find((it) => (it.key as { value?: unknown })?.value === p[p.length - 1]);
      const key = pair?.key as YamlNode | undefined;
      if (key?.range) return file.lines.linePos(key.range[0]).line;
    }
  }
  return undefined;
}


/** infra.yml and a member.yml hold at most this many bytes: far above any real one, far below what exhausts memory. */
export const MAX_REGISTRY_FILE_BYTES = 1024 * 1024;

/**
 * A registry file's text, or undefined when it does not exist. The size is taken from the open file before
 * anything is read, so a huge file (or one growing while read) is refused, naming it, instead of being loaded.
 */
export async function readRegistryText(file: string, rel: string, limit = MAX_REGISTRY_FILE_BYTES): Promise<string | undefined> {
  let handle;
  try {
    handle = await fs.open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const { size } = await handle.stat();
    const tooLarge = (bytes: number) =>
      new InfraError(ExitCode.invalid, `${rel}: ${bytes > limit * 2 ? `is ${(bytes / 1048576).toFixed(1)} MB` : 'is too large'}; a registry file holds at most ${limit / 1048576} MB`, {
        hint: `see what filled it (\`${shellCommand(['ls', '-l', rel])}\`, \`${shellCommand(['git', 'log', '-p', '--', rel])}\`) and restore it, then run \`infra check\``,
        problems: [{ file: rel, field: '(file)', message: `larger than ${limit / 1048576} MB` }],
      });
    if (size > limit) throw tooLarge(size);
    // Room for one byte more than stat said: a file that grew since is read on only up to the limit.
    let buffer = Buffer.allocUnsafe(size + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > limit) throw tooLarge(length);
        buffer = Buffer.concat([buffer, Buffer.allocUnsafe(Math.min(buffer.length, limit + 1 - buffer.length))]);
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return decodeUtf8(buffer.subarray(0, length), rel);
  } finally {
    await handle.close();
  }
}
