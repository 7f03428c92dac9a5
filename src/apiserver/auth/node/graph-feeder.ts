/**
 * Keeps a NodeGraph in step with the watch cache (upstream feeds its graph from shared informers: graph_populator.go).
 * The cache already holds every object in memory and delivers events in revision order, so the graph costs no extra
 * watch. When the cache starts over (first load, or after the datastore watch failed) the graph is rebuilt from the
 * cache's items once they are in.
 */
import type { KubeObject } from '../../../api/object.js';
import type { CacheEvent, CacheWatcher, WatchCache } from '../../watch-cache.js';
import { NodeGraph } from './node-graph.js';

interface Source {
  prefix: string;
  set(graph: NodeGraph, obj: KubeObject): void;
  remove(graph: NodeGraph, obj: KubeObject): void;
}

const SOURCES: readonly Source[] = [
  { prefix: '/registry/core/pods/', set: (g, o) => g.setPod(o), remove: (g, o) => g.deletePod(o.metadata.namespace ?? '', o.metadata.name ?? '') },
  { prefix: '/registry/core/persistentvolumes/', set: (g, o) => g.setPersistentVolume(o), remove: (g, o) => g.deletePersistentVolume(o.metadata.name ?? '') },
  { prefix: '/registry/storage.k8s.io/volumeattachments/', set: (g, o) => g.setVolumeAttachment(o), remove: (g, o) => g.deleteVolumeAttachment(o.metadata.name ?? '') },
  // Classes before Ingresses, so a rebuild decides each Ingress with every class known.
  { prefix: '/registry/networking.k8s.io/ingressclasses/', set: (g, o) => g.setIngressClass(o), remove: (g, o) => g.deleteIngressClass(o.metadata.name ?? '') },
  { prefix: '/registry/networking.k8s.io/ingresses/', set: (g, o) => g.setIngress(o), remove: (g, o) => g.deleteIngress(o.metadata.namespace ?? '', o.metadata.name ?? '') },
];

export interface FedNodeGraph {
  graph: NodeGraph;
  stop(): void;
}

/** A graph that follows `cache` from now on (subscribe before or after the cache starts). */
export function feedNodeGraph(cache: WatchCache): FedNodeGraph {
  const graph = new NodeGraph();
  const watchers = new Map<Source, CacheWatcher>();
  let stopped = false;
  let rebuildQueued = false;

  const subscribe = (src: Source) => {
    const rc = cache.resourceFor(src.prefix);
    watchers.set(
      src,
      rc.subscribe(
        (events: CacheEvent[]) => {
          for (const ev of events) {
            if (ev.type === 'DELETED') src.remove(graph, ev.obj);
            else src.set(graph, ev.obj);
          }
          return true;
        },
        // The cache clears its items, then loads the new ones in the same turn: rebuild right after.
        () => {
          watchers.delete(src);
          if (stopped || rebuildQueued) return;
          rebuildQueued = true;
          queueMicrotask(rebuild);
        },
      ),
    );
  };

  const rebuild = () => {
    rebuildQueued = false;
    if (stopped) return;
    // Synchronous: no request is authorized against a half-built graph.
    graph.clear();
    for (const src of SOURCES) {
      for (const item of cache.resourceFor(src.prefix).items.values()) src.set(graph, item.obj);
      if (!watchers.has(src)) subscribe(src);
    }
  };

  for (const src of SOURCES) subscribe(src);
  const fed: FedNodeGraph = {
    graph,
    stop() {
      stopped = true;
      for (const w of watchers.values()) w.stop();
      watchers.clear();
    },
  };
  rebuild();
  return fed;
}
