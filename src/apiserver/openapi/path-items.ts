/**
 * The `paths` of an OpenAPI v3 group-version document, derived from the resource registry: collection
 * and item paths (namespaced, cluster-scoped, and the all-namespaces list) with one operation per served
 * verb, plus the status, scale, binding and finalize subresources. Operation ids, descriptions, actions
 * and parameters follow kube-apiserver 1.32's published documents (api/openapi-spec/v3).
 *
 * What kubectl reads here (reference/kubectl-api-compat.md §3.2, §4.6; cli-runtime
 * query_param_verifier_v3.go): for a write it looks for a PATCH operation whose
 * `x-kubernetes-group-version-kind` (a single object) is the GVK and whose own `parameters` list
 * `fieldValidation`; it stops at the first PATCH operation for the GVK it meets, so every PATCH
 * operation (the main resource's and the status subresource's alike) carries the same parameters.
 */
import { ALL_VERBS, subresourcesOf } from '../discovery.js';
import type { ResourceDefinition, Verb } from '../registry/types.js';
import { PATCH_SCHEMA, schemaRef, type GroupVersionKind, type JsonSchema } from './component-schemas.js';

const META_V1 = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const STATUS_SCHEMA = `${META_V1}Status`;
const DELETE_OPTIONS_SCHEMA = `${META_V1}DeleteOptions`;

/**
 * Patch content types accepted by PATCH operations. `application/strategic-merge-patch+json` is added
 * only when `advertiseStrategicMerge` is set: its presence makes kubectl compute strategic merge patches
 * from this document's schemas instead of its compiled-in types, and any gap in them shows up as
 * `warning: error calculating patch from openapi v3 spec` on every apply (§3.2).
 */
const PATCH_CONTENT_TYPES = ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json'];
const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';

export interface PathOptions {
  /** List `application/strategic-merge-patch+json` on PATCH operations of table-backed (built-in) kinds. */
  advertiseStrategicMerge: boolean;
  /** The schema name of a served kind's list type. */
  listSchemaOf(def: ResourceDefinition): string;
  /** The schema name for a subresource's GVK (Scale, Binding). */
  schemaForKind(gvk: GroupVersionKind): string;
  /** True when def's kind comes from the schema table (built in), false for kinds without a compiled-in type. */
  isBuiltIn(def: ResourceDefinition): boolean;
}

type Operation = JsonSchema;
type PathItem = Record<string, unknown>;

function queryParam(name: string, type: 'string' | 'integer' | 'boolean', description: string): JsonSchema {
  return { name, in: 'query', description, schema: { type } };
}

function pathParam(name: string, description: string): JsonSchema {
  return { name, in: 'path', required: true, description, schema: { type: 'string' } };
}

// Parameter descriptions are shortened from upstream's; kubectl only matches on name and `in`.
const P = {
  allowWatchBookmarks: queryParam('allowWatchBookmarks', 'boolean', 'Requests watch events with type "BOOKMARK"; servers may ignore it.'),
  continue: queryParam('continue', 'string', 'The continue token from a previous paginated list call.'),
  dryRun: queryParam('dryRun', 'string', 'When present, modifications are not persisted. The only valid value is All.'),
  fieldManager: queryParam('fieldManager', 'string', 'The name of the actor or entity making these changes, recorded in managedFields.'),
  fieldSelector: queryParam('fieldSelector', 'string', 'Restricts the returned objects by their fields.'),
  fieldValidation: queryParam(
    'fieldValidation',
    'string',
    'How the server handles unknown or duplicate fields in the request body: Ignore, Warn or Strict.',
  ),
  force: queryParam('force', 'boolean', 'Force apply requests: take ownership of fields other managers own. Only valid for apply patches.'),
  gracePeriodSeconds: queryParam('gracePeriodSeconds', 'integer', 'Seconds before the object is deleted; zero means delete immediately.'),
  labelSelector: queryParam('labelSelector', 'string', 'Restricts the returned objects by their labels.'),
  limit: queryParam('limit', 'integer', 'The maximum number of items to return in one list call; the rest is reached with continue.'),
  orphanDependents: queryParam('orphanDependents', 'boolean', 'Deprecated: use propagationPolicy.'),
  propagationPolicy: queryParam('propagationPolicy', 'string', 'Garbage collection of dependents: Orphan, Background or Foreground.'),
  resourceVersion: queryParam('resourceVersion', 'string', 'Constrains which resource versions a list or watch may be served from.'),
  resourceVersionMatch: queryParam('resourceVersionMatch', 'string', 'How resourceVersion applies to list calls: Exact or NotOlderThan.'),
  sendInitialEvents: queryParam('sendInitialEvents', 'boolean', 'Starts a watch with synthetic events for the current state, then a bookmark.'),
  timeoutSeconds: queryParam('timeoutSeconds', 'integer', 'Timeout for the list or watch call.'),
  watch: queryParam('watch', 'boolean', 'Watch for changes and return them as a stream of add, update and remove notifications.'),
};

