/**
 * OpenAPI v3 as kube-apiserver serves it: an index at /openapi/v3 naming one document per group
 * version by a content-hashed URL, and the documents at /openapi/v3/api/v1 and /openapi/v3/apis/<g>/<v>.
 *
 * kubectl needs this for more than `explain`: apply/create/edit switch to server-side field validation
 * (`fieldValidation=Strict`) only when the group version's document has a PATCH operation for the kind
 * listing a `fieldValidation` parameter. Without it they fall back to client-side validation, which
 * downloads /openapi/v2 (reference/kubectl-api-compat.md finding 2, §4.6).
 *
 * /openapi/v2 is served too (v2-openapi.ts), derived from these same documents: kubectl 1.27 and 1.28 read
 * only that one, as protobuf.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { groupVersion } from '../../api/object.js';
import { typeForKind, typeOf } from '../../api/schema/schema.js';
import { pathNotFound } from '../../api/status.js';
import { ResourceRegistry } from '../registry/resource-registry.js';
import type { ResourceDefinition } from '../registry/types.js';
import { componentSchemas, referencedSchemas, schemaRef, type GroupVersionKind, type JsonSchema } from './component-schemas.js';
import { pathItems } from './path-items.js';
import { OPENAPI_V2_PATH, OpenApiV2 } from './v2-openapi.js';

/** The `info` block of every document; kubectl ignores it, the version names the API level we copy. */
const INFO = { title: 'Kubernetes', version: 'v1.32.0' };
const LIST_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta';
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const OPENAPI_V3 = '/openapi/v3';

export interface OpenApiV3Options {
  /**
   * List `application/strategic-merge-patch+json` on PATCH operations of built-in kinds (default false).
   * kubectl then computes strategic merge patches from these schemas rather than from its compiled-in
   * types; keep it off until the schemas are proven complete against kubectl's patch computation (§3.2).
   */
  advertiseStrategicMerge?: boolean;
}

/**
 * OpenAPI served by others and merged into this server's (the aggregation layer's APIService backends,
 * aggregator/openapi-aggregator.ts). Its views are synchronous over what it has fetched; it calls `onChange` after.
 */
export interface ExtraOpenApi {
  /** This server's Swagger 2.0 document with the others' paths and definitions added. */
  mergeV2(doc: JsonSchema): JsonSchema;
  /** Further /openapi/v3 index entries: key (`apis/<g>/<v>`) -> serverRelativeURL. */
  v3Paths(): ReadonlyMap<string, string>;
  /** Answers GET /openapi/v3/<key> for one of its keys (possibly after this returns); false for other keys. */
  serveV3(key: string, query: URLSearchParams, res: ServerResponse): boolean;
  onChange(fn: () => void): void;
}

/** A rendered document and the hash that names it in the index. */
interface RenderedDocument {
  json: string;
  /** Upper-case hex SHA-512 of `json`, as kube-openapi's handler3 computes its ETag. */
  hash: string;
}

export class OpenApiV3 {
  /** Resources by index key (`api/v1`, `apis/apps/v1`), in registry order. */
  private byKey = new Map<string, ResourceDefinition[]>();
  private readonly documents = new Map<string, RenderedDocument>();
  private index: RenderedDocument | undefined;
  private readonly advertiseStrategicMerge: boolean;
  private readonly registry: ResourceRegistry;
  /**
   * /openapi/v2, built from the same group-version documents, with strategic merge patch listed only when
   * `advertiseStrategicMerge` says so, as in v3: until then every kubectl (1.27 reads v2, 1.32 falls back to it)
   * computes apply patches from its compiled-in types, which is what the schemas have not yet been proven against.
   * Rendered when /openapi/v2 is first asked for, and again after the registry changed.
   */
  private v2 = this.newV2();
  private extra: ExtraOpenApi | undefined;

