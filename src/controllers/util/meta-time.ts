/** metav1.Time on the wire: RFC 3339 in UTC with whole seconds. */

/** Milliseconds since the epoch of a metav1.Time string; undefined for a missing or unparsable value. */
export function parseTime(value: string | undefined | null): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** metav1.Time as the API serializes it: RFC 3339 in UTC with whole seconds (the milliseconds are dropped). */
export function formatTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
