/** Go's zero time, which Docker JSON carries for "never". */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** A time in ms since the epoch as Docker's RFC 3339 text (zero: Go's zero time). */
export function isoTime(ms: number): string {
  return ms > 0 ? new Date(Math.floor(ms)).toISOString() : ZERO_TIME;
}

/** A duration in ms as Docker's nanoseconds. */
export function ns(ms: number): number {
  return Math.round(ms * 1e6);
}

/** Docker's `{Index}` version object. */
export function dockerVersion(version: number): { Index: number } {
  return { Index: version };
}
