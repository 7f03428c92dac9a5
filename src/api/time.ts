/**
 * Times on the wire (k8s.io/apimachinery/pkg/apis/meta/v1): metav1.Time is RFC 3339 in UTC with whole seconds
 * (creationTimestamp, condition transition times, ...); metav1.MicroTime is RFC 3339 with exactly six fractional
 * digits (Lease renewTime, events.k8s.io eventTime). Go truncates to the unit, so the sub-unit part is dropped,
 * never rounded. Every component formats times through here, so all of them write what kube-apiserver writes.
 */

/** metav1.Time: `2006-01-02T15:04:05Z`. Accepts a Date or milliseconds since the epoch. */
export function rfc3339(t: Date | number): string {
  // Every write stamps one or more times, nearly always within the same second: format each second once.
  const ms = typeof t === 'number' ? t : t.getTime();
  const second = Math.floor(ms / 1000);
  if (second === lastSecond) return lastText;
  const text = formatSeconds(t);
  lastSecond = second;
  lastText = text;
  return text;
}

let lastSecond = Number.NaN;
let lastText = '';

function formatSeconds(t: Date | number): string {
  const iso = isoString(t);
  // toISOString always ends in `.sssZ` (years 0-9999): cutting is cheaper than a regular expression on hot paths.
  return iso.length === 24 ? `${iso.slice(0, 19)}Z` : iso.replace(/\.\d{3}Z$/, 'Z');
}

/**
 * metav1.MicroTime (Go's RFC3339Micro): `2006-01-02T15:04:05.000000Z`. JavaScript clocks count milliseconds,
 * so the last three digits are always zero.
 */
export function rfc3339Micro(t: Date | number): string {
  return isoString(t).replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Milliseconds since the epoch of a metav1.Time or MicroTime string; undefined for a missing or unparsable value. */
export function parseTime(value: string | undefined | null): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function isoString(t: Date | number): string {
  const d = typeof t === 'number' ? new Date(t) : t;
  // toISOString throws a bare RangeError on an invalid date; name the value so the caller's bug is findable.
  if (Number.isNaN(d.getTime())) throw new RangeError(`cannot format an invalid time as RFC 3339: ${String(t)}`);
  return d.toISOString();
}
