/**
 * Dates in the registry that record something done (a key or device added, a token rotated, a member
 * departed) cannot lie after today: `added: 2099-05-10` would keep a key from ever being old, a future
 * `rotated_at` keeps a token from ever being due. Judged against the day the caller passes (the context's
 * clock for `check`, `--as-of` for `audit`), never the machine's clock.
 */
import type { Problem } from '../lib/errors.js';
import type { Member } from './types.js';
import type { Located, Path } from './validate.js';
import { fieldName } from './validate.js';

export function futureDateProblems(members: readonly Member[], located: Located, today: string): Problem[] {
  const problems: Problem[] = [];
  const check = (m: Member, path: Path, date: string | undefined, what: string) => {
    // YYYY-MM-DD strings compare as dates
    if (date === undefined || date <= today) return;
    problems.push({
      file: located.memberFile(m.handle),
      line: located.memberLine(m.handle, path),
      field: fieldName(path),
      message: `${date} is after today (${today}): ${what}; write the real date`,
    });
  };
  for (const m of members) {
    m.ssh_keys.forEach((k, i) => check(m, ['ssh_keys', i, 'added'], k.added, 'a key added in the future is never old'));
    m.vpn_peers.forEach((p, i) => check(m, ['vpn_peers', i, 'added'], p.added, 'a device added in the future is never idle'));
    m.tokens.forEach((t, i) => {
      check(m, ['tokens', i, 'rotated_at'], t.rotated_at, 'a token rotated in the future is never due');
      check(m, ['tokens', i, 'pending', 'started_at'], t.pending?.started_at, 'a rotation cannot have started yet');
    });
    check(m, ['departed'], m.departed, 'a departure is recorded when it happens');
  }
  return problems;
}
