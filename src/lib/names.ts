/** Names near a mistyped one, for every "did you mean" (commands, members, hosts, groups). */

/**
 * Existing names nearest to `name`, for "did you mean": Levenshtein distance ignoring case, then with
 * case, then alphabetical.
 */
export function closestNames(name: string, candidates: Iterable<string>, max = 5): string[] {
  const lower = name.toLowerCase();
  const scored = [...new Set(candidates)].map((candidate) => ({
    candidate,
    distance: levenshtein(lower, candidate.toLowerCase()),
    exact: levenshtein(name, candidate),
  }));
  scored.sort(
    (a, b) => a.distance - b.distance || a.exact - b.exact || (a.candidate < b.candidate ? -1 : a.candidate > b.candidate ? 1 : 0),
  );
  return scored.slice(0, max).map((s) => s.candidate);
}

export function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
