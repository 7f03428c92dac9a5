/**
 * Events expire, as kube-apiserver's --event-ttl (default 1 h) makes them expire through etcd leases: a sweeper
 * deletes Events whose last activity is older than the TTL, so a busy cluster's event churn does not grow the store
 * forever. Activity is the newest of lastTimestamp, eventTime, series.lastObservedTime and creationTimestamp.
 */
import type { KubeObject } from '../api/object.js';
import { isNotFound } from '../api/status.js';
import type { ResourceDefinition } from './registry/types.js';
import type { ResourceOps } from './resource-ops.js';
import type { WatchCache } from './watch-cache.js';
import { resourcePrefix } from './object-codec.js';
import { createLogger } from '../log/logger.js';

const log = createLogger('apiserver');

export interface EventTtlOptions {
  ttlMs: number;
  /** How often to sweep (default: a tenth of the TTL, at most once a minute). */
  intervalMs?: number;
  now?: () => number;
}

function lastActivity(ev: KubeObject): number {
  const e = ev as KubeObject & { lastTimestamp?: string; eventTime?: string; series?: { lastObservedTime?: string } };
  let t = Date.parse(ev.metadata.creationTimestamp ?? '') || 0;
  for (const s of [e.lastTimestamp, e.eventTime, e.series?.lastObservedTime]) {
    const v = s ? Date.parse(s) : NaN;
    if (!Number.isNaN(v) && v > t) t = v;
  }
  return t;
}

/** Deletes expired Events once; returns how many were deleted. */
export async function sweepExpiredEvents(ops: ResourceOps, cache: WatchCache, events: ResourceDefinition, ttlMs: number, now: number): Promise<number> {
  const expired = [...cache.resourceFor(resourcePrefix(events)).items.values()].filter((i) => now - lastActivity(i.obj) > ttlMs);
  let deleted = 0;
  for (const item of expired) {
    const { namespace = '', name = '', uid } = item.obj.metadata;
    try {
      await ops.delete(events, namespace, name, { dryRun: false, preconditions: { uid } });
      deleted++;
    } catch (err) {
      // Deleted meanwhile, or replaced by a newer Event of the same name: nothing to do.
      if (!isNotFound(err) && !(err as { reason?: string }).reason?.includes('Conflict')) throw err;
    }
  }
  return deleted;
}

export function startEventTtl(ops: ResourceOps, cache: WatchCache, events: ResourceDefinition, opts: EventTtlOptions): { stop(): void } {
  const now = opts.now ?? Date.now;
  const interval = opts.intervalMs ?? Math.min(60_000, Math.max(1000, Math.floor(opts.ttlMs / 10)));
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepExpiredEvents(ops, cache, events, opts.ttlMs, now())
      .catch((err: unknown) => log.error('sweeping expired events failed', { err }))
      .finally(() => (running = false));
  }, interval);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
