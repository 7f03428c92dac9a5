/**
 * Per-key exponential back-off with an injected clock (client-go's flowcontrol.Backoff, without jitter), as kubelet
 * uses it for CrashLoopBackOff (10 s doubling to 5 min) and ImagePullBackOff: `next(key, eventTime)` after each failure,
 * `isInBackOffSince(key, eventTime)` before retrying. An entry expires, and the delay starts again from the initial
 * value, once the event is more than twice the maximum after the entry's last update: a container that ran 10 minutes
 * crashes into a 10 s back-off again.
 */
import type { Clock } from '../../client/types.js';

interface Entry {
  backoffMs: number;
  lastUpdate: number;
}

export class Backoff {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    readonly initialMs = 10_000,
    readonly maxMs = 300_000,
  ) {}

  /** The current delay of the key (0 when it has none). */
  get(key: string): number {
    return this.entries.get(key)?.backoffMs ?? 0;
  }

  /** Records a failure at eventTime (ms): the first one, or the first after expiry, waits initialMs; each further one doubles. */
  next(key: string, eventTime: number): void {
    const entry = this.entries.get(key);
    if (!entry || this.hasExpired(eventTime, entry.lastUpdate)) {
      this.entries.set(key, { backoffMs: this.initialMs, lastUpdate: this.clock.now().getTime() });
      return;
    }
    entry.backoffMs = Math.min(entry.backoffMs * 2, this.maxMs);
    entry.lastUpdate = this.clock.now().getTime();
  }

  /** True while less than the key's delay has passed since eventTime (ms). */
  isInBackOffSince(key: string, eventTime: number): boolean {
    const entry = this.entries.get(key);
    if (!entry || this.hasExpired(eventTime, entry.lastUpdate)) return false;
    return this.clock.now().getTime() - eventTime < entry.backoffMs;
  }

  /** True while less than the key's delay has passed since its last failure (IsInBackOffSinceUpdate; image pulls). */
  isInBackOffSinceUpdate(key: string, eventTime: number): boolean {
    const entry = this.entries.get(key);
    if (!entry || this.hasExpired(eventTime, entry.lastUpdate)) return false;
    return eventTime - entry.lastUpdate < entry.backoffMs;
  }

  /** Milliseconds left of the key's back-off counted from its last failure (0 when none). */
  remainingSinceUpdateMs(key: string, eventTime: number): number {
    if (!this.isInBackOffSinceUpdate(key, eventTime)) return 0;
    const entry = this.entries.get(key)!;
    return entry.backoffMs - (eventTime - entry.lastUpdate);
  }

  /** Milliseconds left of the key's back-off counted from eventTime (0 when none). */
  remainingMs(key: string, eventTime: number): number {
    if (!this.isInBackOffSince(key, eventTime)) return 0;
    return this.entries.get(key)!.backoffMs - (this.clock.now().getTime() - eventTime);
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Drops every key that starts with prefix (a deleted pod's entries). */
  resetPrefix(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }

  /** Drops entries not updated within twice the maximum (flowcontrol.Backoff.GC). */
  gc(): void {
    const now = this.clock.now().getTime();
    for (const [k, e] of this.entries) if (now - e.lastUpdate > this.maxMs * 2) this.entries.delete(k);
  }

  private hasExpired(eventTime: number, lastUpdate: number): boolean {
    return eventTime - lastUpdate > this.maxMs * 2;
  }
}

/** Go's time.Duration.String() for whole milliseconds: `10s`, `1m20s`, `5m0s`, `500ms`, `0s`. */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const totalSeconds = ms / 1000;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = +(totalSeconds % 60).toFixed(3);
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
