/**
 * The controller work queue, with client-go's semantics (k8s.io/client-go/util/workqueue):
 * - a key added while already queued is queued once (the `dirty` set);
 * - a key being processed (handed out by get(), not yet done()) is never handed to a second worker; if it is added
 *   meanwhile it is queued again when done() is called (the `processing` set);
 * - addAfter keeps, per key, only the earliest pending time (the delaying queue);
 * - addRateLimited waits baseDelay * 2^failures, capped at maxDelay, per key, until forget() (the
 *   ItemExponentialFailureRateLimiter; client-go's default controller limiter also has an overall 10 qps token
 *   bucket, which this queue leaves out);
 * - after shutDown() adds are ignored, get() still hands out what is queued, then resolves undefined.
 */
import { instrumentationEnabled } from '../observability/registries.js';
import { WorkqueueMetrics } from '../observability/workqueue-metrics.js';
import { realClock, type Clock, type WorkQueue } from './types.js';

export interface WorkQueueOptions {
  clock?: Clock;
  /** First retry delay of addRateLimited (client-go: 5 ms). */
  baseDelayMs?: number;
  /** Retry delay cap (client-go: 1000 s). */
  maxDelayMs?: number;
}

export function createWorkQueue(opts: WorkQueueOptions = {}): RateLimitingQueue {
  return new RateLimitingQueue(opts);
}

export class RateLimitingQueue implements WorkQueue {
  private readonly clock: Clock;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  /** FIFO of keys ready to be handed out; a key appears at most once. */
  private queue: string[] = [];
  private head = 0;
  /** Keys that need processing: queued, or re-added while processing. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, { due: number; timer: { cancel(): void } }>();
  private readonly failures = new Map<string, number>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private metrics: WorkqueueMetrics | undefined;

  constructor(opts: WorkQueueOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.baseDelayMs = opts.baseDelayMs ?? 5;
    this.maxDelayMs = opts.maxDelayMs ?? 1_000_000;
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.metrics?.add(key);
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.dispatch();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const due = this.clock.now().getTime() + delayMs;
    const pending = this.waiting.get(key);
    if (pending) {
      if (pending.due <= due) return;
      pending.timer.cancel();
    }
    const timer = this.clock.setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, delayMs);
    this.waiting.set(key, { due, timer });
  }

  addRateLimited(key: string): void {
    this.metrics?.retry();
    this.addAfter(key, this.nextDelay(key));
  }

  /** The delay addRateLimited would use next, and counts the failure. */
  private nextDelay(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2^n overflows to Infinity long before n gets large; the cap applies either way.
    return Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How many times addRateLimited was called for key since the last forget (client-go NumRequeues). */
  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  get(): Promise<string | undefined> {
    if (this.length > 0) return Promise.resolve(this.take());
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  done(key: string): void {
    this.metrics?.done(key);
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.dispatch();
    }
  }

  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.metrics?.shutDown();
    for (const { timer } of this.waiting.values()) timer.cancel();
    this.waiting.clear();
    // Getters wait only while the queue is empty, so there is nothing left for them to drain.
    for (const resolve of this.getters.splice(0)) resolve(undefined);
  }

  /** client-go's queue metrics (../observability/workqueue-metrics.ts); keys waiting already count as added now. */
  instrument(name: string): void {
    if (!instrumentationEnabled || this.metrics) return;
    this.metrics = new WorkqueueMetrics(name);
    for (const key of this.dirty) this.metrics.add(key);
  }

  private take(): string {
    const key = this.queue[this.head++];
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.processing.add(key);
    this.dirty.delete(key);
    this.metrics?.get(key);
    return key;
  }

  private dispatch(): void {
    while (this.getters.length > 0 && this.length > 0) this.getters.shift()!(this.take());
  }
}
