/**
 * Records core/v1 Events through the API, as client-go's record.EventRecorder does for Kubernetes components:
 * - an Event lives in the involved object's namespace (`default` for cluster-scoped objects) and is named
 *   `<object name>.<hex nanosecond timestamp>`;
 * - it carries involvedObject (kind, namespace, name, uid, apiVersion, resourceVersion), reason, message, type,
 *   source.component/host, first/lastTimestamp and count;
 * - a repeat of the same (object, type, reason, message, source) within 10 minutes PATCHes the existing Event's
 *   count and lastTimestamp instead of creating another (the correlator's EventLogger; the "similar events" message
 *   combining and the per-object spam filter of client-go's correlator are left out);
 * - recording never throws into the caller and never blocks it: writes run in the background, in order per
 *   Event, and a failure is logged once (until a write succeeds again).
 */
import type { KubeObject } from '../api/object.js';
import { isNotFound } from '../api/status.js';
import { rfc3339 } from '../api/time.js';
import { Events } from './resources.js';
import { realClock, type Client, type Clock, type EventRecorder } from './types.js';
import { createLogger } from '../log/logger.js';

const log = createLogger('event-recorder');

export interface ApiEventRecorderOptions {
  /** source.host (the node or server name); empty when not given. */
  host?: string;
  clock?: Clock;
  log?: (line: string) => void;
}

/** client-go's correlator keeps 4096 entries and aggregates repeats seen within 10 minutes. */
const CACHE_SIZE = 4096;
const AGGREGATE_WINDOW_MS = 10 * 60_000;

interface Seen {
  namespace: string;
  name: string;
  count: number;
  lastSeenMs: number;
}

export class ApiEventRecorder implements EventRecorder {
  private readonly clock: Clock;
  private readonly host: string;
  private readonly log: (line: string) => void;
  private readonly seen = new Map<string, Seen>();
  /** Per-aggregation-key write chains, so a repeat is written after the Event it updates exists. */
  private readonly chains = new Map<string, Promise<void>>();
  private lastFailure = '';
  private uniq = 0n;

  constructor(
    private readonly client: Client,
    private readonly component: string,
    opts: ApiEventRecorderOptions = {},
  ) {
    this.clock = opts.clock ?? realClock;
    this.host = opts.host ?? '';
    this.log = opts.log ?? ((l) => log.warn(l));
  }

  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const meta = obj.metadata ?? {};
    const involved = {
      kind: obj.kind,
      namespace: meta.namespace || undefined,
      name: meta.name,
      uid: meta.uid,
      apiVersion: obj.apiVersion,
      resourceVersion: meta.resourceVersion,
    };
    const key = JSON.stringify([involved.kind, involved.namespace ?? '', involved.name, involved.uid ?? '', type, reason, message, this.component, this.host]);
    const now = this.clock.now();
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.write(key, now, involved, type, reason, message));
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  /** Resolves when every Event recorded so far has been written (or has failed). For tests and shutdown. */
  async flush(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  private async write(key: string, now: Date, involved: Record<string, string | undefined>, type: string, reason: string, message: string): Promise<void> {
    const nowMs = now.getTime();
    const seen = this.seen.get(key);
    try {
      if (seen && nowMs - seen.lastSeenMs < AGGREGATE_WINDOW_MS) {
        try {
          await this.client.patch(Events, seen.namespace, seen.name, 'merge', { count: seen.count + 1, lastTimestamp: rfc3339(now) });
          seen.count++;
          seen.lastSeenMs = nowMs;
          this.touch(key, seen);
          this.succeeded();
          return;
        } catch (err) {
          // The Event was deleted (TTL, or by hand): start a new one, as client-go does on a failed patch.
          if (!isNotFound(err)) throw err;
        }
      }
      const namespace = involved.namespace || 'default';
      const name = `${involved.name}.${this.nanoHex(nowMs)}`;
      const ts = rfc3339(now);
      await this.client.create(Events, namespace, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: Object.fromEntries(Object.entries(involved).filter(([, v]) => v !== undefined)),
        reason,
        message,
        type,
        source: { component: this.component, ...(this.host ? { host: this.host } : {}) },
        firstTimestamp: ts,
        lastTimestamp: ts,
        count: 1,
        reportingComponent: this.component,
        reportingInstance: this.host,
      });
      this.touch(key, { namespace, name, count: 1, lastSeenMs: nowMs });
      this.succeeded();
    } catch (err) {
      const what = `${(err as Error).message}`;
      if (what === this.lastFailure) return;
      this.lastFailure = what;
      this.log(`event recorder ${this.component}: cannot record ${type} ${reason} for ${involved.kind} ${involved.namespace ? `${involved.namespace}/` : ''}${involved.name}: ${what}`);
    }
  }

  /** Unix nanoseconds in hex, unique per recorder even within one millisecond (client-go: `%x` of UnixNano). */
  private nanoHex(ms: number): string {
    this.uniq = (this.uniq + 1n) % 1_000_000n;
    return (BigInt(ms) * 1_000_000n + this.uniq).toString(16);
  }

  private touch(key: string, seen: Seen): void {
    this.seen.delete(key);
    this.seen.set(key, seen);
    if (this.seen.size > CACHE_SIZE) this.seen.delete(this.seen.keys().next().value as string);
  }

  private succeeded(): void {
    this.lastFailure = '';
  }
}
