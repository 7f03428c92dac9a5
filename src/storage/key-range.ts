/**
 * Helpers for the key space: keys are compared in ascending byte order (SQLite's BINARY collation on UTF-8),
 * and a prefix is the half-open range [prefix, prefixEnd(prefix)).
 */

/**
 * The smallest string greater than every string that starts with prefix, or undefined when the range is
 * unbounded (empty prefix). Incrementing the last UTF-16 code unit gives the byte-order successor for every
 * BMP character, which covers Kubernetes keys (ASCII names).
 */
export function prefixEnd(prefix: string): string | undefined {
  let end = prefix;
  while (end.length > 0) {
    const last = end.charCodeAt(end.length - 1);
    if (last < 0xffff) return end.slice(0, -1) + String.fromCharCode(last + 1);
    end = end.slice(0, -1);
  }
  return undefined;
}

/** Index of the first element of the sorted array that is >= key. */
export function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
