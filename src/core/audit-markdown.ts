/**
 * The audit as Markdown for the meeting notes (docs/reference.md, "infra audit", "Markdown"): pasted into
 * HackMD or GitHub, and edited there as raw text, so it is written to read well raw: paths, commands,
 * handles and anything else markdown would act on go into code spans instead of being backslash- or
 * entity-escaped; findings with the same code and fix are one row listing their subjects; and two Mermaid
 * pictures (audit-mermaid.ts) show what falls due and who reaches what.
 *
 * Inert, whatever the text: outside code spans only words made of characters neither markdown nor HackMD
 * acts on are left (no HTML, link, emphasis, embed `{%…%}`, bare URL, math `$`, emoji `:x:`, mention `@`);
 * a code span's fence is longer than any backtick run in it, a `|` in it is `\|` (tables split cells before
 * reading code spans, and both GFM and markdown-it drop that backslash), and line breaks are `\u000a` (inert).
 */
import { inert, summaryLine, type AuditReport } from './audit-format.js';
import type { Change } from './changes.js';
import { dueGantt, reachFlowchart } from './audit-mermaid.js';
import type { Finding } from './vpn-plan.js';

// ------------------------------------------------------------------ text

/** A code span holding `text` (already inert: one line) exactly, backtick-safe and pipe-safe. */
export function codeSpan(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  // CommonMark strips one space from each end when both have one: padding keeps a leading or trailing ` or space.
  const pad = /^[` ]|[` ]$/.test(text) ? ' ' : '';
  return `${fence}${pad}${text.replace(/\|/g, '\\|')}${pad}${fence}`;
}

/**
 * A word that needs a code span: any character markdown, GFM or HackMD act on (emphasis, code, links, HTML,
 * entities, tables, strikethrough, math, marks, embeds, mentions, issue links, emoji), a URL, or a path-like
 * word (a `/` or `.` between two characters: paths, handles, file names, addresses), which reads best as code.
 */
const NEEDS_CODE_RE = /[`\\*_[\]|~<${}@#^]|&[#A-Za-z0-9]|==|\+\+|:[A-Za-z0-9_+-]+:|(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:\/\/|www\.|mailto:|[^\s][./][^\s]/i;
/** What may stay beside a code span, outside it: opening and closing punctuation of prose. */
const LEAD_RE = /^[("']+/;
const TRAIL_RE = /[)"',.;:!?]+$/;

/** A piece of a cell: prose as it is, or the content of a code span. */
interface Segment {
  code: boolean;
  text: string;
}

/** One word of prose: as it is, or in a code span (punctuation around it kept outside). */
function markdownWord(word: string): Segment[] {
  if (!NEEDS_CODE_RE.test(word)) return [{ code: false, text: word }];
  const lead = LEAD_RE.exec(word)?.[0] ?? '';
  const trail = TRAIL_RE.exec(word.slice(lead.length))?.[0] ?? '';
  const core = word.slice(lead.length, word.length - trail.length);
  // `f(x)` keeps its `)`; punctuation that is itself what needs the span stays in it
  const unbalanced = (core.match(/\(/g)?.length ?? 0) !== (core.match(/\)/g)?.length ?? 0);
  if (core === '' || unbalanced || !NEEDS_CODE_RE.test(core)) return [{ code: true, text: word }];
  return [{ code: false, text: lead }, { code: true, text: core }, { code: false, text: trail }];
}

/** The programs whose command lines a fix or detail may hold unquoted: from such a word to `, ` `; ` ` (` or the end is one command. */
// (`infra` followed by one of its topics: a group may be named infra too)
const COMMAND_RE =
  /(?<=^|\s)(?:infra (?:admins|approve|audit|ca|certs|check|env|grants|help|init|keys|members|render|tokens|vault|verify|vpn)\b|ansible-playbook |ansible-inventory |ssh-keygen |gpg |git |wg-quick |wg (?:show|genkey|pubkey|set|syncconf|showconf)\b|sshd -)[^;,(]*?(?=,\s|;\s|\s\(|$)/g;

const wordsOf = (text: string): Segment[] => text.split(/( +)/).flatMap((w) => (w === '' ? [] : w.trim() === '' ? [{ code: false, text: w }] : markdownWord(w)));

function markdownProse(text: string): Segment[] {
  const out: Segment[] = [];
  let at = 0;
  for (const m of text.matchAll(COMMAND_RE)) {
    out.push(...wordsOf(text.slice(at, m.index)), { code: true, text: m[0].trimEnd() }, { code: false, text: m[0].slice(m[0].trimEnd().length) });
    at = m.index! + m[0].length;
  }
  return [...out, ...wordsOf(text.slice(at))];
}

/**
 * Text for one markdown table cell or line: inert first; what infra wrote in backticks (a command, an edit)
 * and each command line it names are code spans; every other word is as it is, or in a code span when
 * markdown would act on it (NEEDS_CODE_RE). Code spans that would touch are one span (two fences side by
 * side would read as one longer fence).
 */
export function markdownText(text: string): string {
  const safe = inert(text);
  const parts = safe.split('`');
  // an odd count of backticks: the last one opens nothing and stays in the prose (where it gets a code span)
  if (parts.length % 2 === 0) parts.splice(parts.length - 2, 2, `${parts[parts.length - 2]}\`${parts[parts.length - 1]}`);
  const segments = parts.flatMap((part, i): Segment[] => (i % 2 === 0 ? markdownProse(part) : [{ code: true, text: part.trim() === '' ? `\`${part}\`` : part }]));
  const merged: Segment[] = [];
  for (const seg of segments) {
    if (seg.text === '') continue;
    const last = merged.at(-1);
    if (last && last.code === seg.code) last.text += seg.text;
    else merged.push({ ...seg });
  }
  return merged.map((seg) => (seg.code ? codeSpan(seg.text) : seg.text)).join('');
}

