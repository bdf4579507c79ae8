/**
 * Name-keyed collections that never reach Object.prototype: a user, group, host, environment or network
 * named `constructor`, `__proto__`, `toString` or `hasOwnProperty` is a name like any other.
 */

/** An empty object with no prototype, for data keyed by names that come from files. */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** `record[key]` when `key` is the record's own entry; never an inherited property. */
export function ownValue<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Whether `key` is one of the record's own entries (what `key in record` gets wrong for `toString`). */
export function hasOwnName(record: Readonly<Record<string, unknown>> | undefined, key: string): boolean {
  return record !== undefined && Object.hasOwn(record, key);
}

/** A null-prototype copy of a name-keyed record (e.g. one a caller built as a plain literal). */
export function dictOf<T>(entries: Iterable<readonly [string, T]>): Record<string, T> {
  const out = dict<T>();
  for (const [k, v] of entries) out[k] = v;
  return out;
}