const LIST_PARAMS = [
  P.allowWatchBookmarks,
  P.continue,
  P.fieldSelector,
  P.labelSelector,
  P.limit,
  P.resourceVersion,
  P.resourceVersionMatch,
  P.sendInitialEvents,
  P.timeoutSeconds,
  P.watch,
];
const WRITE_PARAMS = [P.dryRun, P.fieldManager, P.fieldValidation];
const PATCH_PARAMS = [P.dryRun, P.fieldManager, P.fieldValidation, P.force];
const DELETE_PARAMS = [P.dryRun, P.gracePeriodSeconds, P.orphanDependents, P.propagationPolicy];

const UNAUTHORIZED = { description: 'Unauthorized' };

function jsonContent(schemaName: string, types = ['application/json']): JsonSchema {
  return Object.fromEntries(types.map((t) => [t, { schema: schemaRef(schemaName) }]));
}

function responses(codes: Record<number, string>, schemaName: string, types?: string[]): JsonSchema {
  const out: JsonSchema = {};
  for (const [code, description] of Object.entries(codes)) out[code] = { description, content: jsonContent(schemaName, types) };
  out['401'] = UNAUTHORIZED;
  return out;
}

function bodyOf(schemaName: string, required: boolean): JsonSchema {
  return { content: { '*/*': { schema: schemaRef(schemaName) } }, ...(required ? { required: true } : {}) };
}

