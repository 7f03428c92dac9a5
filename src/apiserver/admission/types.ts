/**
 * Admission, as kube-apiserver runs it (k8s.io/apiserver/pkg/admission): after authentication, authorization and
 * decoding, every write passes the mutating plugins (which may change the object), then the resource's own
 * validation, then the validating plugins (which may only refuse). Plugins declare the operations they handle and
 * are called only for those; each gets the attributes of one write: the new object, the stored one, the
 * subresource, the user and whether it is a dry run. Refusals are StatusErrors (the plugin picks reason and code).
 *
 * Plugins that take a resource outside the object (a Service's ClusterIP or NodePort) register `onFinish` to give
 * it back when the write does not commit, or to release what the old object held once it does.
 */
import type { KubeObject } from '../../api/object.js';
import type { UserInfo } from '../auth/user-info.js';
import type { ResourceDefinition } from '../registry/types.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionAttributes {
  operation: Operation;
  /** The stored resource (for a converted view, the definition it is stored as). */
  resource: ResourceDefinition;
  /** '' for the main resource, else `status`, `scale`, `binding`, `eviction`, `exec`, ... */
  subresource: string;
  namespace: string;
  name: string;
  /** CREATE, UPDATE: the object to be written (mutating plugins may change it). CONNECT: the options object. */
  object?: KubeObject;
  /** UPDATE, DELETE: the stored object. Never to be mutated. */
  oldObject?: KubeObject;
  user: UserInfo;
  dryRun: boolean;
  /**
   * Runs `fn` once the write is over: `committed` is true when the store accepted it, false when it failed, was
   * refused later in the chain, or was a dry run. For DELETE, committed means the object is gone from the store; a
   * deletion that waits for finalizers or a grace period finishes with false (what it held is given back by the
   * owners' repair loops once it is gone). Finish functions run in registration order and must not throw.
   */
  onFinish(fn: (committed: boolean) => void | Promise<void>): void;
  /**
   * Adds a warning to the response (an HTTP `Warning: 299 - "text"` header, which kubectl prints as
   * `Warning: text`), as admission plugins do upstream through k8s.io/apiserver/pkg/warning. Never refuses.
   */
  warn(text: string): void;
  /**
   * Adds an annotation to the request's audit event (upstream's Attributes.AddAnnotationWithLevel: recorded when the
   * event's level is at least `level`, default Metadata; a key keeps its first value). Absent when the request is not
   * audited: plugins skip building the value.
   */
  annotate?(key: string, value: string, level?: 'Metadata' | 'Request' | 'RequestResponse'): void;
}

/** Read access for plugins: the current objects of a resource from the watch cache. */
export interface AdmissionContext {
  /**
   * Current objects of a resource, e.g. ('scheduling.k8s.io', 'priorityclasses'); with `namespace`, only that
   * namespace's (found by a binary search of the cache's sorted view: cheap enough for every write).
   */
  list(group: string, plural: string, namespace?: string): Iterable<KubeObject>;
  /** One object as the watch cache has it now (no waiting; it may lag a write by a moment). */
  cached(group: string, plural: string, namespace: string, name: string): KubeObject | undefined;
  /** One object from the watch cache, or from the store when the cache does not have it yet (it may lag a write). */
  get(group: string, plural: string, namespace: string, name: string): Promise<KubeObject | undefined>;
}

interface AdmissionPlugin {
  readonly name: string;
  /** The operations the plugin is called for. */
  readonly operations: readonly Operation[];
  /** Narrows the resources it is called for (default: every resource); cheap, called on every write. */
  handles?(attrs: AdmissionAttributes): boolean;
  /**
   * Also called for creates through subresource actions (pods/eviction, serviceaccounts/token): operation CREATE,
   * `subresource` set, `object` the request body, `name` the parent's. Upstream's plugins see those too; here a
   * plugin asks for them, since most handle only whole objects.
   */
  readonly subresourceActions?: boolean;
}

export interface MutatingAdmission extends AdmissionPlugin {
  /** May change attrs.object, or throw a StatusError to refuse. */
  admit(attrs: AdmissionAttributes, ctx: AdmissionContext): void | Promise<void>;
}

export interface ValidatingAdmission extends AdmissionPlugin {
  /** May only refuse (throw a StatusError); must not change the object. */
  validate(attrs: AdmissionAttributes, ctx: AdmissionContext): void | Promise<void>;
}

export interface AdmissionChain {
  mutating: MutatingAdmission[];
  validating: ValidatingAdmission[];
}

/** True when a plugin is to be called for these attributes. */
export function pluginApplies(plugin: AdmissionPlugin, attrs: AdmissionAttributes): boolean {
  if (attrs.operation === 'CREATE' && attrs.subresource !== '' && !plugin.subresourceActions) return false;
  return plugin.operations.includes(attrs.operation) && (plugin.handles?.(attrs) ?? true);
}

/** True when the attributes address the core/v1 resource `plural` (plugins' usual narrowing). */
export function isCoreResource(attrs: AdmissionAttributes, plural: string): boolean {
  return attrs.resource.group === '' && attrs.resource.plural === plural;
}
