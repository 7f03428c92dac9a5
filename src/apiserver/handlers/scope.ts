/**
 * What every verb handler shares (kube-apiserver's RequestScope): the storage operations, conversion between a
 * served version and its stored form, decoding and checking request objects, encoding answers (JSON or a
 * server-side Table), and the managed-fields recording policy.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject } from '../../api/object.js';
import { groupVersion } from '../../api/object.js';
import { badRequest, invalid } from '../../api/status.js';
import { fieldManagerOf, recordUpdate } from '../apply/apply.js';
import type { UserInfo } from '../auth/user-info.js';
import { warningHeaderValues } from '../limits/warning-headers.js';
import { auditAnnotator } from '../audit/auditor.js';
import type { ExtraOpenApi } from '../openapi/openapi.js';
import { ResourceRegistry } from '../registry/resource-registry.js';
import type { ResourceDefinition } from '../registry/types.js';
import type { ResourceRequestInfo } from '../request-info.js';
import type { ResourceOps, WriteOptions } from '../resource-ops.js';
import { decodeBody, fieldValidation, isDryRun, readBody, type BodyDecoders, type FieldValidation } from './decode.js';
import { negotiateResponse, sendObjectAs } from './output.js';

/** Optional pieces supplied by other modules (OpenAPI, patching, protobuf, strict validation, input limits). */
export interface HandlerExtensions extends BodyDecoders {
  /** Applies a patch of the given content type; returns the patched object. */
  /** `original` is the caller's private copy: it may become (part of) the result. `patch` is not modified. */
  applyPatch?(contentType: string, original: KubeObject, patch: unknown, def: ResourceDefinition): KubeObject;
  /**
   * Checks a decoded object against its schema: wrong-typed values (reported), unknown fields (reported, for
   * fieldValidation), and null fields (removed, as Go decodes them to zero values). Mutates obj.
   */
  checkDecoded?(def: ResourceDefinition, obj: unknown): { unknown: string[]; typeErrors: string[] };
  /** Serves /openapi/v3 and /openapi/v3/<gv> (and v2); returns false when the path is not an OpenAPI document. */
  serveOpenApi?(path: string, query: URLSearchParams, res: ServerResponse): boolean;
  /** Called once with the server's registry, so what derives from the served resources (OpenAPI) follows it. */
  followRegistry?(registry: ResourceRegistry): void;
  /** Called once with the aggregation layer's OpenAPI of APIService backends, merged into /openapi/v2 and v3. */
  followAggregatedOpenApi?(extra: ExtraOpenApi): void;
}

/** One resource request, as the handlers see it. */
export interface ApiRequest {
  req: IncomingMessage;
  res: ServerResponse;
  info: ResourceRequestInfo;
  query: URLSearchParams;
  user: UserInfo;
  /** The served definition the path addresses. */
  def: ResourceDefinition;
  /** Warnings for the response (unknown fields under fieldValidation=Warn). */
  warnings: string[];
}

/**
 * The control plane's own identities, whose writes are not recorded in managedFields: at 10,000 pods the status
 * churn of controllers, scheduler and node agents doubled memory and cost a third of the throughput. Deviation from
 * upstream, which records every writer; users' writes (kubectl, client libraries, Helm) and every apply are recorded.
 * Decided by who writes, never by which transport carried the request.
 */
export function isControlPlaneIdentity(user: UserInfo): boolean {
  const name = user.username;
  if (name === 'system:apiserver' || name === 'system:kube-controller-manager' || name === 'system:kube-scheduler') return true;
  if (name.startsWith('system:serviceaccount:kube-system:')) return true;
  return name.startsWith('system:node:') && user.groups.includes('system:nodes');
}

/** An object as a served version shows it, with its JSON when that is the stored JSON. */
export interface Outward {
  obj: KubeObject;
  json: string | undefined;
}

export class RequestScope {
  /** The served resources, built-in and custom (looked up per request: custom resources come and go). */
  readonly registry: ResourceRegistry;

  constructor(
    readonly ops: ResourceOps,
    resources: readonly ResourceDefinition[] | ResourceRegistry,
    readonly ext: HandlerExtensions,
  ) {
    this.registry = ResourceRegistry.of(resources);
  }

  /** The served definition of group/version/plural, if any. */
  lookup(group: string, version: string, plural: string): ResourceDefinition | undefined {
    return this.registry.lookup(group, version, plural);
  }

  /** The first served version of group/plural (registry order lists each group's preferred version first). */
  preferred(group: string, plural: string): ResourceDefinition | undefined {
    return this.registry.preferred(group, plural);
  }

