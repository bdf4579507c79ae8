/**
 * Crash tests stop a real infra process at a named point and SIGKILL it there: INFRA_TEST_PAUSE_AT=POINT
 * (or POINT#N for its N-th time) makes the process print `infra-test-paused-at POINT DETAIL` on stderr and wait
 * forever. Points: `locked` (lock held), `before-rename` (temporary file written and synced), `after-rename`.
 * This is the only place that reads the variable.
 */
const pauseCounts = new Map<string, number>();
export async function testPausePoint(point: string, detail: string): Promise<void> {
  const wanted = process.env.INFRA_TEST_PAUSE_AT;
  if (!wanted) return;
  const [name, nth = '1'] = wanted.split('#');
  if (name !== point) return;
  const seen = (pauseCounts.get(point) ?? 0) + 1;
  pauseCounts.set(point, seen);
  if (String(seen) !== nth) return;
  process.stderr.write(`infra-test-paused-at ${point} ${detail}\n`);
  await new Promise<never>(() => setInterval(() => undefined, 1 << 30));
}

