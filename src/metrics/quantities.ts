/** Wire forms metrics-server writes: Quantities in canonical form and Go durations (metav1.Duration). */

/** CPU in nanocores as metrics-server's uint64Quantity(n, DecimalSI, -9): `123456789n`, `0`. */
export function formatNanoCores(n: number): string {
  return n === 0 ? '0' : `${Math.floor(n)}n`;
}

/** Bytes as a BinarySI Quantity in canonical form: `1536Ki`, `64Mi`, `1000` (exact multiples of 1024 only). */
export function formatBytes(n: number): string {
  if (n === 0) return '0';
  const suffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
  let i = 0;
  while (i < suffixes.length - 1 && n % 1024 === 0) {
    n /= 1024;
    i++;
  }
  return `${n}${suffixes[i]}`;
}

/** A duration in ms as Go's time.Duration.String(): `15s`, `15.012s`, `1m0.5s`, `500ms`, `0s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${trim(ms)}ms`;
  let s = ms / 1000;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const sec = `${trim(Math.round(s * 1000) / 1000)}s`;
  if (h > 0) return `${h}h${m}m${sec}`;
  if (m > 0) return `${m}m${sec}`;
  return sec;
}

function trim(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}
