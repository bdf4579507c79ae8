/**
 * The audit's two pictures in Mermaid, which GitHub and HackMD draw from a ```mermaid block (docs/reference.md,
 * "infra audit", "Markdown"): a gantt of what falls due within the horizon, and a flowchart of which member
 * groups reach which hosts. Pure text.
 *
 * Every name is member-controlled and so hostile: it goes into a diagram only through mermaidText, which
 * writes every character outside a small safe set as a Mermaid entity code (`#35;` for `#`), so no name can
 * end a label, start a statement (`click`, `%%{init}%%`), a comment or a new line; node ids are infra's own.
 */
import type { DueItem } from './audit-due.js';
import { DUE_SECTIONS } from './audit-due.js';
import { inert, truncate } from './audit-format.js';
import type { ReachEdge } from './audit-reach.js';
import { addDays } from './dates.js';
import type { IsoDate } from './types.js';

/** Longest label, in columns (names of thousands of characters would make a diagram nobody can read). */
const MAX_LABEL = 60;
// Inside a quoted flowchart label `,` `:` `(` `)` are text; a gantt task's title ends at `:`.
const LABEL_SAFE_RE = /^[A-Za-z0-9 ./_,:()-]$/;
const TASK_SAFE_RE = /^[A-Za-z0-9 ./_,()-]$/;
const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** `text` as Mermaid label text (`task`: a gantt task's title): one line, at most `max` columns, every other character an entity code. */
export function mermaidText(text: string, max = MAX_LABEL, task = false): string {
  const safe = task ? TASK_SAFE_RE : LABEL_SAFE_RE;
  let out = '';
  for (const ch of truncate(inert(text), max)) out += safe.test(ch) ? ch : `#${ch.codePointAt(0)};`;
  return out.trim() === '' ? '#160;' : out;
}

/**
 * A gantt of `items`: each a bar from the audit day to the day it falls due (marked `crit` from the audit day
 * when already due), in a section per kind. The today marker is off: the chart is of `asOf`, not of the day
 * it is viewed. Undefined when nothing falls due.
 */
export function dueGantt(items: readonly DueItem[], asOf: IsoDate, horizonDays: number): string | undefined {
  if (!items.length || !ISO_DATE_RE.test(asOf)) return undefined;
  const lines = ['gantt', `  title Due by ${addDays(asOf, horizonDays)} (from ${asOf})`, '  dateFormat YYYY-MM-DD', '  axisFormat %m-%d', '  todayMarker off'];
  for (const section of DUE_SECTIONS) {
    const mine = items.filter((i) => i.section === section && ISO_DATE_RE.test(i.date));
    if (!mine.length) continue;
    lines.push(`  section ${section}`);
    for (const i of mine) {
      const label = mermaidText(i.overdue ? `${i.subject} due ${i.date}` : i.subject, MAX_LABEL, true);
      lines.push(i.overdue || i.date <= asOf ? `    ${label} :crit, ${asOf}, 1d` : `    ${label} :${asOf}, ${i.date}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The hosts a grant selects, for its node: the pattern, then as many host names as fit. */
function hostsLabel(edge: ReachEdge): string {
  if (!edge.matched.length) return `${edge.hosts}: no host`;
  const names = edge.matched.slice(0, 4).join(', ');
  return `${edge.hosts}: ${plural(edge.matched.length, 'host')} (${names}${edge.matched.length > 4 ? ', …' : ''})`;
}

/**
 * A flowchart: member groups on the left, each environment a subgraph of the host sets its grants select,
 * an edge per group and grant labelled with the remote user (and "VPN only"). Undefined without grants.
 */
export function reachFlowchart(edges: readonly ReachEdge[]): string | undefined {
  if (!edges.length) return undefined;
  const lines = ['flowchart LR'];
  const groups = [...new Set(edges.flatMap((e) => e.groups))].sort();
  const groupId = new Map(groups.map((g, i) => [g, `g${i}`]));
  for (const g of groups) lines.push(`  ${groupId.get(g)}["${mermaidText(g)}"]`);
  const environments = [...new Set(edges.map((e) => e.environment))];
  const hostId = new Map<string, string>(); // environment \0 pattern -> node id
  environments.forEach((env, e) => {
    lines.push(`  subgraph e${e}["${mermaidText(env)}"]`);
    for (const edge of edges.filter((x) => x.environment === env)) {
      const key = `${env}\0${edge.hosts}`;
      if (hostId.has(key)) continue;
      hostId.set(key, `e${e}h${hostId.size}`);
      lines.push(`    ${hostId.get(key)}["${mermaidText(hostsLabel(edge), 100)}"]`);
    }
    lines.push('  end');
  });
  for (const edge of edges)
    for (const g of edge.groups) lines.push(`  ${groupId.get(g)} -->|"${mermaidText(`${edge.user}${edge.vpn_only ? ' (VPN only)' : ''}`)}"| ${hostId.get(`${edge.environment}\0${edge.hosts}`)}`);
  return `${lines.join('\n')}\n`;
}
