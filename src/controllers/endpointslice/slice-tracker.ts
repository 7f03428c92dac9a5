/**
 * Remembers the generation of every EndpointSlice this controller wrote, per service (upstream
 * staging/src/k8s.io/endpointslice/endpointslice_tracker.go). Two uses:
 * - a sync must not plan from a cache that has not yet seen our own last writes, or it would create a second slice
 *   for endpoints it already placed: `isStale` says so, and the sync is retried with backoff;
 * - slice events that only echo our own writes need no sync: `shouldSync` filters them out.
 */
import type { EndpointSlice } from './compute-slices.js';

const DELETED = -1;

export class SliceTracker {
  /** service key -> slice name -> generation we wrote, or DELETED */
  private readonly byService = new Map<string, Map<string, number>>();

  /** Records a slice as written by us (the object the server returned). */
  expect(serviceKey: string, slice: EndpointSlice): void {
    this.entries(serviceKey).set(slice.metadata.name ?? '', slice.metadata.generation ?? 0);
  }

  expectDeletion(serviceKey: string, slice: EndpointSlice): void {
    this.entries(serviceKey).set(slice.metadata.name ?? '', DELETED);
  }

  /**
   * True when the cache is behind our writes: a slice we created or updated is missing or older there, or one we
   * deleted is still there. Entries the cache has caught up with are dropped.
   */
  isStale(serviceKey: string, cached: EndpointSlice[]): boolean {
    const entries = this.byService.get(serviceKey);
    if (!entries) return false;
    const byName = new Map(cached.map((s) => [s.metadata.name ?? '', s]));
    let stale = false;
    for (const [name, generation] of entries) {
      const seen = byName.get(name);
      if (generation === DELETED) {
        if (seen) stale = true;
        else entries.delete(name);
      } else if (!seen || (seen.metadata.generation ?? 0) < generation) {
        stale = true;
      } else {
        entries.delete(name);
      }
    }
    if (entries.size === 0) this.byService.delete(serviceKey);
    return stale;
  }

  /** False for an add/update event that shows a slice exactly as we last wrote it (or older). */
  shouldSync(serviceKey: string, slice: EndpointSlice): boolean {
    const generation = this.byService.get(serviceKey)?.get(slice.metadata.name ?? '');
    if (generation === undefined || generation === DELETED) return true;
    return (slice.metadata.generation ?? 0) > generation;
  }

  /** A slice disappeared: true when someone else deleted it (the service must be synced). */
  handleDeletion(serviceKey: string, slice: EndpointSlice): boolean {
    const entries = this.byService.get(serviceKey);
    const generation = entries?.get(slice.metadata.name ?? '');
    entries?.delete(slice.metadata.name ?? '');
    if (entries?.size === 0) this.byService.delete(serviceKey);
    return generation !== DELETED;
  }

  deleteService(serviceKey: string): void {
    this.byService.delete(serviceKey);
  }

  private entries(serviceKey: string): Map<string, number> {
    let m = this.byService.get(serviceKey);
    if (!m) this.byService.set(serviceKey, (m = new Map()));
    return m;
  }
}