/** `Apps`, `RbacAuthorization`, `Core`: the group as it appears in upstream operation ids. */
function groupWord(group: string): string {
  if (group === '') return 'Core';
  return group
    .replace(/\.k8s\.io$/, '')
    .split(/[.-]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** `apps_v1`, `core_v1`, `rbacAuthorization_v1`: upstream's operation tag. */
function tagOf(group: string, version: string): string {
  const word = groupWord(group);
  return `${word.charAt(0).toLowerCase()}${word.slice(1)}_${version}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The API path prefix of a group version: `/api/v1` or `/apis/apps/v1`. */
export function apiPrefix(group: string, version: string): string {
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

/**
 * Builds the path items of one group version's resources, keyed by path and sorted, each operation
 * carrying `x-kubernetes-action` and `x-kubernetes-group-version-kind`.
 */
export function pathItems(defs: readonly ResourceDefinition[], opts: PathOptions): Record<string, PathItem> {
  const paths = new Map<string, PathItem>();
  const add = (path: string, method: string, op: Operation, params: JsonSchema[]): void => {
    let item = paths.get(path);
    if (!item) {
      item = {};
      if (params.length > 0) item.parameters = params;
      paths.set(path, item);
    }
    item[method] = op;
  };

  for (const def of defs) {
    const gvk: GroupVersionKind = { group: def.group, version: def.version, kind: def.kind };
    const gvWord = `${groupWord(def.group)}${capitalize(def.version)}`;
    const tags = [tagOf(def.group, def.version)];
    const scope = def.namespaced ? 'Namespaced' : '';
    const verbs = new Set<Verb>(def.verbs ?? ALL_VERBS);
    const collection = `${apiPrefix(def.group, def.version)}${def.namespaced ? '/namespaces/{namespace}' : ''}/${def.plural}`;
    const item = `${collection}/{name}`;
    const nsParam = def.namespaced ? [pathParam('namespace', 'object name and auth scope, such as for teams and projects')] : [];
    const itemParams = [pathParam('name', `name of the ${def.kind}`), ...nsParam];
    const patchTypes = opts.advertiseStrategicMerge && opts.isBuiltIn(def) ? [...PATCH_CONTENT_TYPES, STRATEGIC_MERGE_PATCH] : PATCH_CONTENT_TYPES;

    const op = (action: string, operationId: string, description: string, target: GroupVersionKind, rest: JsonSchema): Operation => ({
      tags,
      description,
      operationId,
      ...rest,
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': { group: target.group, kind: target.kind, version: target.version },
    });
    const patchOp = (operationId: string, description: string, target: GroupVersionKind, schemaName: string): Operation =>
      op('patch', operationId, description, target, {
        parameters: PATCH_PARAMS,
        requestBody: { content: Object.fromEntries(patchTypes.map((t) => [t, { schema: schemaRef(PATCH_SCHEMA) }])), required: true },
        responses: responses({ 200: 'OK', 201: 'Created' }, schemaName),
      });
    const listSchema = opts.listSchemaOf(def);
    const listTypes = ['application/json', 'application/json;stream=watch'];

    if (verbs.has('list')) {
      add(collection, 'get', op('list', `list${gvWord}${scope}${def.kind}`, `list or watch objects of kind ${def.kind}`, gvk, {
        parameters: LIST_PARAMS,
        responses: responses({ 200: 'OK' }, listSchema, listTypes),
      }), nsParam);
      if (def.namespaced) {
        add(`${apiPrefix(def.group, def.version)}/${def.plural}`, 'get', op('list', `list${gvWord}${def.kind}ForAllNamespaces`, `list or watch objects of kind ${def.kind}`, gvk, {
          parameters: LIST_PARAMS,
          responses: responses({ 200: 'OK' }, listSchema, listTypes),
        }), []);
      }
    }
    if (verbs.has('create')) {
      add(collection, 'post', op('post', `create${gvWord}${scope}${def.kind}`, `create a ${def.kind}`, gvk, {
        parameters: WRITE_PARAMS,
        requestBody: bodyOf(def.schemaName, true),
        responses: responses({ 200: 'OK', 201: 'Created', 202: 'Accepted' }, def.schemaName),
      }), nsParam);
    }
    if (verbs.has('deletecollection')) {
      add(collection, 'delete', op('deletecollection', `delete${gvWord}Collection${scope}${def.kind}`, `delete collection of ${def.kind}`, gvk, {
        parameters: [...DELETE_PARAMS, ...LIST_PARAMS.filter((p) => p !== P.watch && p !== P.allowWatchBookmarks)],
        requestBody: bodyOf(DELETE_OPTIONS_SCHEMA, false),
        responses: responses({ 200: 'OK' }, STATUS_SCHEMA),
      }), nsParam);
    }
    if (verbs.has('get')) {
      add(item, 'get', op('get', `read${gvWord}${scope}${def.kind}`, `read the specified ${def.kind}`, gvk, {
        responses: responses({ 200: 'OK' }, def.schemaName),
      }), itemParams);
    }
    if (verbs.has('update')) {
      add(item, 'put', op('put', `replace${gvWord}${scope}${def.kind}`, `replace the specified ${def.kind}`, gvk, {
        parameters: WRITE_PARAMS,
        requestBody: bodyOf(def.schemaName, true),
        responses: responses({ 200: 'OK', 201: 'Created' }, def.schemaName),
      }), itemParams);
    }
    if (verbs.has('patch')) {
      add(item, 'patch', patchOp(`patch${gvWord}${scope}${def.kind}`, `partially update the specified ${def.kind}`, gvk, def.schemaName), itemParams);
    }
    if (verbs.has('delete')) {
      add(item, 'delete', op('delete', `delete${gvWord}${scope}${def.kind}`, `delete a ${def.kind}`, gvk, {
        parameters: DELETE_PARAMS,
        requestBody: bodyOf(DELETE_OPTIONS_SCHEMA, false),
        responses: responses({ 200: 'OK', 202: 'Accepted' }, STATUS_SCHEMA),
      }), itemParams);
    }

    for (const sub of subresourcesOf(def)) {
      // Streaming subresources take query options and answer raw streams: kubectl never reads their schema.
      if (sub.connect) continue;
      const subGvk: GroupVersionKind = { group: sub.group ?? def.group, version: sub.version ?? def.version, kind: sub.kind };
      const schemaName = sub.kind === def.kind && sub.group === undefined ? def.schemaName : opts.schemaForKind(subGvk);
      const path = `${item}/${sub.name}`;
      const suffix = `${scope}${def.kind}${capitalize(sub.name)}`;
      const what = `${sub.name} of the specified ${def.kind}`;
      const params = [pathParam('name', `name of the ${sub.kind}`), ...nsParam];
      for (const verb of sub.verbs) {
        if (verb === 'get') {
          add(path, 'get', op('get', `read${gvWord}${suffix}`, `read ${what}`, subGvk, { responses: responses({ 200: 'OK' }, schemaName) }), params);
        } else if (verb === 'update') {
          add(path, 'put', op('put', `replace${gvWord}${suffix}`, `replace ${what}`, subGvk, {
            parameters: WRITE_PARAMS,
            requestBody: bodyOf(schemaName, true),
            responses: responses({ 200: 'OK', 201: 'Created' }, schemaName),
          }), params);
        } else if (verb === 'patch') {
          add(path, 'patch', patchOp(`patch${gvWord}${suffix}`, `partially update ${what}`, subGvk, schemaName), params);
        } else if (verb === 'create') {
          add(path, 'post', op('post', `create${gvWord}${suffix}`, `create ${sub.name} of a ${def.kind}`, subGvk, {
            parameters: WRITE_PARAMS,
            requestBody: bodyOf(schemaName, true),
            responses: responses({ 200: 'OK', 201: 'Created', 202: 'Accepted' }, schemaName),
          }), params);
        } else {
          throw new Error(`openapi: subresource ${def.plural}/${sub.name} has verb ${verb}, which has no operation mapping`);
        }
      }
    }
  }

  const sorted: Record<string, PathItem> = {};
  for (const path of [...paths.keys()].sort()) sorted[path] = paths.get(path)!;
  return sorted;
}
