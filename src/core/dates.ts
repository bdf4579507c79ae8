/** Calendar dates as YYYY-MM-DD strings; the clock is always passed in. */
const DAY = 86_400_000;
const toUtc = (d: string) => Date.parse(`${d}T00:00:00Z`);
/** The dates a YYYY-MM-DD string can name: arithmetic past them stops there instead of failing. */
export const FIRST_DATE = '0000-01-01';
export const LAST_DATE = '9999-12-31';
const FIRST_MS = toUtc(FIRST_DATE);
const LAST_MS = toUtc(LAST_DATE);

/** Whole days from `from` to `to`; NaN when either is not a date (callers compare, and NaN compares false). */
export function daysBetween(from: string, to: string): number {
  return Math.round((toUtc(to) - toUtc(from)) / DAY);
}

/**
 * `date` moved by `days`, kept within FIRST_DATE..LAST_DATE: a rotation every 100,000,000 days is due on
 * 9999-12-31, not a crash. A `date` that is not one comes back as it is (validation reports it).
 */
export function addDays(date: string, days: number): string {
  const base = toUtc(date);
  if (Number.isNaN(base) || Number.isNaN(days)) return date;
  const ms = Math.min(LAST_MS, Math.max(FIRST_MS, base + days * DAY));
  return new Date(ms).toISOString().slice(0, 10);
}

/** The UTC date of an instant in epoch seconds (a WireGuard handshake), or undefined when no date names it. */
export function dateOfEpochSeconds(seconds: number): string | undefined {
  const ms = seconds * 1000;
  if (!Number.isFinite(ms) || ms < FIRST_MS || ms >= LAST_MS + DAY) return undefined;
  return new Date(ms).toISOString().slice(0, 10);
}

/** The local calendar date of an instant (a co-op's "today", not UTC's). */
export function localDate(now: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}
