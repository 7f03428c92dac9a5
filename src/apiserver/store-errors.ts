/**
 * Store failures that are not about one object (KeyExists, conflicts and compaction are translated where the object
 * is known, in resource-ops.ts) become the Status a client sees here, once, where store errors cross into the API.
 *
 * A full datastore answers 500 InternalError, as kube-apiserver does for etcd's "mvcc: database space exceeded"
 * (it reaches clients as `Internal error occurred: etcdserver: mvcc: database space exceeded`). Not 503 with
 * Retry-After: client-go silently retries such answers (up to 10 times per request) and controllers would hot-loop on a
 * condition that only an operator can end; a 500 that names the cause is what `kubectl` users and alerting expect.
 */
import { StatusError } from '../api/status.js';
import { StoreFullError } from '../storage/store.js';

/** The Status for a store error the API should report as such, or undefined when the caller handles it. */
export function translateStoreError(err: unknown): StatusError | undefined {
  if (err instanceof StoreFullError) {
    const message = `Internal error occurred: the datastore is out of space: ${err.message}`;
    return new StatusError({
      message,
      reason: 'InternalError',
      code: 500,
      details: { causes: [{ reason: 'StorageFull', message: err.message }] },
    });
  }
  return undefined;
}
