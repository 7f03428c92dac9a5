/**
 * The client's contracts, shared by controllers, the scheduler, the agent and the simulated nodes. They reach state
 * only through the API (never apiserver/ or storage/), over either transport (HTTPS or in-process) with the same
 * semantics. Errors are StatusError (src/api/status.ts), rebuilt from the server's Status bodies, so callers branch
 * on isNotFound(err), isConflict(err), isAlreadyExists(err).
 */
import type { KubeObject } from '../api/object.js';

/** Identifies a resource on the wire, e.g. { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', namespaced: true }. */
export interface ResourceType {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
}

export type PatchType = 'merge' | 'json' | 'strategic';

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  limit?: number;
  continue?: string;
}

export interface ListResult<T extends KubeObject = KubeObject> {
  items: T[];
  resourceVersion: string;
  continue?: string;
}

export interface WatchOptions {
  /** Start after this resourceVersion ('' or '0' = synthetic ADDED events for the current state first). */
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  allowWatchBookmarks?: boolean;
  timeoutSeconds?: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  /** For ERROR, a Status object (code 410 means: relist). */
  object: T;
}

export interface Watcher {
  /** Ends the watch; `onClose` is called once with no error. Idempotent. */
  stop(): void;
}

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface DeleteCollectionOptions extends Omit<DeleteOptions, 'preconditions'> {
  labelSelector?: string;
  fieldSelector?: string;
}

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
}

/**
 * A typed REST client over one transport. Objects passed in are not mutated; objects returned are fresh and owned
 * by the caller. Non-2xx answers reject with a StatusError.
 */
export interface Client {
  /** `subresource` GETs a subresource instead, e.g. 'scale' (an autoscaling/v1 Scale) for the HPA controller. */
  get<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, name: string, opts?: { subresource?: string }): Promise<T>;
  list<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, opts?: ListOptions): Promise<ListResult<T>>;
  create<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, obj: T, opts?: WriteOptions): Promise<T>;
  /**
   * PUT of the whole object; its metadata.resourceVersion, if set, is a precondition (409 Conflict when stale).
   * `subresource` PUTs to a subresource that takes the whole object instead: 'finalize' for namespaces (the only way
   * to change spec.finalizers, used by the namespace controller). For status use updateStatus.
   */
  update<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, obj: T, opts?: WriteOptions & { subresource?: string }): Promise<T>;
  /** PUT to the /status subresource. */
  updateStatus<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, obj: T, opts?: WriteOptions): Promise<T>;
  patch<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, name: string, type: PatchType, patch: unknown, opts?: WriteOptions & { subresource?: string }): Promise<T>;
  delete(rt: ResourceType, namespace: string, name: string, opts?: DeleteOptions): Promise<void>;
  /**
   * DELETE of the collection (the `deletecollection` verb): every object of the type in the namespace ('' = all) that
   * the selectors match, each deleted as `delete` with these options would be (finalizers and grace periods apply).
   */
  deleteCollection(rt: ResourceType, namespace: string, opts?: DeleteCollectionOptions): Promise<void>;
  /**
   * GET of a discovery document: '/api' (APIVersions), '/api/v1' or '/apis/<group>/<version>' (APIResourceList),
   * '/apis' (APIGroupList); resolves to the parsed JSON. The namespace controller finds every resource this way.
   */
  discovery<T = unknown>(path: string): Promise<T>;
  /** POST to a subresource, e.g. pods/binding or pods/eviction; resolves to the response body. */
  createSubresource(rt: ResourceType, namespace: string, name: string, subresource: string, body: unknown): Promise<unknown>;
  /**
   * Streams events in order. `onClose` is called exactly once: with no error when stopped or when the server ends the
   * stream (timeout), with an error when the connection fails. A 410 arrives as an ERROR event (then onClose).
   */
  watch<T extends KubeObject = KubeObject>(rt: ResourceType, namespace: string, opts: WatchOptions, onEvent: (ev: WatchEvent<T>) => void, onClose: (err?: Error) => void): Watcher;
}

/** Time, injectable so controllers and the simulated nodes can be tested without sleeping. */
export interface Clock {
  now(): Date;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

export const realClock: Clock = {
  now: () => new Date(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

/** Read access to an informer's cache. Returned objects are shared: never mutate them (copy first). */
export interface Lister<T extends KubeObject = KubeObject> {
  get(namespace: string, name: string): T | undefined;
  /** All objects, or those of one namespace ('' = all), optionally filtered by a label selector string. */
  list(namespace?: string, labelSelector?: string): T[];
  /** Objects whose index `indexName` produced `value` (e.g. 'nodeName' -> 'node-1'). */
  byIndex(indexName: string, value: string): T[];
}

export interface EventHandlers<T extends KubeObject = KubeObject> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  /** The last known state; after a relist it may be older than the actual deletion. */
  delete?(obj: T): void;
}

/** list+watch of one resource into a local cache, with relist on 410 and optional periodic resync. */
export interface Informer<T extends KubeObject = KubeObject> {
  readonly lister: Lister<T>;
  addEventHandler(handlers: EventHandlers<T>): void;
  /** Adds an index function; must be called before start. Returns the values an object is indexed under. */
  addIndexer(name: string, fn: (obj: T) => string[]): void;
  start(): void;
  stop(): void;
  hasSynced(): boolean;
  /** Resolves after the initial list has been delivered to every handler. */
  waitForSync(): Promise<void>;
}

/** Narrows an informer to one namespace and/or selectors (e.g. the agent's pods: fieldSelector spec.nodeName=NODE). */
export interface InformerSelector {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** One informer per resource type (and selector), shared by every controller in the process. */
export interface InformerFactory {
  /** The same informer for the same type and selector; no selector means every object of the type. */
  informerFor<T extends KubeObject = KubeObject>(rt: ResourceType, selector?: InformerSelector): Informer<T>;
  start(): void;
  stop(): void;
  waitForSync(): Promise<void>;
}

/**
 * A deduplicating, rate-limited work queue of keys (client-go semantics): a key added while queued is not queued twice;
 * a key being processed is not handed to a second worker, and if re-added meanwhile it is queued again when done().
 */
export interface WorkQueue {
  add(key: string): void;
  addAfter(key: string, delayMs: number): void;
  /** Re-adds after a per-key exponential backoff (5 ms doubling up to 1000 s). */
  addRateLimited(key: string): void;
  /** Clears the key's backoff (call after a successful sync). */
  forget(key: string): void;
  /** Resolves with the next key, or undefined once the queue is shut down and drained. */
  get(): Promise<string | undefined>;
  done(key: string): void;
  shutDown(): void;
  readonly length: number;
  /** Reports the queue's workqueue_* Prometheus metrics under `name` (the controller's name) from now on. */
  instrument?(name: string): void;
}

/** Records core/v1 Events about objects, worded as Kubernetes components word them. */
export interface EventRecorder {
  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void;
}