  /** The documents follow a registry: a group version whose resources change is rendered again on its next request. */
  constructor(resources: readonly ResourceDefinition[] | ResourceRegistry, opts: OpenApiV3Options = {}) {
    this.registry = ResourceRegistry.of(resources);
    this.advertiseStrategicMerge = opts.advertiseStrategicMerge ?? false;
    this.rebuild();
    this.registry.onChange((changed) => {
      this.rebuild();
      for (const gv of changed) this.documents.delete(gv.includes('/') ? `apis/${gv}` : `api/${gv}`);
      this.index = undefined;
      this.v2 = this.newV2();
    });
  }

  private newV2(): OpenApiV2 {
    return new OpenApiV2(
      () => [...this.byKey.values()].map((defs) => this.buildDocument(defs, this.advertiseStrategicMerge)),
      (doc) => this.extra?.mergeV2(doc) ?? doc,
    );
  }

  /** Merges `extra` into /openapi/v2 and the /openapi/v3 index from now on, following its changes. */
  setExtra(extra: ExtraOpenApi): void {
    this.extra = extra;
    const changed = () => {
      this.index = undefined;
      this.v2 = this.newV2();
    };
    extra.onChange(changed);
    changed();
  }

  private rebuild(): void {
    const byKey = new Map<string, ResourceDefinition[]>();
    for (const def of this.registry.all()) {
      const key = indexKey(def.group, def.version);
      let list = byKey.get(key);
      if (!list) byKey.set(key, (list = []));
      list.push(def);
    }
    this.byKey = byKey;
  }

  /** Index keys of the served group versions, e.g. `api/v1`, `apis/apps/v1`. */
  get groupVersions(): string[] {
    return [...this.byKey.keys()];
  }

  /** The /openapi/v3 index (JSON text); builds every group version's document on first use. */
  indexJson(): string {
    return this.indexDocument().json;
  }

  /** The document for an index key such as `apis/apps/v1` (JSON text), or undefined when that group version is not served. */
  documentJson(key: string): string | undefined {
    return this.document(key)?.json;
  }

  /** The /openapi/v2 document (Swagger 2.0 JSON and gnostic protobuf). */
  get openApiV2(): OpenApiV2 {
    return this.v2;
  }

