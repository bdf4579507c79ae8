/**
 * The audit report in its three forms (docs/reference.md, "infra audit"): a table for a terminal of a given width, markdown for
 * the meeting notes (HackMD, GitHub), and JSON for scripts. Pure: the width and the data come in.
 *
 * Member-written text (handles, names, host names, problem messages that quote a file) is untrusted in
 * all three: control characters, line breaks and invisible format characters (bidi overrides, zero-width
 * characters) are shown as `\uXXXX` in text, and JSON text escapes them, so nothing reaches a terminal
 * as an escape sequence or reorders what is shown; markdown (audit-markdown.ts) puts what markdown would act
 * on in code spans.
 */
import { summarize, SEVERITIES, type AccessMatrixRow, type Finding, type Severity } from './audit.js';
import type { DueItem } from './audit-due.js';
import type { ReachEdge } from './audit-reach.js';
import type { Change } from './changes.js';

// Markdown has its own file; what used it from here still finds it here.
export { auditMarkdown, markdownText } from './audit-markdown.js';

export interface AuditReport {
  as_of: string;
  findings: readonly Finding[];
  access: readonly AccessMatrixRow[];
  /** With --since: what changed, oldest first. */
  changes?: readonly Change[];
  /** What --since was given (a date or a git ref), for the heading of the changes. */
  since?: string;
  /** What falls due within the horizon (Markdown's gantt). */
  due?: readonly DueItem[];
  /** policy.audit.horizon_days, for the gantt's heading. */
  horizon_days?: number;
  /** Which member groups reach which hosts (Markdown's flowchart). */
  reach?: readonly ReachEdge[];
}

// ------------------------------------------------------------------ inert text

// C0/C1 controls and DEL, format characters (bidi embeddings, overrides and isolates, zero-width
// characters, soft hyphen, BOM), line and paragraph separators, lone surrogates.
const UNSAFE_RE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

