/**
 * kube-proxy's BoundedFrequencyRunner (pkg/util/async): run() asks for a run; runs happen at most `burst` at once and
 * then at most one per `minIntervalMs` (a token bucket), never two at the same time, and at least every
 * `maxIntervalMs` (the periodic resync). Requests that arrive during a run coalesce into one more run after it.
 */
export interface BoundedFrequencyRunnerOptions {
  minIntervalMs: number;
  maxIntervalMs: number;
  burst: number;
  now?: () => number;
}

export class BoundedFrequencyRunner {
  private tokens: number;
  private lastRefill: number;
  private running = false;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly now: () => number;

  constructor(
    private readonly fn: () => Promise<void>,
    private readonly o: BoundedFrequencyRunnerOptions,
  ) {
    this.now = o.now ?? Date.now;
    this.tokens = o.burst;
    this.lastRefill = this.now();
  }

  /** Asks for a run as soon as the bounds allow. */
  run(): void {
    if (this.stopped) return;
    this.pending = true;
    this.schedule();
  }

  /** Starts the periodic resync. */
  start(): void {
    this.resetPeriodic();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.periodic);
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.o.burst, this.tokens + (now - this.lastRefill) / this.o.minIntervalMs);
    this.lastRefill = now;
  }

  private schedule(): void {
    if (this.running || this.timer || !this.pending || this.stopped) return;
    this.refill();
    if (this.tokens >= 1) {
      void this.go();
      return;
    }
    const waitMs = Math.ceil((1 - this.tokens) * this.o.minIntervalMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.schedule();
    }, waitMs);
    this.timer.unref?.();
  }

  private async go(): Promise<void> {
    this.tokens -= 1;
    this.pending = false;
    this.running = true;
    try {
      await this.fn();
    } finally {
      this.running = false;
      this.resetPeriodic();
      this.schedule();
    }
  }

  private resetPeriodic(): void {
    clearTimeout(this.periodic);
    if (this.stopped) return;
    this.periodic = setTimeout(() => this.run(), this.o.maxIntervalMs);
    this.periodic.unref?.();
  }
}
