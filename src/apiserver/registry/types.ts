/**
 * One ResourceDefinition per served resource. Discovery, OpenAPI, routing, Table output, field
 * selectors and validation are all derived from this registry, so adding a kind means adding one file.
 */
import type { TableColumnDefinition } from './table-columns.js';
import type { KubeObject } from '../../api/object.js';
import type { NodeType } from '../apply/fieldpath.js';
import type { FieldError } from '../../api/status.js';

export type Verb = 'create' | 'delete' | 'deletecollection' | 'get' | 'list' | 'patch' | 'update' | 'watch';

export interface ScaleSubresource {
  /** JSON path (dot form) of the desired replicas in the object, e.g. `spec.replicas`. */
  specReplicasPath: string;
  /** JSON path of the observed replicas, e.g. `status.replicas`. */
  statusReplicasPath: string;
  /** How to render the selector for Scale.status.selector (a label selector string), or undefined. */
  selector?(obj: KubeObject): string | undefined;
}

/** Who asks for a create (the authenticated user, as admission sees it). */
export interface CreateContext {
  user: { username: string; uid?: string; groups: string[]; extra?: Record<string, string[]> };
}

export interface Strategy {
  /**
   * Sets defaults on a new object before validation (mutates obj). Runs after the API server has filled
   * name/uid/creationTimestamp/generation/resourceVersion. Must not touch metadata bookkeeping. `ctx.user` is the
   * requesting user (upstream's PrepareForCreate reads it from the request context: CSRs record their requestor).
   */
  prepareForCreate?(obj: KubeObject, ctx?: CreateContext): void;
  /** Sets defaults on an update (mutates obj); old is the stored object and must not be mutated. */
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  /** Validation of a new object; an empty list means valid. Paths like `spec.containers[0].image`. */
  validate(obj: KubeObject): FieldError[];
  /** Extra validation of an update (immutable fields etc.). */
  validateUpdate?(obj: KubeObject, old: KubeObject): FieldError[];
  /**
   * The whole validation of a write through /status, when the kind has a status strategy of its own (upstream's
   * podStatusStrategy and the like): such a write carries the stored spec over unchanged, so the spec is not validated
   * again. Kinds without it run validate and validateUpdate for status writes too.
   */
  validateStatusUpdate?(obj: KubeObject, old: KubeObject): FieldError[];
}

/**
 * What deleting an object of a kind means beyond removing it (kube-apiserver's RESTGracefulDeleteStrategy and the
 * kinds' own BeforeDelete rules). Pure functions; the generic delete path calls them.
 */
export interface DeletionRules {
  /**
   * The grace period a DELETE gets (0 = remove at once, unless finalizers hold it), given the period the client
   * asked for, if any. Pods bound to a node get time for their agent to stop them; other kinds go at once.
   */
  gracePeriodSeconds?(obj: KubeObject, requested: number | undefined): number;
  /** True while kind-specific finalization blocks removal (a namespace's spec.finalizers). */
  finalizationPending?(obj: KubeObject): boolean;
  /** Changes made to an object when it is first marked for deletion (mutates obj), e.g. namespace phase Terminating. */
  markDeleting?(obj: KubeObject): void;
  /** True when DELETE answers with the object rather than a Status (pods, whose graceful deletion is visible). */
  returnsObject?: boolean;
}

/** What a subresource handler may do besides reading and writing its own object (eviction deletes a pod, ...). */
export interface SubresourceApi {
  get(def: ResourceDefinition, namespace: string, name: string): Promise<KubeObject>;
  list(def: ResourceDefinition, namespace: string): Promise<KubeObject[]>;
  /** Compare-and-swap on obj.metadata.resourceVersion through the generic update path (admission, validation). */
  update(def: ResourceDefinition, obj: KubeObject, opts: { subresource?: string; dryRun: boolean }): Promise<KubeObject>;
  delete(def: ResourceDefinition, namespace: string, name: string, opts: { gracePeriodSeconds?: number; preconditions?: { uid?: string; resourceVersion?: string }; dryRun: boolean }): Promise<void>;
  /** The served definition of another resource, e.g. ('policy', 'poddisruptionbudgets'). */
  resource(group: string, plural: string): ResourceDefinition;
}

/**
 * A subresource beyond status and scale (which every kind with `hasStatus` / `scale` gets generically). Exactly one of
 * `mutation` and `action` is set, or `connect` for subresources that stream or proxy (their targets are plugged in by
 * the node agent work; until then they answer 503).
 */
