/**
 * etcd_request_duration_seconds{operation,type}: the latency of every datastore call the API server makes, as
 * kube-apiserver's storage layer records it (storage/etcd3/metrics), whatever the backend (SQLite, etcd, memory).
 * `type` is the resource (`pods`, `deployments.apps`), `operation` get, list, count, create, update, delete.
 */
import { resourceOfPrefix } from './apiserver-metrics.js';
import { type HistogramCell, LabeledHistogram } from './labeled-metrics.js';
import { controlPlaneRegistry } from './registries.js';

/** storage/etcd3/metrics etcdRequestLatency buckets. */
export const ETCD_REQUEST_BUCKETS = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60];

const etcdRequestDuration = new LabeledHistogram(
  'etcd_request_duration_seconds',
  'Etcd request latency in seconds for each operation and object type.',
  ['operation', 'type'],
  ETCD_REQUEST_BUCKETS,
).register(controlPlaneRegistry());

const cells = new Map<string, HistogramCell>();

/** The histogram cell of an operation on a key (or prefix); keys outside /registry/<group>/<resource>/ are `other`. */
export function etcdRequestCell(operation: string, key: string): HistogramCell {
  const slash = key.indexOf('/', key.indexOf('/', 10) + 1);
  const prefix = slash < 0 ? key : key.slice(0, slash + 1);
  const cacheKey = `${operation}\x00${prefix}`;
  let cell = cells.get(cacheKey);
  if (!cell) {
    cell = etcdRequestDuration.child(operation, resourceOfPrefix(prefix) ?? 'other');
    // Prefixes come from the server's own keys, a bounded set; still, never let the cache grow without end.
    if (cells.size < 10_000) cells.set(cacheKey, cell);
  }
  return cell;
}