/** An identifier (a subject, a host, a commit): one code span, whatever it holds. */
const markdownId = (text: string) => codeSpan(inert(text));

// ------------------------------------------------------------------ findings, grouped

export interface FindingRow {
  severity: Finding['severity'];
  code: string;
  subjects: string[];
  detail: string;
  fix: string;
}

/**
 * Findings with the same severity, code and fix as one row listing their subjects (in the order given). The
 * detail is theirs when all say the same; when each says the same of its own subject ("X differs from …"),
 * "each" stands for the subject; otherwise each subject's detail, in order.
 */
export function groupFindings(findings: readonly Finding[]): FindingRow[] {
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    const key = JSON.stringify([f.severity, f.code, f.fix]);
    const list = groups.get(key);
    if (list) list.push(f);
    else groups.set(key, [f]);
  }
  return [...groups.values()].map((list) => {
    const first = list[0];
    const row = { severity: first.severity, code: first.code, subjects: list.map((f) => f.subject), fix: first.fix };
    if (list.length === 1 || list.every((f) => f.detail === first.detail)) return { ...row, detail: first.detail };
    const rest = (f: Finding) => (f.detail.startsWith(f.subject) ? f.detail.slice(f.subject.length) : undefined);
    const common = rest(first);
    if (common !== undefined && list.every((f) => rest(f) === common)) return { ...row, detail: `each${common}` };
    return { ...row, detail: list.map((f) => `${f.subject}: ${f.detail}`).join('; ') };
  });
}

// ------------------------------------------------------------------ the report

export function auditMarkdown(report: AuditReport): string {
  const md = markdownText;
  const out: string[] = [];
  out.push(`# Infrastructure audit, ${md(report.as_of)}`, '');
  const hosts = new Set(report.access.map((r) => `${r.environment}/${r.host}`)).size;
  const people = new Set(report.access.flatMap((r) => r.members)).size;
  out.push(`**${summaryLine(report.findings)}** · ${hosts} host${hosts === 1 ? '' : 's'} · ${people} member${people === 1 ? '' : 's'} with access`, '');

  out.push('## Findings', '');
  if (report.findings.length) {
    out.push('| Severity | Code | Subject | Detail | Fix |', '|---|---|---|---|---|');
    for (const r of groupFindings(report.findings)) out.push(`| ${md(r.severity)} | ${md(r.code)} | ${r.subjects.map(markdownId).join(', ')} | ${md(r.detail)} | ${md(r.fix)} |`);
  } else out.push('No findings.');
  out.push('');

  if (report.changes !== undefined) {
    out.push(`## Changes since ${md(report.since ?? '')}`.trimEnd(), '');
    if (report.changes.length) {
      out.push('| Date | Commit | Change | Subject | Detail |', '|---|---|---|---|---|');
      for (const c of report.changes) out.push(`| ${md(c.date)} | ${commitCell(c)} | ${md(c.kind)} | ${markdownId(c.subject)} | ${md(`${c.detail ?? ''}${signedNote(c)}`.trim())} |`);
    } else out.push('No changes.');
    out.push('');
  }

  out.push('## Access', '');
  out.push(...accessTable(report));

  const gantt = report.due ? dueGantt(report.due, report.as_of, report.horizon_days ?? 30) : undefined;
  if (gantt) out.push('', `## Due within ${report.horizon_days ?? 30} days`, '', '```mermaid', gantt.trimEnd(), '```');
  const graph = report.reach ? reachFlowchart(report.reach) : undefined;
  if (graph) out.push('', '## Who reaches what', '', '```mermaid', graph.trimEnd(), '```');
  return `${out.join('\n')}\n`;
}

/** A commit's short hash as code; a change not yet committed says so in words. */
function commitCell(c: Change): string {
  return c.uncommitted ? '**uncommitted**' : markdownId(c.commit);
}

/** Hosts x members; a cell holds the remote users, each marked when reached only from the VPN. */
function accessTable(report: AuditReport): string[] {
  const md = markdownText;
  if (!report.access.length) return ['No host is reached by any grant.'];
  const members = [...new Set(report.access.flatMap((r) => r.members))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const cells = new Map<string, Map<string, string[]>>();
  const hostOrder: string[] = [];
  for (const r of report.access) {
    const hostKey = `${r.environment}/${r.host}`;
    let row = cells.get(hostKey);
    if (!row) {
      cells.set(hostKey, (row = new Map()));
      hostOrder.push(hostKey);
    }
    const vpn = new Set(r.vpn_only_members);
    for (const m of r.members) row.set(m, [...(row.get(m) ?? []), `${md(r.user)}${vpn.has(m) ? ' (VPN only)' : ''}`]);
  }
  const out: string[] = [];
  if (members.length === 0) {
    out.push('| Host | Members |', '|---|---|');
    for (const host of hostOrder) out.push(`| ${markdownId(host)} | nobody |`);
  } else {
    out.push(`| Host | ${members.map(md).join(' | ')} |`, `|---|${members.map(() => '---|').join('')}`);
    for (const host of hostOrder) {
      const row = cells.get(host)!;
      out.push(`| ${markdownId(host)} | ${members.map((m) => (row.get(m) ?? []).join(', ')).join(' | ')} |`);
    }
  }
  return out;
}

/** ` (signed by alice: allowed)` when the change's commit was judged (audit --since in git); else nothing. */
function signedNote(c: Change): string {
  if (c.verdict === undefined) return '';
  return ` (${c.signer !== undefined ? `signed by ${c.signer}` : 'no accepted signature'}: ${c.verdict})`;
}
