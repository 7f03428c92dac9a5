/**
 * Go's formatting of the two values kubelet puts into probe and hook messages, so skiff's events read like a
 * kubelet's: `%q` of a string (strconv.Quote) and `%v` of a time.Duration.
 */

/** strconv.Quote: double quotes, backslash escapes, \xNN for other control bytes. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    switch (ch) {
      case '"': out += '\\"'; break;
      case '\\': out += '\\\\'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\t': out += '\\t'; break;
      case '\b': out += '\\b'; break;
      case '\f': out += '\\f'; break;
      case '\v': out += '\\v'; break;
      case '\x07': out += '\\a'; break;
      default:
        if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
        else out += ch;
    }
  }
  return out + '"';
}

/** time.Duration.String() for a duration in milliseconds: `1s`, `1m30s`, `1h0m0s`, `500ms`, `0s`. */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  ms = Math.abs(ms);
  if (ms < 1000) return `${sign}${trimNumber(ms)}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  if (hours > 0) return `${sign}${hours}h${minutes}m${trimNumber(seconds)}s`;
  if (minutes > 0) return `${sign}${minutes}m${trimNumber(seconds)}s`;
  return `${sign}${trimNumber(seconds)}s`;
}

function trimNumber(n: number): string {
  return String(Number(n.toFixed(9)));
}

/** kubelet's format.Pod: `name_namespace(uid)`, the way hook messages name a pod. */
export function formatPod(pod: { metadata?: { name?: string; namespace?: string; uid?: string } }): string {
  const m = pod.metadata ?? {};
  return `${m.name ?? ''}_${m.namespace ?? ''}(${m.uid ?? ''})`;
}
