import type { Watch, WatchEvent, WatchOptions } from './store.js';

/** One page of history read by a backend for a replaying watcher. */
export interface HistoryPage {
  /** Events under the prefix with revision > afterRevision, ascending, at most `limit` of them. */
  events: WatchEvent[];
  /** Every matching event with revision <= scannedTo is in `events` (or was delivered before). */
  scannedTo: number;
  /** True when scannedTo is the store's current revision: every later event will arrive through publish(). */
  done: boolean;
}

/**
 * Reads history synchronously, so no commit can land between the read and the moment the page is handed over.
 * Throws CompactedError when afterRevision + 1 is older than the compact revision.
 */
export type HistoryReader = (prefix: string, afterRevision: number, limit: number) => HistoryPage;

export interface WatchHubOptions {
  readHistory: HistoryReader;
  /** Events read per replay step; the event loop is yielded between steps so writes keep flowing. */
  pageSize?: number;
}

/**
 * Fan-out of committed events to watchers, shared by every in-process backend.
 *
 * A new watcher first replays history page by page, yielding the event loop between pages so writes keep
 * committing. Live events published meanwhile are ignored by it: they are in the history it has yet to read,
 * because each page is read synchronously and the last page reaches the current revision. From then on it takes
 * live events. Its cursor (the highest revision covered) drops anything at or below it, so replay-then-live has
 * no gap and no duplicate. Delivery is always asynchronous (a microtask after the event is queued), so callbacks
 * never run inside watch() or inside a backend's commit.
 *
 * Events are shared between watchers: receivers must treat them as read-only.
 */
export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  private readonly readHistory: HistoryReader;
  private readonly pageSize: number;

  constructor(opts: WatchHubOptions) {
    this.readHistory = opts.readHistory;
    this.pageSize = opts.pageSize ?? 1000;
  }

  /** Number of active watchers. */
  get size(): number {
    return this.watchers.size;
  }

  watch(prefix: string, opts: WatchOptions): Watch {
    const w = new Watcher(this, prefix, opts);
    this.watchers.add(w);
    setImmediate(() => this.replayStep(w));
    return { cancel: () => w.stop() };
  }

  /** Hands the events of one commit (ascending revisions) to every watcher. Call right after the commit. */
  publish(events: readonly WatchEvent[]): void {
    if (events.length === 0) return;
    for (const w of this.watchers) {
      let matched: WatchEvent[] | undefined;
      for (const ev of events) {
        if (ev.kv.key.startsWith(w.prefix)) (matched ??= []).push(ev);
      }
      if (matched) w.offer(matched);
    }
  }

  /** Ends every watch with err (e.g. the store is closing). */
  closeAll(err: Error): void {
    for (const w of [...this.watchers]) w.fail(err);
  }

  /** @internal */
  remove(w: Watcher): void {
    this.watchers.delete(w);
  }

  private replayStep(w: Watcher): void {
    if (w.state !== 'replaying') return;
    let page: HistoryPage;
    try {
      page = this.readHistory(w.prefix, w.cursor, this.pageSize);
    } catch (err) {
      w.fail(err as Error);
      return;
    }
    w.deliver(page.events, page.scannedTo);
    if (!page.done) {
      setImmediate(() => this.replayStep(w));
      return;
    }
    w.goLive();
  }
}

type WatcherState = 'replaying' | 'live' | 'stopped';

class Watcher {
  state: WatcherState = 'replaying';
  /** Highest revision covered: events at or below it are never delivered (again). */
  cursor: number;
  private pending: WatchEvent[] = [];
  private flushQueued = false;

  constructor(private readonly hub: WatchHub, readonly prefix: string, private readonly opts: WatchOptions) {
    this.cursor = opts.afterRevision;
  }

  /** A live commit's matching events. While replaying they are skipped: a later history page contains them. */
  offer(events: WatchEvent[]): void {
    if (this.state === 'live') this.deliver(events, events[events.length - 1].revision);
  }

  goLive(): void {
    if (this.state === 'replaying') this.state = 'live';
  }

  deliver(events: readonly WatchEvent[], coveredTo: number): void {
    if (this.state === 'stopped') return;
    for (const ev of events) {
      if (ev.revision > this.cursor) {
        this.pending.push(ev);
        this.cursor = ev.revision;
      }
    }
    if (coveredTo > this.cursor) this.cursor = coveredTo;
    if (this.pending.length > 0 && !this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.state === 'stopped' || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.opts.onEvents(batch);
    } catch (err) {
      // A receiver that throws has lost events it was handed; it must not silently carry on.
      this.fail(err as Error);
    }
  }

  fail(err: Error): void {
    if (this.state === 'stopped') return;
    this.stop();
    this.opts.onError(err);
  }

  stop(): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.pending = [];
    this.hub.remove(this);
  }
}