  /** The definition whose objects are stored for def (itself, unless def is a converted view of another version). */
  storageOf(def: ResourceDefinition): ResourceDefinition {
    if (!def.storedAs) return def;
    const s = this.lookup(def.storedAs.group, def.storedAs.version, def.storedAs.plural);
    if (!s) throw new Error(`${def.plural}.${def.group}/${def.version} is stored as ${def.storedAs.plural} ${def.storedAs.group}/${def.storedAs.version}, which is not served`);
    return s;
  }

  /**
   * A stored object as the served version shows it; a promise when that takes a call (a CRD's conversion webhook:
   * `storedAs.remote`). `outward` is the same without waiting.
   */
  toServed(def: ResourceDefinition, obj: KubeObject, json?: string): Outward | Promise<Outward> {
    const remote = def.storedAs?.remote;
    if (remote && obj.apiVersion !== groupVersion(def.group, def.version)) {
      return remote.fromStorage([obj]).then(([converted]) => ({ obj: converted!, json: JSON.stringify(converted) }));
    }
    return this.outward(def, obj, json);
  }

  /**
   * Stored objects as the served version shows them, in one call for those a conversion webhook converts (upstream
   * sends a list's objects in one ConversionReview).
   */
  toServedAll<T extends { obj: KubeObject; json: string }>(def: ResourceDefinition, items: T[]): T[] | Promise<T[]> {
    const remote = def.storedAs?.remote;
    if (remote) {
      const gv = groupVersion(def.group, def.version);
      if (items.some((it) => it.obj.apiVersion !== gv)) {
        return remote.fromStorage(items.map((it) => it.obj)).then((objs) => items.map((it, i) => (objs[i] === it.obj ? it : { ...it, obj: objs[i]!, json: JSON.stringify(objs[i]) })));
      }
    }
    return items.map((it) => ({ ...it, ...this.outward(def, it.obj) }) as T);
  }

  /** A stored object as the served version shows it, without waiting: a conversion that needs a call is refused (500). */
  outward(def: ResourceDefinition, obj: KubeObject, json?: string): Outward {
    if (!def.storedAs) return { obj, json };
    const converted = def.storedAs.fromStorage(obj);
    // A view that leaves the object as stored (a custom resource's storage version) keeps its stored JSON.
    if (converted === obj && json !== undefined) return { obj, json };
    return { obj: converted, json: JSON.stringify(converted) };
  }

  /** A served-version object in its stored form, without waiting (a conversion that needs a call is refused). */
  inward(def: ResourceDefinition, obj: KubeObject): KubeObject {
    return def.storedAs ? def.storedAs.toStorage(obj) : obj;
  }

  /** A served-version object in its stored form; a promise when a conversion webhook converts it. */
  toStored(def: ResourceDefinition, obj: KubeObject): KubeObject | Promise<KubeObject> {
    const s = def.storedAs;
    if (s?.remote && obj.apiVersion !== groupVersion(s.group, s.version)) return s.remote.toStorage({ ...obj, apiVersion: groupVersion(def.group, def.version), kind: def.kind });
    return this.inward(def, obj);
  }

  /** For a converted view, defaults and validation of the served version run before conversion, so errors name its fields. */
  inwardForCreate(def: ResourceDefinition, ns: string, obj: KubeObject): KubeObject {
    return def.storedAs ? this.inward(def, this.servedForCreate(def, ns, obj)) : obj;
  }

  /** inwardForCreate, a promise when a conversion webhook converts the object. */
  toStoredForCreate(def: ResourceDefinition, ns: string, obj: KubeObject): KubeObject | Promise<KubeObject> {
    return def.storedAs ? this.toStored(def, this.servedForCreate(def, ns, obj)) : obj;
  }

  private servedForCreate(def: ResourceDefinition, ns: string, obj: KubeObject): KubeObject {
    const served = structuredClone(obj);
    if (def.namespaced) served.metadata.namespace ??= ns;
    def.strategy.prepareForCreate?.(served);
    const errors = def.strategy.validate(served);
    if (errors.length > 0) throw invalid(def.kind, def.group || undefined, served.metadata?.name ?? '', errors);
    return served;
  }

  /** Reads and decodes a request body to a plain value. */
  async readValue(r: ApiRequest): Promise<unknown> {
    return decodeBody(r.req.headers['content-type'], await readBody(r.req), this.ext);
  }

