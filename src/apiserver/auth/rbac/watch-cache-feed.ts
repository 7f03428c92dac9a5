/**
 * Keeps an RbacIndex equal to the watch cache's Roles, ClusterRoles and bindings: the current items at start, then
 * every event as the cache applies it. When the cache starts over (its store watch failed), the index is rebuilt
 * from the reloaded items on the next look.
 */
import type { KubeObject } from '../../../api/object.js';
import { resourcePrefix } from '../../object-codec.js';
import type { CacheEvent, WatchCache } from '../../watch-cache.js';
import type { RbacIndex, RbacKind } from './rbac-index.js';

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const KINDS: [RbacKind, string][] = [
  ['ClusterRole', 'clusterroles'],
  ['Role', 'roles'],
  ['ClusterRoleBinding', 'clusterrolebindings'],
  ['RoleBinding', 'rolebindings'],
];

export interface IndexFeed {
  /** Rebuilds the index if the cache started over since the last call (cheap otherwise). */
  refresh(): void;
  stop(): void;
}

export function feedIndexFromWatchCache(cache: WatchCache, index: RbacIndex): IndexFeed {
  let stops: (() => void)[] = [];
  let stale = false;
  const subscribe = () => {
    index.clear();
    stale = false;
    for (const [kind, plural] of KINDS) {
      const rc = cache.resourceFor(resourcePrefix({ group: RBAC_GROUP, plural }));
      for (const item of rc.items.values()) index.upsert(kind, item.obj);
      const w = rc.subscribe(
        (events: CacheEvent[]) => {
          for (const ev of events) {
            if (ev.type === 'DELETED') index.remove(kind, ev.prev ?? (ev.obj as KubeObject));
            else index.upsert(kind, ev.obj);
          }
          return true;
        },
        () => {
          stale = true;
        },
      );
      stops.push(() => w.stop());
    }
  };
  subscribe();
  const feed: IndexFeed = {
    refresh() {
      if (!stale || cache.failed) return;
      for (const s of stops) s();
      stops = [];
      subscribe();
    },
    stop() {
      for (const s of stops) s();
      stops = [];
    },
  };
  index.beforeRead = () => feed.refresh();
  return feed;
}
