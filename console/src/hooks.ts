/** Preact hooks over the shared list+watches (one ListWatch per resource and selector, however many views use it). */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { getJson, type ResourceType } from './api.js';
import { ListWatch, type KubeObject, type ListWatchOptions } from './watch.js';

const shared = new Map<string, { lw: ListWatch<KubeObject>; users: number }>();

/** Every ListWatch currently open (the status bar shows their states). */
export function openWatches(): ListWatch<KubeObject>[] {
  return [...shared.values()].map((s) => s.lw);
}

function acquire(type: ResourceType, opts: ListWatchOptions): [ListWatch<KubeObject>, () => void] {
  const key = `${type.group}/${type.plural}|${opts.namespace ?? ''}|${opts.labelSelector ?? ''}|${opts.fieldSelector ?? ''}`;
  let entry = shared.get(key);
  if (!entry) {
    entry = { lw: new ListWatch(type, opts), users: 0 };
    shared.set(key, entry);
  }
  const e = entry;
  e.users++;
  return [
    e.lw,
    () => {
      e.users--;
      // Stopped at once: a browser holds at most six HTTP/1.1 connections to the server, and every open watch keeps
      // one, so a page must not leave its watches behind for the next.
      if (e.users === 0) {
        e.lw.stop();
        shared.delete(key);
      }
    },
  ];
}

export interface Watched<T> {
  items: T[];
  state: ListWatch<KubeObject>['state'];
  error: string | undefined;
  loaded: boolean;
}

/** The live objects of a resource, sorted by namespace and name; re-renders once per applied batch of events. */
export function useWatch<T>(type: ResourceType, opts: ListWatchOptions = {}, enabled = true): Watched<T> {
  const [lw, setLw] = useState<ListWatch<KubeObject> | undefined>(undefined);
  const [, setVersion] = useState(0);
  useEffect(() => {
    if (!enabled) return;
    const [w, release] = acquire(type, opts);
    setLw(w);
    const unsubscribe = w.subscribe(() => setVersion(w.version));
    return () => {
      unsubscribe();
      release();
    };
  }, [type, opts.namespace, opts.labelSelector, opts.fieldSelector, enabled]);
  const version = lw?.version ?? -1;
  const items = useMemo(() => {
    if (!lw) return [];
    return [...lw.items.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1] as T);
  }, [lw, version]);
  return { items, state: lw?.state ?? 'connecting', error: lw?.error, loaded: (lw?.relists ?? 0) > 0 };
}

/** Polls a JSON document (metrics.k8s.io); keeps the last `keep` answers for charts. */
export function usePoll<T>(path: string | undefined, intervalMs: number, keep = 40): { history: { at: number; doc: T }[]; error?: string } {
  const [state, setState] = useState<{ history: { at: number; doc: T }[]; error?: string }>({ history: [] });
  useEffect(() => {
    if (!path) return;
    let stopped = false;
    setState({ history: [] });
    const tick = async () => {
      try {
        const doc = await getJson<T>(path);
        if (!stopped) setState((s) => ({ history: [...s.history, { at: Date.now(), doc }].slice(-keep) }));
      } catch (err) {
        if (!stopped) setState((s) => ({ history: s.history, error: (err as Error).message }));
      }
    };
    void tick();
    const timer = setInterval(tick, intervalMs);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [path, intervalMs]);
  return state;
}

/** Re-renders every `ms` (ages on the page). */
export function useTick(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
