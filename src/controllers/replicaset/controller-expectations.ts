/**
 * What a controller is still waiting to see in its cache after it created or deleted pods (upstream
 * UIDTrackingControllerExpectations). A sync that finds expectations pending does not manage replicas again:
 * the informer has not yet delivered the pods the last sync created or deleted, so counting the cache would create
 * or delete them a second time. Expectations expire after a TTL so a lost watch event cannot block a controller
 * forever.
 */
import type { Clock } from '../../client/types.js';

/** Upstream ExpectationsTimeout. */
export const EXPECTATIONS_TTL_MS = 5 * 60 * 1000;

interface Pending {
  adds: number;
  dels: number;
  /** Keys (`namespace/name`) of the pods whose deletion is expected: a deletion counts only once, and only for these. */
  deleteKeys: Set<string>;
  /** When the expectations were set (ms). */
  since: number;
}

export class ControllerExpectations {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = EXPECTATIONS_TTL_MS,
  ) {}

  /**
   * True when the controller may act on `key`: nothing is pending, what was expected has been observed, the
   * expectations expired, or none were ever set (a new controller, or one restarted).
   */
  satisfied(key: string): boolean {
    const p = this.pending.get(key);
    if (!p) return true;
    if (p.adds <= 0 && p.dels <= 0) return true;
    return this.clock.now().getTime() - p.since > this.ttlMs;
  }

  /** Records that `count` creations are about to be issued (replacing earlier expectations of the key). */
  expectCreations(key: string, count: number): void {
    this.pending.set(key, { adds: count, dels: 0, deleteKeys: new Set(), since: this.clock.now().getTime() });
  }

  /** Records that the pods with these keys are about to be deleted (replacing earlier expectations of the key). */
  expectDeletions(key: string, podKeys: string[]): void {
    this.pending.set(key, { adds: 0, dels: podKeys.length, deleteKeys: new Set(podKeys), since: this.clock.now().getTime() });
  }

  /** A pod created for `key` arrived in the cache, or a creation was skipped and will never arrive. */
  creationObserved(key: string): void {
    const p = this.pending.get(key);
    if (p) p.adds--;
  }

  /** A pod of `key` left the cache (or got a deletionTimestamp); counted once, and only if its deletion was expected. */
  deletionObserved(key: string, podKey: string): void {
    const p = this.pending.get(key);
    if (p?.deleteKeys.delete(podKey)) p.dels--;
  }

  /** Forgets the key (its owner was deleted). */
  delete(key: string): void {
    this.pending.delete(key);
  }

  /** Pending counts, for tests and logs; undefined when nothing was recorded. */
  get(key: string): { adds: number; dels: number } | undefined {
    const p = this.pending.get(key);
    return p && { adds: p.adds, dels: p.dels };
  }
}
