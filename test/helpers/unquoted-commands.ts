/**
 * A cheap static guard for suggested commands: in every template literal under src/, a `${…}` that lands
 * inside a command a user is meant to paste (`infra …`, `git …`, `gpg …`, `wg …`, `ansible…`, `chmod …`, `rm …`)
 * must be a call to shellQuote or shellCommand (lib/shell-quote.ts), a literal, or a template/condition made
 * only of those. What it returns is every other one, as `file:line: expression`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** Where a pasteable command starts in the text of a template (placeholders are \u0000). */
const COMMAND_START =
  /(?<![\w./-])(?:infra (?:init|check|render|audit|approve|verify|members|keys|tokens|vpn|grants|env|certs|ca|vault|admins)\b|infra (?:--\w|\u0000)|git (?:-C|checkout|config|rm|fetch|log|add|commit|status|init)\b|gpg --|wg (?:set|show|setconf|showconf|pubkey|genkey)\b|ansible(?:-playbook|-inventory)? -|ansible-vault (?:decrypt|encrypt|view|edit)|ssh-keygen -|chmod \d|rm (?:-|\u0000)|mkdir -|grep -|pass --\w|[A-Z][A-Z_]+=\S* (?:infra|ansible))/g;
/** Where a command written outside backticks ends: prose after it. */
const PROSE_END = /`|; |, | \(|\)|: | — | or | and |\n| {2}# /;

const SAFE_CALLS = new Set(['shellQuote', 'shellCommand']);

/** A value that cannot hold a word from data, or is quoted already. */
function isSafe(e: ts.Expression): boolean {
  if (ts.isParenthesizedExpression(e)) return isSafe(e.expression);
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) || ts.isNumericLiteral(e)) return true;
  if (ts.isCallExpression(e) && ts.isIdentifier(e.expression) && SAFE_CALLS.has(e.expression.text)) return true;
  if (ts.isConditionalExpression(e)) return isSafe(e.whenTrue) && isSafe(e.whenFalse);
  if (ts.isTemplateExpression(e)) return e.templateSpans.every((s) => isSafe(s.expression));
  return false;
}

export interface Unquoted {
  file: string;
  line: number;
  expression: string;
  /** Where the expression starts and ends in the source text. */
  start: number;
  end: number;
}

/** Every `${…}` inside a suggested command in `text` (a TypeScript source) that is not quoted. */
export function unquotedInSource(file: string, text: string): Unquoted[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Unquoted[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isTemplateExpression(node)) {
      const exprs = node.templateSpans.map((s) => s.expression);
      const masked = [node.head.text, ...node.templateSpans.map((s) => `\u0000${s.literal.text}`)].join('');
      const holes = [...masked.matchAll(/\u0000/g)].map((m) => m.index!);
      for (const start of masked.matchAll(COMMAND_START)) {
        const from = start.index!;
        const quoted = from > 0 && masked[from - 1] === '`';
        const rest = masked.slice(from + 1);
        const endAt = quoted ? rest.indexOf('`') : rest.search(PROSE_END);
        const to = endAt < 0 ? masked.length : from + 1 + endAt;
        holes.forEach((at, i) => {
          const e = exprs[i]!;
          if (at >= from && at < to && !isSafe(e)) {
            out.push({ file, line: source.getLineAndCharacterOfPosition(e.getStart()).line + 1, expression: e.getText(), start: e.getStart(), end: e.getEnd() });
          }
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  // One hole can lie in two overlapping commands: report it once.
  return out.filter((u, i) => out.findIndex((o) => o.line === u.line && o.expression === u.expression) === i);
}

/** The same over every .ts file under `dir`, paths relative to `base`. */
export function unquotedInTree(dir: string, base: string): Unquoted[] {
  const out: Unquoted[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...unquotedInTree(path, base));
    else if (entry.name.endsWith('.ts')) out.push(...unquotedInSource(relative(base, path), readFileSync(path, 'utf8')));
  }
  return out;
}
