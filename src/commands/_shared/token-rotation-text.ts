/** What `tokens rotate` prints for people (not under --json): one function per kind of result, lines out. */
import { shellQuote } from '../../lib/shell-quote.js';
import type { RotateDueResult, RotateTokenResult } from '../../services/tokens.js';
import type { AbortRotationResult } from '../../services/token-rotation.js';

export function abortLines(r: AbortRotationResult): string[] {
  const lines = [`gave up the rotation of ${r.token}: ${r.discarded} destroyed`];
  if (r.consumers_updated.length) lines.push(`already updated (they hold a value that will not be kept): ${r.consumers_updated.join(', ')}`);
  lines.push(`start a fresh rotation: infra tokens rotate ${shellQuote(r.token)}`);
  return lines;
}

export function rotatedLines(r: RotateTokenResult): string[] {
  if (r.dry_run && r.blocked_by?.length) return [`would NOT rotate ${r.token}: a real run would stop at`, ...r.blocked_by.map((b) => `  ${b.message}${b.hint ? ` -> ${b.hint}` : ''}`)];
  if (r.dry_run) return [`would rotate ${r.token}:`, ...r.steps!.map((s) => `  ${s}`)];
  const lines = [`rotated ${r.token} on ${r.rotated_at} by ${r.rotated_by}: ${r.updated.length} consumer(s) updated${r.already_done.length ? `, ${r.already_done.length} already done` : ''}`];
  if (r.expires_at) lines.push(`the new token expires on ${r.expires_at}`);
  if (r.old_token_logged_out !== undefined) lines.push(r.old_token_logged_out ? 'the old access token is logged out' : 'the old access token could NOT be logged out: end its session in a Matrix client');
  if (r.revoke_url) lines.push(`Now revoke the old token, signed in as the bot: ${r.revoke_url}`);
  return lines;
}

export function dueLines(r: RotateDueResult): string[] {
  const lines: string[] = [];
  for (const t of r.rotated)
    lines.push(t.blocked_by?.length ? `would NOT rotate ${t.token}: ${t.blocked_by.map((b) => `${b.message}${b.hint ? ` -> ${b.hint}` : ''}`).join('; ')}` : `${r.dry_run ? 'would rotate' : 'rotated'} ${t.token}`);
  for (const p of r.need_person) lines.push(`needs a person: ${p.token} (${p.kind}${p.due ? `, due ${p.due}` : ''}): ${p.why} -> ${p.command}`);
  if (!r.rotated.length && !r.need_person.length) lines.push('no token is due');
  return lines;
}
