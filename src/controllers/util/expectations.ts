/**
 * Controller expectations (pkg/controller/controller_utils.go): before issuing creates or deletes a controller records
 * what it expects to observe; the informer handlers count the events off as they arrive. Until all arrived (or the
 * record is older than the TTL, in case an event was lost) the controller must not trust its cache for counting
 * pods, or a stale cache would make it create or delete the same pods a second time.
 *
 * `ControllerExpectations` counts (Job, DaemonSet); `UIDTrackingControllerExpectations` also remembers which pods it
 * expects to go, so a deletion is counted once and only for those pods (ReplicaSet, as upstream).
 */
import type { Clock } from '../../client/types.js';

/** Upstream ExpectationsTimeout: after this a stale record no longer blocks syncing. */
export const EXPECTATIONS_TIMEOUT_MS = 5 * 60 * 1000;

interface ExpectationRecord {
  add: number;
  del: number;
  /** When the record was set (ms). */
  at: number;
}

export class ControllerExpectations {
  private readonly records = new Map<string, ExpectationRecord>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = EXPECTATIONS_TIMEOUT_MS,
  ) {}

  /** Replaces the key's record: expect `add` creations and `del` deletions from now on (SetExpectations). */
  set(key: string, add: number, del: number): void {
    this.records.set(key, { add, del, at: this.clock.now().getTime() });
  }

  expectCreations(key: string, n: number): void {
    this.set(key, n, 0);
  }

  expectDeletions(key: string, n: number): void {
    this.set(key, 0, n);
  }

  /** An expected create was seen by the informer, or will never be (the create failed or was skipped). */
  creationObserved(key: string): void {
    const r = this.records.get(key);
    if (r) r.add--;
  }

  /** An expected deletion was seen by the informer (the pod left the cache or got a deletionTimestamp), or never will be. */
  deletionObserved(key: string): void {
    const r = this.records.get(key);
    if (r) r.del--;
  }

  /**
   * True when the controller may act on `key`: no record (a new controller, or one restarted), everything expected
   * was observed, or the record expired.
   */
  satisfied(key: string): boolean {
    const r = this.records.get(key);
    if (!r) return true;
    if (r.add <= 0 && r.del <= 0) return true;
    return this.clock.now().getTime() - r.at > this.ttlMs;
  }

  /** Forgets the key (its owner was deleted or recreated). */
  delete(key: string): void {
    this.records.delete(key);
  }

  /** Pending counts, for tests and logs; undefined when nothing was recorded. */
  get(key: string): { adds: number; dels: number } | undefined {
    const r = this.records.get(key);
    return r && { adds: r.add, dels: r.del };
  }
}

/**
 * UIDTrackingControllerExpectations: deletions are expected for named pods (`namespace/name` keys), and a deletion
 * observed twice (a deletionTimestamp, then the delete event) or for a pod that was not expected to go does not count.
 */
export class UIDTrackingControllerExpectations {
  private readonly counts: ControllerExpectations;
  private readonly deleteKeys = new Map<string, Set<string>>();

  constructor(clock: Clock, ttlMs = EXPECTATIONS_TIMEOUT_MS) {
    this.counts = new ControllerExpectations(clock, ttlMs);
  }

  satisfied(key: string): boolean {
    return this.counts.satisfied(key);
  }

  /** Expects `count` creations, replacing earlier expectations of the key (and the pods it expected to go). */
  expectCreations(key: string, count: number): void {
    this.deleteKeys.delete(key);
    this.counts.expectCreations(key, count);
  }

  /** Expects the pods with these keys to be deleted, replacing earlier expectations of the key. */
  expectDeletions(key: string, podKeys: readonly string[]): void {
    this.deleteKeys.set(key, new Set(podKeys));
    this.counts.expectDeletions(key, podKeys.length);
  }

  creationObserved(key: string): void {
    this.counts.creationObserved(key);
  }

  /** The pod `podKey` of `key` left the cache (or got a deletionTimestamp); counted once, and only if expected. */
  deletionObserved(key: string, podKey: string): void {
    if (this.deleteKeys.get(key)?.delete(podKey)) this.counts.deletionObserved(key);
  }

  delete(key: string): void {
    this.deleteKeys.delete(key);
    this.counts.delete(key);
  }

  get(key: string): { adds: number; dels: number } | undefined {
    return this.counts.get(key);
  }
}
