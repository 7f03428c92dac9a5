/**
 * A Store that times every datastore call into etcd_request_duration_seconds{operation,type} (../observability), as
 * kube-apiserver's etcd3 store records each request it makes, whichever backend is underneath. Watches are not timed
 * (they are streams); errors are timed like successes, as upstream.
 */
import { instrumentationEnabled } from '../observability/registries.js';
import { etcdRequestCell } from '../observability/storage-metrics.js';
import type { Store } from './store.js';

/** Times `call` from before it starts: SQLite does its work synchronously inside the call. */
function timed<T>(operation: string, key: string, call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const observe = () => etcdRequestCell(operation, key).observe((performance.now() - started) / 1000);
  return call().then(
    (v) => {
      observe();
      return v;
    },
    (err: unknown) => {
      observe();
      throw err;
    },
  );
}

/** `store` with its calls timed; `store` itself when instrumentation is off (SKIFF_INSTRUMENTATION=off). */
export function instrumentStore(store: Store): Store {
  if (!instrumentationEnabled) return store;
  return {
    currentRevision: () => store.currentRevision(),
    get: (key, opts) => timed('get', key, () => store.get(key, opts)),
    list: (prefix, opts) => timed('list', prefix, () => store.list(prefix, opts)),
    count: (prefix) => timed('count', prefix, () => store.count(prefix)),
    create: (key, value) => timed('create', key, () => store.create(key, value)),
    update: (key, value, expectedRevision) => timed('update', key, () => store.update(key, value, expectedRevision)),
    delete: (key, expectedRevision) => timed('delete', key, () => store.delete(key, expectedRevision)),
    watch: (prefix, opts) => store.watch(prefix, opts),
    compact: (revision) => store.compact(revision),
    compactRevision: () => store.compactRevision(),
    close: () => store.close(),
  };
}