  /**
   * Serves GET /openapi/v3, /openapi/v3/<api/v1 | apis/g/v> and /openapi/v2 (negotiated by the request's
   * Accept header, read from `res.req`). Returns false for other paths (a plain 404 from the caller); an
   * unknown group version is answered here with a 404 Status. An arrow property, so it can be handed over
   * unbound (`extensions.serveOpenApi = openapi.serveOpenApi`).
   */
  serveOpenApi = (path: string, query: URLSearchParams, res: ServerResponse): boolean => {
    if (path === OPENAPI_V2_PATH) {
      // res.req is the request on Node's HTTP servers; a response object without one gets the JSON default.
      this.v2.serve((res.req as ServerResponse['req'] | undefined)?.headers ?? {}, res);
      return true;
    }
    if (path === OPENAPI_V3 || path === `${OPENAPI_V3}/`) {
      const index = this.indexDocument();
      send(res, index, false);
      return true;
    }
    if (!path.startsWith(`${OPENAPI_V3}/`)) return false;
    const doc = this.document(path.slice(OPENAPI_V3.length + 1));
    if (!doc && this.extra?.serveV3(path.slice(OPENAPI_V3.length + 1), query, res)) return true;
    if (!doc) {
      const status = pathNotFound();
      const body = JSON.stringify(status.status);
      res.writeHead(status.code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return true;
    }
    // kube-openapi redirects a stale hash to the current URL; we answer with the current document
    // directly, but only a matching hash is marked immutable, so a client never caches a document under
    // a hash it does not have.
    send(res, doc, query.get('hash') === doc.hash);
    return true;
  };

  private indexDocument(): RenderedDocument {
    if (!this.index) {
      const paths: Record<string, { serverRelativeURL: string }> = {};
      for (const key of [...this.byKey.keys()].sort()) {
        paths[key] = { serverRelativeURL: `${OPENAPI_V3}/${key}?hash=${this.document(key)!.hash}` };
      }
      for (const [key, url] of this.extra?.v3Paths() ?? []) if (!this.byKey.has(key)) paths[key] = { serverRelativeURL: url };
      this.index = rendered({ paths });
    }
    return this.index;
  }

  private document(key: string): RenderedDocument | undefined {
    let doc = this.documents.get(key);
    if (!doc) {
      const defs = this.byKey.get(key);
      if (!defs) return undefined;
      doc = rendered(this.buildDocument(defs, this.advertiseStrategicMerge));
      this.documents.set(key, doc);
    }
    return doc;
  }

  private buildDocument(defs: readonly ResourceDefinition[], advertiseStrategicMerge: boolean): JsonSchema {
    const gvks = new Map<string, GroupVersionKind[]>();
    const tag = (name: string, gvk: GroupVersionKind): void => {
      const list = gvks.get(name) ?? [];
      if (!list.some((g) => g.group === gvk.group && g.version === gvk.version && g.kind === gvk.kind)) list.push(gvk);
      gvks.set(name, list);
    };
    const synthetic = new Map<string, JsonSchema>();
    const listNames = new Map<ResourceDefinition, string>();
    for (const def of defs) {
      tag(def.schemaName, { group: def.group, version: def.version, kind: def.kind });
      if (!typeOf(def.schemaName)) synthetic.set(def.schemaName, def.customSchema?.openApi ?? unknownKindSchema(def));
      const listName = typeForKind(def.group, def.version, def.listKind)?.name ?? `${def.schemaName}List`;
      listNames.set(def, listName);
      tag(listName, { group: def.group, version: def.version, kind: def.listKind });
      if (!typeOf(listName)) synthetic.set(listName, listSchema(def));
    }
    const paths = pathItems(defs, {
      advertiseStrategicMerge,
      listSchemaOf: (def) => listNames.get(def)!,
      schemaForKind: (gvk) => {
        const name = typeForKind(gvk.group, gvk.version, gvk.kind)?.name;
        if (!name) throw new Error(`openapi: no schema table type for subresource kind ${groupVersion(gvk.group, gvk.version)} ${gvk.kind}`);
        return name;
      },
      isBuiltIn: (def) => typeOf(def.schemaName) !== undefined,
    });
    const roots = referencedSchemas(paths);
    return {
      openapi: '3.0.0',
      info: INFO,
      paths,
      components: {
        schemas: componentSchemas({ roots, gvks, synthetic }),
        securitySchemes: { BearerToken: { type: 'apiKey', name: 'authorization', in: 'header', description: 'Bearer Token authentication' } },
      },
      security: [{ BearerToken: [] }],
    };
  }
}

/** `api/v1` for the core group, `apis/<group>/<version>` otherwise: the index keys kubectl looks up. */
export function indexKey(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

function rendered(value: unknown): RenderedDocument {
  const json = JSON.stringify(value);
  return { json, hash: createHash('sha512').update(json).digest('hex').toUpperCase() };
}

function send(res: ServerResponse, doc: RenderedDocument, immutable: boolean): void {
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(doc.json),
    Etag: JSON.stringify(doc.hash),
  };
  if (immutable) {
    // As kube-openapi's handler3 does for hashed URLs: the content behind this URL never changes.
    headers['Cache-Control'] = 'public, immutable';
    headers.Expires = new Date(Date.now() + 365 * 24 * 3600 * 1000).toUTCString();
    headers.Vary = 'Accept';
  }
  res.writeHead(200, headers);
  res.end(doc.json);
}

/** A kind the schema table does not know (no compiled-in type): typed envelope, anything else preserved. */
function unknownKindSchema(def: ResourceDefinition): JsonSchema {
  return {
    description: `${def.kind} has no published schema; fields other than apiVersion, kind and metadata are not described.`,
    type: 'object',
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      metadata: { allOf: [schemaRef(OBJECT_META)], description: "Standard object's metadata." },
    },
    'x-kubernetes-preserve-unknown-fields': true,
  };
}

function listSchema(def: ResourceDefinition): JsonSchema {
  return {
    description: `${def.listKind} is a list of ${def.kind} objects.`,
    type: 'object',
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      items: { type: 'array', items: schemaRef(def.schemaName), description: `List of ${def.plural}.` },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      metadata: { allOf: [schemaRef(LIST_META)], description: "Standard list metadata." },
    },
    required: ['items'],
  };
}
