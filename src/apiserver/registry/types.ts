/**
 * One ResourceDefinition per served resource. Discovery, OpenAPI, routing, Table output, field
 * selectors and validation are all derived from this registry, so adding a kind means adding one file.
 */
import type { TableColumnDefinition } from './table-columns.js';
import type { KubeObject } from '../../api/object.js';
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

export interface Strategy {
  /**
   * Sets defaults on a new object before validation (mutates obj). Runs after the API server has filled
   * name/uid/creationTimestamp/generation/resourceVersion. Must not touch metadata bookkeeping.
   */
  prepareForCreate?(obj: KubeObject): void;
  /** Sets defaults on an update (mutates obj); old is the stored object and must not be mutated. */
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  /** Validation of a new object; an empty list means valid. Paths like `spec.containers[0].image`. */
  validate(obj: KubeObject): FieldError[];
  /** Extra validation of an update (immutable fields etc.). */
  validateUpdate?(obj: KubeObject, old: KubeObject): FieldError[];
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
  };
  /**
   * Set for create-only resources that are computed and never stored (access reviews, `auth whoami`):
   * returns the response object for a POSTed request object on behalf of the user.
   */
  virtual?(obj: KubeObject, user: { username: string; uid?: string; groups: string[]; extra?: Record<string, string[]> }): KubeObject;
}
