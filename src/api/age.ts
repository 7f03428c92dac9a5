/**
 * Ages as kubectl prints them (k8s.io/apimachinery/pkg/util/duration.HumanDuration): about two
 * significant figures, e.g. `45s`, `2m3s`, `10m`, `3h10m`, `20h`, `2d3h`, `5d`, `2y30d`, `9y`.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Go's int conversion truncates towards zero. */
function trunc(n: number): number {
  return Math.trunc(n);
}

/** Formats a duration in milliseconds. Up to 1s in the future counts as `0s` (clock skew); beyond is `<invalid>`. */
export function humanDuration(ms: number): string {
  const seconds = trunc(ms / SECOND);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = trunc(ms / MINUTE);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = trunc(ms / HOUR);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${trunc(hours / 24)}d` : `${trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = trunc(hours / 24) % 365;
    return dy === 0 ? `${trunc(hours / 24 / 365)}y` : `${trunc(hours / 24 / 365)}y${dy}d`;
  }
  return `${trunc(hours / 24 / 365)}y`;
}

/** The age of something that happened at `from`, seen at `now`. */
export function formatAge(from: Date, now: Date): string {
  return humanDuration(now.getTime() - from.getTime());
}

/**
 * The printers' translateTimestampSince: `<unknown>` for a missing or unparseable timestamp,
 * otherwise the age of the RFC 3339 time.
 */
export function ageOf(timestamp: string | Date | undefined | null, now: Date): string {
  if (!timestamp) return '<unknown>';
  const t = timestamp instanceof Date ? timestamp : new Date(timestamp);
  if (Number.isNaN(t.getTime())) return '<unknown>';
  return formatAge(t, now);
}
