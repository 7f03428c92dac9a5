/**
 * Controller expectations (pkg/controller/controller_utils.go ControllerExpectations): before issuing N creates or
 * deletes a controller records that it expects to observe them; the informer handlers count them off as the events
 * arrive. Until they all arrived (or the record is older than the TTL, in case an event was lost) the controller
 * must not trust its cache for counting pods, or a stale cache would make it create the same pods twice.
 */
import type { Clock } from '../../client/types.js';

/** Upstream ExpectationsTimeout: after this a stale record no longer blocks syncing. */
export const expectationsTimeoutMs = 5 * 60 * 1000;

interface ExpectationRecord {
  add: number;
  del: number;
  at: number;
}

export class ControllerExpectations {
  private readonly records = new Map<string, ExpectationRecord>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = expectationsTimeoutMs,
  ) {}

  /** Replaces the key's record: expect `add` creations and `del` deletions from now on. */
  set(key: string, add: number, del: number): void {
    this.records.set(key, { add, del, at: this.clock.now().getTime() });
  }

  expectCreations(key: string, n: number): void {
    this.set(key, n, 0);
  }

  expectDeletions(key: string, n: number): void {
    this.set(key, 0, n);
  }

  /** An expected create was seen by the informer, or will never be (the create failed). */
  creationObserved(key: string): void {
    const r = this.records.get(key);
    if (r) r.add--;
  }

  deletionObserved(key: string): void {
    const r = this.records.get(key);
    if (r) r.del--;
  }

  /** True when nothing is pending for the key (no record, all observed, or the record expired). */
  satisfied(key: string): boolean {
    const r = this.records.get(key);
    if (!r) return true;
    if (r.add <= 0 && r.del <= 0) return true;
    return this.clock.now().getTime() - r.at > this.ttlMs;
  }

  delete(key: string): void {
    this.records.delete(key);
  }
}
