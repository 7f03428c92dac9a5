/**
 * Whether the datastore can serve: the `etcd` check of /readyz (kube-apiserver's name for it, whatever the backend).
 *
 * - A probe reads one key with a short deadline (kube-apiserver's --etcd-healthcheck-timeout, 2 s), periodically, so
 *   /readyz answers synchronously from the cached result. A stopped etcd fails the read; a frozen one (SIGSTOP) never
 *   answers, which the deadline turns into a failure. A probe still pending is not started again.
 * - Reads succeed on a full disk, so writes are watched too (`observe`): a write refused with StoreFullError marks the
 *   datastore full until a write succeeds or a probe sees free space again (`freeBytes`, for file-based backends).
 */
import type { Store } from '../storage/store.js';
import { StoreFullError } from '../storage/store.js';

export interface DatastoreHealthOptions {
  /** Time between probes; default 5 s. */
  intervalMs?: number;
  /** A probe slower than this fails; default 2 s. */
  timeoutMs?: number;
  /** Free bytes where the datastore writes, if known (SQLite: the file system of the database file). */
  freeBytes?: () => Promise<number | undefined>;
  /** Free bytes at which a full datastore counts as writable again; default 1 MiB. */
  minFreeBytes?: number;
}

/** The key the probe reads; it need not exist (etcd's own check reads the key "health"). */
const PROBE_KEY = '/registry/health';

export class DatastoreHealth {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly minFreeBytes: number;
  private probeFailure: string | undefined = 'not yet probed';
  private fullFailure: string | undefined;
  private pending: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: Store, private readonly opts: DatastoreHealthOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 5000;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.minFreeBytes = opts.minFreeBytes ?? 1 << 20;
  }

  /** The cached verdict; `reason` says what failed (for logs; /readyz withholds it). */
  get status(): { ok: boolean; reason?: string } {
    const reason = this.fullFailure ?? this.probeFailure;
    return reason === undefined ? { ok: true } : { ok: false, reason };
  }

  /** Probes now and then every intervalMs until stop(). */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      void this.probe().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One probe (joins the pending one, if any); resolves when the verdict is updated. */
  probe(): Promise<void> {
    this.pending ??= this.runProbe().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async runProbe(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    const read = this.store.get(PROBE_KEY);
    // A read that answers after the deadline must not become an unhandled rejection.
    read.catch(() => {});
    try {
      await Promise.race([read, deadline]);
      this.probeFailure = undefined;
    } catch (err) {
      this.probeFailure = `datastore read failed: ${(err as Error).message}`;
    } finally {
      clearTimeout(timer);
    }
    if (this.fullFailure !== undefined && this.opts.freeBytes) {
      const free = await this.opts.freeBytes().catch(() => undefined);
      if (free !== undefined && free >= this.minFreeBytes) this.fullFailure = undefined;
    }
  }

  /** Records the outcome of a write: StoreFullError marks the datastore full, any success clears it. */
  noteWrite(err: unknown): void {
    if (err === undefined) this.fullFailure = undefined;
    else if (err instanceof StoreFullError) this.fullFailure = err.message;
  }

  /** `store` with its writes reported to noteWrite; everything else passes through unchanged. */
  observe(store: Store): Store {
    const track = <T>(p: Promise<T>): Promise<T> =>
      p.then(
        (v) => {
          this.noteWrite(undefined);
          return v;
        },
        (err: unknown) => {
          this.noteWrite(err);
          throw err;
        },
      );
    return {
      currentRevision: () => store.currentRevision(),
      get: (key, o) => store.get(key, o),
      list: (prefix, o) => store.list(prefix, o),
      count: (prefix) => store.count(prefix),
      create: (key, value) => track(store.create(key, value)),
      update: (key, value, rev) => track(store.update(key, value, rev)),
      delete: (key, rev) => track(store.delete(key, rev)),
      watch: (prefix, o) => store.watch(prefix, o),
      compact: (rev) => store.compact(rev),
      compactRevision: () => store.compactRevision(),
      close: () => store.close(),
    };
  }
}