export interface SubresourceDefinition {
  name: string;
  /** Discovery: the kind the subresource takes and returns, and its group/version when not the parent's. */
  kind: string;
  group?: string;
  version?: string;
  verbs: Verb[];
  /**
   * The request body becomes a change of the stored object (binding sets spec.nodeName, finalize sets
   * spec.finalizers): a pure function of the current object and the decoded body; may throw a StatusError.
   */
  mutation?: {
    method: 'POST' | 'PUT';
    apply(current: KubeObject, body: Record<string, unknown>, ctx: { name: string; now: Date }): KubeObject;
    /** The mutation may change status (binding's PodScheduled condition); others keep the stored status. */
    changesStatus?: boolean;
    /** The answer: the updated object (200), or a Status with code 201 as for pods/binding. */
    respond: 'object' | 'created';
  };
  /**
   * GET, PUT and PATCH of the whole object through which only a part of it changes, as the status subresource works
   * (pods/ephemeralcontainers): `apply` copies that part from the written object onto the stored one (mutating
   * neither).
   */
  view?: { apply(current: KubeObject, written: KubeObject): KubeObject };
  /**
   * Replaces the kind's update validation for writes through this subresource (a binding may set what a main-resource
   * update may not); the kind's object validation still runs.
   */
  validateUpdate?(next: KubeObject, old: KubeObject): FieldError[];
  /**
   * POST: an operation against the API on behalf of the request; answers a 201 Status (eviction), or 201 with the
   * object it resolves to (serviceaccounts/token answers the TokenRequest).
   */
  action?(api: SubresourceApi, namespace: string, name: string, body: Record<string, unknown>, opts: { dryRun: boolean; now: Date }): Promise<void | KubeObject>;
  /**
   * A streaming or proxying subresource (pods/log, exec, attach, portforward, nodes/proxy, services/proxy).
   * `schemeNamePort`: the name in the path is `name`, `name:port` or `scheme:name:port` (pods/proxy, services/proxy);
   * the object is found by the name, and the target gets the scheme and port.
   */
  connect?: { methods: string[]; schemeNamePort?: boolean };
}

export interface TablePrinter {
  /** Column definitions in order; priority 0 always shown, >0 only with `-o wide`. */
  columns: TableColumnDefinition[];
  /** One cell per column, values as kubectl prints them verbatim (ages as `5m`, `<none>` for empty). */
  row(obj: KubeObject, now: Date): unknown[];
}

export interface ResourceDefinition {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  /** Plural resource name used in URLs, e.g. `deployments`. */
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Defaults to every verb. */
  verbs?: Verb[];
  /** True when the kind has a status subresource: status changes through /status only, and spec changes ignore status. */
  hasStatus: boolean;
  scale?: ScaleSubresource;
  /** The schema table type name, e.g. `io.k8s.api.apps.v1.Deployment`. */
  schemaName: string;
  /**
   * True for kinds whose generation is bumped on any change outside metadata and status
   * (everything with a spec, plus kinds like ConfigMap where Kubernetes does not track generation: false).
   */
  tracksGeneration: boolean;
  strategy: Strategy;
  printer: TablePrinter;
  /** True for kinds whose create keeps the status the client sent (a node agent registers its Node with status). */
  keepsStatusOnCreate?: boolean;
  deletion?: DeletionRules;
  /** Subresources other than status and scale. */
  subresources?: SubresourceDefinition[];
  /**
   * Field selectors supported beyond metadata.name / metadata.namespace (which every resource supports),
   * mapping the field label to its value in an object, e.g. `spec.nodeName`, `status.phase`.
   */
  fieldSelectors?: Record<string, (obj: KubeObject) => string>;
  /**
   * Set when this version is a view of another version's stored objects (autoscaling/v1 HPAs are stored as
   * autoscaling/v2, events.k8s.io Events as core Events): one object, converted on the way in and out.
   */
  storedAs?: {
    group: string;
    version: string;
    plural: string;
    toStorage(obj: KubeObject): KubeObject;
    fromStorage(obj: KubeObject): KubeObject;
    /**
     * Set when conversion calls out of the process (a CRD's conversion webhook, ../crd/conversion-webhook.ts): the
     * handlers await these instead (`fromStorage` takes a list's objects at once, for one call); the synchronous
     * forms then refuse objects that would need a call.
     */
    remote?: {
      toStorage(obj: KubeObject): Promise<KubeObject>;
      fromStorage(objs: KubeObject[]): Promise<KubeObject[]>;
    };
  };
  /**
   * Set for custom resources (../crd/): the kind's schema in place of the schema table. `openApi` is the kind's
   * OpenAPI v3 schema as published; `prune` drops the fields that schema does not specify from a decoded object
   * (mutates it) and returns their paths, for fieldValidation's unknown-field warnings and errors, and the type errors
   * of the typed parts (metadata), which are 400 as for built-in kinds.
   */
  customSchema?: {
    openApi: Record<string, unknown>;
    prune(obj: Record<string, unknown>): { unknown: string[]; typeErrors: string[] };
    /** True for a built-in kind described here rather than in the table (CustomResourceDefinition): no 415 for SMP. */
    acceptsStrategicMerge?: boolean;
    /** Server-side apply's type of the kind, from this version's schema (../crd/apply-schema.ts); built once, on first use. */
    applyType?(): NodeType;
  };
  /**
   * Set for create-only resources that are computed and never stored (access reviews, `auth whoami`):
   * returns the response object for a POSTed request object on behalf of the user.
   */
  virtual?(obj: KubeObject, user: { username: string; uid?: string; groups: string[]; extra?: Record<string, string[]> }, namespace: string): KubeObject | Promise<KubeObject>;
}