  /** Reads and checks the object of a create or update: an object, of this kind, with only known fields under Strict. */
  async readObject(r: ApiRequest): Promise<KubeObject> {
    const value = await this.readValue(r);
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw badRequest('the request body must be a JSON object');
    const obj = value as KubeObject;
    const { def } = r;
    const gv = groupVersion(def.group, def.version);
    if (obj.apiVersion !== undefined && obj.apiVersion !== gv) {
      throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${gv})`);
    }
    if (obj.kind !== undefined && obj.kind !== def.kind) {
      throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${def.kind})`);
    }
    if (obj.metadata !== undefined && (typeof obj.metadata !== 'object' || obj.metadata === null || Array.isArray(obj.metadata))) {
      throw badRequest('metadata must be an object');
    }
    this.checkDecoded(r, obj, fieldValidation(r.query));
    obj.metadata ??= {};
    return obj;
  }

  /** 400 for values of the wrong type (as Go's decoder), and for unknown fields under fieldValidation=Strict. */
  checkDecoded(r: ApiRequest, obj: unknown, validation: FieldValidation): void {
    const { def } = r;
    const report = this.ext.checkDecoded?.(def, obj);
    if (!report) return;
    if (report.typeErrors.length > 0) {
      throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: json: ${report.typeErrors.slice(0, 5).join('; ')}`);
    }
    if (report.unknown.length === 0 || validation === 'Ignore') return;
    if (validation === 'Strict') {
      throw badRequest(`strict decoding error: ${report.unknown.map((f) => `unknown field "${f}"`).join(', ')}`);
    }
    // Warn (the default): the fields are dropped and the client is told, as `Warning: unknown field "spec.foo"`.
    r.warnings.push(...report.unknown.map((f) => `unknown field "${f}"`));
  }

  /**
   * Write options of a request: dry run, the writer's identity, managed-fields recording for `subresource`,
   * admission's warnings into the response's `Warning` headers and its annotations into the audit event.
   * `created`: the object of a create, as decoded.
   */
  writeOptions(r: ApiRequest, subresource: string, created?: KubeObject): WriteOptions {
    return { dryRun: isDryRun(r.query), user: r.user, recordManagedFields: this.updateRecorder(r, subresource, created), warn: (text) => r.warnings.push(text), annotate: auditAnnotator(r.req) };
  }

  /**
   * Records a create, update or patch as an Update manager in managedFields: the `fieldManager` parameter, else
   * the User-Agent's first segment (upstream managerOrUserAgent), so server-side apply sees who set what.
   *
   * A create is recorded from the object as the client sent it, before defaults and admission, as upstream's create
   * handler records it before admission: what admission plugins add (the service account token's volume and mounts,
   * tolerations, priority) belongs to nobody. Owned by the creator, those fields would be pruned by the creator's
   * next server-side apply (kubectl's client-side to server-side migration moves ownership to `kubectl`), which a
   * Pod refuses as a forbidden update.
   */
  private updateRecorder(r: ApiRequest, subresource: string, created?: KubeObject): WriteOptions['recordManagedFields'] {
    if (isControlPlaneIdentity(r.user)) return undefined;
    const manager = fieldManagerOf(r.query.get('fieldManager'), r.req.headers['user-agent']);
    const storage = this.storageOf(r.def);
    const typeName = storage.schemaName;
    const type = storage.customSchema?.applyType?.();
    const statusIsSubresource = r.def.hasStatus;
    const record = (live: KubeObject | undefined, next: KubeObject) => recordUpdate({ live, next, manager, typeName, type, now: new Date(), subresource, statusIsSubresource });
    if (!created) return record;
    const sent = { ...created, metadata: { ...created.metadata } } as KubeObject;
    record(undefined, sent);
    const fields = sent.metadata.managedFields;
    return (live, next) => {
      if (live) return record(live, next);
      if (fields === undefined) delete next.metadata.managedFields;
      else next.metadata.managedFields = fields;
    };
  }

  /** Answers with an object in the served version, as negotiated: JSON, YAML or protobuf, its metadata only, or a one-row Table. */
  sendObject(r: ApiRequest, code: number, storedObj: KubeObject, storedJson?: string, rv?: string): void | Promise<void> {
    const out = this.toServed(r.def, storedObj, storedJson ?? this.ops.writtenJson(storedObj));
    if (out instanceof Promise) return out.then((o) => this.send(r, code, o.obj, o.json, rv));
    this.send(r, code, out.obj, out.json, rv);
  }

  private send(r: ApiRequest, code: number, obj: KubeObject, json: string | undefined, rv: string | undefined): void {
    const fmt = negotiateResponse(r.req, r.query, r.def);
    // RFC 7234 warn-code 299 with agent "-": the form kube-apiserver uses and kubectl prints as "Warning: ...".
    if (r.warnings.length > 0) r.res.setHeader('Warning', warningHeaderValues(r.warnings));
    sendObjectAs(r.res, fmt, r.def, code, obj, json, r.query, rv);
  }

}