const codePointEscape = (ch: string) => {
  const cp = ch.codePointAt(0)!;
  return cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\u{${cp.toString(16)}}`;
};

/** One line of visible text: every unsafe character written as `\uXXXX` (newline and tab too). */
export function inert(text: string): string {
  return text.replace(UNSAFE_RE, codePointEscape);
}

/** Columns a string takes in a terminal: wide East Asian characters and most emoji take two, combining marks none. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += charWidth(ch);
  return width;
}

function charWidth(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if (/\p{Mn}|\p{Me}/u.test(ch)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

/** At most `width` columns; a cut string ends with `…`. Never splits an escape written by `inert`. */
export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return '';
  let out = '';
  let used = 0;
  for (const ch of text) {
    const w = charWidth(ch);
    if (used + w > width - 1) break;
    out += ch;
    used += w;
  }
  return `${out.replace(/\\u\{?[0-9a-f]{0,5}$/, '')}…`;
}

/** Words wrapped to `width` columns; a word longer than a line is cut into pieces, after a `/` or `,` where it has one. */
export function wrapText(text: string, width: number): string[] {
  const w = Math.max(1, width);
  const lines: string[] = [];
  let line = '';
  const push = () => {
    lines.push(line);
    line = '';
  };
  for (const word of text.split(' ').filter((x) => x !== '')) {
    let rest = word;
    if (line && displayWidth(line) + 1 + displayWidth(rest) > w) push();
    while (displayWidth(rest) > w) {
      if (line) push();
      let piece = '';
      let used = 0;
      for (const ch of rest) {
        const cw = charWidth(ch);
        if (used + cw > w) break;
        piece += ch;
        used += cw;
      }
      if (piece === '') piece = [...rest][0];
      // a path breaks after a `/` (or a list after `,`), not in the middle of a name
      const boundary = Math.max(piece.lastIndexOf('/'), piece.lastIndexOf(','));
      if (boundary > 0 && boundary < piece.length - 1) piece = piece.slice(0, boundary + 1);
      lines.push(piece);
      rest = rest.slice(piece.length);
    }
    if (rest) line = line ? `${line} ${rest}` : rest;
  }
  if (line || lines.length === 0) push();
  return lines;
}

const pad = (text: string, width: number) => text + ' '.repeat(Math.max(0, width - displayWidth(text)));

export function summaryLine(findings: readonly Finding[]): string {
  const s = summarize(findings);
  return SEVERITIES.map((sev) => `${s[sev]} ${sev}`).join(', ');
}

// ------------------------------------------------------------------ JSON

export interface AuditJson {
  as_of: string;
  findings: Finding[];
  access: Array<{ environment: string; host: string; user: string; members: string[]; vpn_only: boolean; vpn_only_members: string[]; grants: string[] }>;
  changes: Change[];
  summary: Record<Severity, number>;
}

/** The JSON object of docs/reference.md, "infra audit" (findings in the order given: sortFindings' order). */
export function auditJson(report: AuditReport): AuditJson {
  return {
    as_of: report.as_of,
    findings: report.findings.map((f) => ({ code: f.code, severity: f.severity, subject: f.subject, detail: f.detail, fix: f.fix })),
    access: report.access.map((r) => ({ environment: r.environment, host: r.host, user: r.user, members: [...r.members], vpn_only: r.vpn_only, vpn_only_members: [...r.vpn_only_members], grants: [...r.grants] })),
    changes: (report.changes ?? []).map((c) => ({ ...c })),
    summary: summarize(report.findings),
  };
}

/**
 * The JSON as text: the same data, with every non-ASCII character and control written as a \u escape,
 * so that printing it to a terminal shows it as it is.
 */
export function auditJsonText(report: AuditReport, indent = 2): string {
  return `${JSON.stringify(auditJson(report), null, indent).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}

// ------------------------------------------------------------------ table (terminal)

/**
 * For a terminal `width` columns wide (at least 20 are assumed): each finding is one line of severity,
 * code and subject (cut with … when it would not fit), then its detail and fix wrapped beneath it,
 * so that the exact fix is never cut off.
 */
export function auditTable(report: AuditReport, width: number): string {
  const w = Math.max(20, Math.floor(width));
  const out: string[] = [];
  const line = (text: string) => out.push(truncate(text, w));
  line(`infra audit, ${inert(report.as_of)}: ${summaryLine(report.findings)}`);

  if (report.findings.length) {
    out.push('');
    const codeWidth = Math.max(...report.findings.map((f) => displayWidth(inert(f.code))));
    // Detail and fix line up under the subject, unless a code (a string from data) would push them past half the width.
    const indent = w >= 60 && 8 + codeWidth + 2 <= w / 2 ? 8 + codeWidth + 2 : 4;
    for (const f of report.findings) {
      const head = `${pad(f.severity.toUpperCase(), 6)}  ${pad(inert(f.code), codeWidth)}  ${inert(f.subject)}`;
      line(head);
      const prefix = ' '.repeat(indent);
      for (const l of wrapText(inert(f.detail), w - indent)) out.push(prefix + l);
      const fixLines = wrapText(`fix: ${inert(f.fix)}`, w - indent);
      for (const l of fixLines) out.push(prefix + l);
    }
  } else out.push('', 'no findings');

  if (report.changes !== undefined) {
    out.push('', truncate(`Changes since ${inert(report.since ?? '')}`.trimEnd(), w));
    if (!report.changes.length) out.push('  none');
    for (const c of report.changes) line(`  ${inert(c.date)}  ${inert(c.commit)}  ${pad(inert(c.kind), 17)}  ${inert(c.subject)}${c.detail ? `: ${inert(c.detail)}` : ''}${signedNote(c)}`);
  }

  if (report.access.length) {
    out.push('', 'Access (* = only from the VPN)');
    const hostCells = report.access.map((r) => inert(`${r.environment}/${r.host}`));
    const userCells = report.access.map((r) => inert(r.user));
    const hostWidth = Math.min(Math.max(4, ...hostCells.map(displayWidth)), Math.max(8, Math.floor(w * 0.35)));
    const userWidth = Math.min(Math.max(4, ...userCells.map(displayWidth)), Math.max(6, Math.floor(w * 0.2)));
    const membersWidth = Math.max(4, w - hostWidth - userWidth - 4);
    out.push(truncate(`${pad('HOST', hostWidth)}  ${pad('USER', userWidth)}  MEMBERS`, w));
    report.access.forEach((r, i) => {
      const vpn = new Set(r.vpn_only_members);
      const members = r.members.length ? r.members.map((m) => `${inert(m)}${vpn.has(m) ? '*' : ''}`) : ['(nobody)'];
      out.push(`${pad(truncate(hostCells[i], hostWidth), hostWidth)}  ${pad(truncate(userCells[i], userWidth), userWidth)}  ${fitList(members, membersWidth)}`.trimEnd());
    });
  }
  return `${out.join('\n')}\n`;
}

/** `a, b, c` cut to `width` columns as `a, b, +3 more` (whole names, never half of one). */
function fitList(items: readonly string[], width: number): string {
  // Grows from the front, so a list of thousands costs what fits on the line.
  let shown = '';
  let used = 0;
  for (let n = 0; n < items.length; n++) {
    const next = (n ? 2 : 0) + displayWidth(items[n]);
    const last = n === items.length - 1;
    const moreAfter = last ? 0 : `, +${items.length - n - 1} more`.length;
    if (used + next + moreAfter > width) {
      if (n === 0) break;
      return `${shown}, +${items.length - n} more`;
    }
    shown += `${n ? ', ' : ''}${items[n]}`;
    used += next;
  }
  return shown && displayWidth(shown) <= width ? shown : truncate(`${items.length} members`, width);
}

/** ` [signed by alice: allowed]` when the change's commit was judged (audit --since in git); else nothing. */
function signedNote(c: Change): string {
  if (c.verdict === undefined) return '';
  return ` [${c.signer !== undefined ? `signed by ${inert(c.signer)}` : 'no accepted signature'}: ${c.verdict}]`;
}
