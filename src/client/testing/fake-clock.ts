/**
 * A Clock that only moves when a test moves it (the injected clock of kwok and client-go's testing clock):
 * `advance(ms)` fires every timer that falls due, in due order (ties in the order they were set), with now()
 * reading each timer's due time while it runs; timers set by a firing callback fire too if they fall due in
 * the same advance.
 */
import type { Clock } from '../types.js';

interface Timer {
  due: number;
  seq: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private current: number;
  private readonly timers: Timer[] = [];
  private seq = 0;

  constructor(start: Date | number = Date.UTC(2025, 0, 1, 0, 0, 0)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  setTimeout(fn: () => void, ms: number): { cancel(): void } {
    const timer: Timer = { due: this.current + Math.max(0, ms || 0), seq: this.seq++, fn };
    this.timers.push(timer);
    return {
      cancel: () => {
        const i = this.timers.indexOf(timer);
        if (i >= 0) this.timers.splice(i, 1);
      },
    };
  }

  /** Moves time forward by ms, firing due timers. */
  advance(ms: number): void {
    if (ms < 0) throw new Error(`FakeClock.advance: negative duration ${ms}`);
    this.set(this.current + ms);
  }

  /** Sets the time; moving forward fires the timers that fall due, moving backward fires none. */
  set(time: Date | number): void {
    const target = typeof time === 'number' ? time : time.getTime();
    for (;;) {
      const next = this.nextDue();
      if (!next || next.due > target) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.current = Math.max(this.current, next.due);
      next.fn();
    }
    this.current = target;
  }

  /**
   * Like advance, but lets promise chains run between timers (a macrotask turn after each), for code whose timer
   * callbacks start async work that sets further timers.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      const next = this.nextDue();
      if (!next || next.due > target) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.current = Math.max(this.current, next.due);
      next.fn();
    }
    this.current = target;
    await new Promise<void>((r) => setImmediate(r));
  }

  /** Timers set and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Milliseconds until the next timer falls due, or undefined when none is pending. */
  nextTimerIn(): number | undefined {
    const next = this.nextDue();
    return next ? next.due - this.current : undefined;
  }

  private nextDue(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers) if (!best || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    return best;
  }
}
