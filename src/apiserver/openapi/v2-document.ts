/**
 * The Swagger 2.0 document kube-apiserver serves at /openapi/v2, derived from the OpenAPI v3 group-version
 * documents (one source of truth: path-items.ts and component-schemas.ts), so both versions always describe
 * the same API.
 *
 * kubectl 1.27 and 1.28 download this document (as gnostic protobuf, see v2-protobuf.ts) before anything else
 * in `create -f`, `apply` and `explain`, and stop when that fails (observed; reference/kubectl-api-compat.md
 * finding 2, §4.6). What they take from it:
 * - kube-openapi's `proto.NewOpenAPIData` parses every definition and rejects the whole document on a
 *   `$ref` to a missing definition, a `$ref` beside `type` or `properties`, an array without exactly one
 *   `items` schema, or a primitive type it does not know; so every reachable type is a definition here and
 *   v3-only shapes (`allOf` wrappers, `oneOf`) are rewritten into what v2 allows.
 * - kubectl's resource lookup maps a GVK to the definition carrying it in the
 *   `x-kubernetes-group-version-kind` list; explain and client-side validation start there.
 * - cli-runtime's QueryParamVerifier takes the first PATCH operation whose `x-kubernetes-group-version-kind`
 *   (a single object) is the GVK and looks for an inline query parameter named `fieldValidation`; found, kubectl
 *   leaves validation to the server (`fieldValidation=Strict`).
 * - apply's patcher reads that PATCH operation's `consumes`: listing `application/strategic-merge-patch+json`
 *   makes it compute the strategic merge patch from these definitions' `x-kubernetes-patch-strategy` and
 *   `x-kubernetes-patch-merge-key` (kubectl apply/patcher.go, `getPatchTypeFromOpenAPI`).
 */
import type { JsonSchema } from './component-schemas.js';
import { SCHEMA_REF_PREFIX } from './component-schemas.js';

export const DEFINITION_REF_PREFIX = '#/definitions/';
const GVK_EXTENSION = 'x-kubernetes-group-version-kind';

/**
 * Merges OpenAPI v3 group-version documents (as path-items.ts and component-schemas.ts render them) into
 * one Swagger 2.0 document: paths from every source, sorted; definitions from every source's
 * `components.schemas`, sorted, a type served in several group versions once with the union of its GVKs.
 * Throws when a source uses a shape this conversion does not know (rather than publishing a document
 * kubectl would reject as a whole).
 */
export function v2Document(sources: readonly JsonSchema[]): JsonSchema {
  const paths = new Map<string, JsonSchema>();
  const definitions = new Map<string, JsonSchema>();
  let info: unknown;
  let securityDefinitions: JsonSchema | undefined;
  let security: unknown;
  for (const source of sources) {
    info ??= source.info;
    security ??= source.security;
    const components = object(source.components, 'components');
    if (components.securitySchemes !== undefined) securityDefinitions ??= object(components.securitySchemes, 'components.securitySchemes');
    for (const [path, item] of Object.entries(object(source.paths, 'paths'))) {
      if (paths.has(path)) throw new Error(`openapi v2: path ${path} is served by two group versions`);
      paths.set(path, pathItem(object(item, path), path));
    }
    for (const [name, schema] of Object.entries(object(components.schemas, 'components.schemas'))) {
      const converted = v2Schema(object(schema, name), name);
      const seen = definitions.get(name);
      definitions.set(name, seen ? mergeDefinition(seen, converted, name) : converted);
    }
  }
  const doc: JsonSchema = { swagger: '2.0', info: info ?? { title: 'Kubernetes', version: 'unversioned' }, paths: sortedRecord(paths), definitions: sortedRecord(definitions) };
  if (securityDefinitions) doc.securityDefinitions = securityDefinitions;
  if (security) doc.security = security;
  return doc;
}

/** The same type rendered for two group versions differs only in the GVKs it is tagged with; anything else is a bug. */
function mergeDefinition(a: JsonSchema, b: JsonSchema, name: string): JsonSchema {
  const { [GVK_EXTENSION]: gvksA, ...restA } = a;
  const { [GVK_EXTENSION]: gvksB, ...restB } = b;
  if (JSON.stringify(restA) !== JSON.stringify(restB)) throw new Error(`openapi v2: definition ${name} differs between group versions`);
  const gvks = [...((gvksA as JsonSchema[] | undefined) ?? [])];
  for (const g of (gvksB as JsonSchema[] | undefined) ?? []) {
    if (!gvks.some((h) => h.group === g.group && h.version === g.version && h.kind === g.kind)) gvks.push(g);
  }
  return gvks.length > 0 ? { ...restA, [GVK_EXTENSION]: gvks } : restA;
}

function pathItem(item: JsonSchema, path: string): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(item)) {
    if (key === 'parameters') out.parameters = (value as JsonSchema[]).map((p) => parameter(p, path));
    else if (['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(key)) out[key] = operation(object(value, `${path} ${key}`), `${path} ${key}`);
    else if (key.startsWith('x-')) out[key] = value;
    else throw new Error(`openapi v2: path item ${path} has "${key}", which has no Swagger 2.0 form here`);
  }
  return out;
}

/**
 * A v3 operation as a Swagger 2.0 one: the request body becomes a `body` parameter (first, as upstream
 * lists it) and its media types the operation's `consumes`; response media types become `produces`.
 */
function operation(op: JsonSchema, at: string): JsonSchema {
  const out: JsonSchema = {};
  const parameters: JsonSchema[] = [];
  let consumes: string[] | undefined;
  const produces: string[] = [];
  let responses: JsonSchema | undefined;
  for (const [key, value] of Object.entries(op)) {
    switch (key) {
      case 'requestBody': {
        const body = object(value, `${at} requestBody`);
        const content = object(body.content, `${at} requestBody.content`);
        consumes = Object.keys(content);
        const first = object(Object.values(content)[0], `${at} requestBody.content`);
        parameters.unshift({ name: 'body', in: 'body', required: body.required === true, schema: v2Schema(object(first.schema, `${at} body`), `${at} body`) });
        break;
      }
      case 'parameters':
        parameters.push(...(value as JsonSchema[]).map((p) => parameter(p, at)));
        break;
      case 'responses':
        responses = {};
        for (const [code, response] of Object.entries(object(value, `${at} responses`))) {
          const r = object(response, `${at} ${code}`);
          const converted: JsonSchema = { description: r.description ?? '' };
          if (r.content !== undefined) {
            const content = object(r.content, `${at} ${code} content`);
            for (const type of Object.keys(content)) if (!produces.includes(type)) produces.push(type);
            const first = object(Object.values(content)[0], `${at} ${code} content`);
            if (first.schema !== undefined) converted.schema = v2Schema(object(first.schema, `${at} ${code}`), `${at} ${code}`);
          }
          responses[code] = converted;
        }
        break;
      case 'tags':
      case 'description':
      case 'summary':
      case 'operationId':
      case 'deprecated':
        out[key] = value;
        break;
      default:
        if (!key.startsWith('x-')) throw new Error(`openapi v2: operation ${at} has "${key}", which has no Swagger 2.0 form here`);
        out[key] = value;
    }
  }
  // Key order as upstream's swagger.json: descriptive fields, media types, then parameters and responses.
  const ordered: JsonSchema = {};
  for (const key of ['description', 'summary', 'consumes', 'produces', 'schemes', 'tags', 'operationId', 'parameters', 'responses', 'deprecated']) {
    if (key === 'consumes' && consumes) ordered.consumes = consumes;
    else if (key === 'produces' && produces.length > 0) ordered.produces = produces;
    else if (key === 'schemes') ordered.schemes = ['https'];
    else if (key === 'parameters' && parameters.length > 0) ordered.parameters = parameters;
    else if (key === 'responses' && responses) ordered.responses = responses;
    else if (key in out) ordered[key] = out[key];
  }
  for (const [key, value] of Object.entries(out)) if (key.startsWith('x-')) ordered[key] = value;
  return ordered;
}

/** `{name, in, schema: {type}}` (v3) as `{name, in, type}` (v2), which is how the query parameter verifier finds `fieldValidation`. */
function parameter(p: JsonSchema, at: string): JsonSchema {
  if (p.$ref !== undefined) throw new Error(`openapi v2: ${at} has a parameter reference, which is not converted`);
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(p)) {
    if (key === 'schema') {
      const schema = object(value, `${at} parameter ${String(p.name)}`);
      for (const [k, v] of Object.entries(schema)) {
        if (k !== 'type' && k !== 'format') throw new Error(`openapi v2: ${at} parameter ${String(p.name)} has schema "${k}", which is not converted`);
        out[k] = v;
      }
    } else if (['name', 'in', 'description', 'required'].includes(key) || key.startsWith('x-')) out[key] = value;
    else throw new Error(`openapi v2: ${at} parameter ${String(p.name)} has "${key}", which is not converted`);
  }
  return out;
}

/**
 * A v3 schema in Swagger 2.0 form, as kube-openapi's v2 builder renders the same Go types:
 * - `$ref: #/components/schemas/X` → `$ref: #/definitions/X`;
 * - `allOf: [{$ref}]` beside a description or extensions → the `$ref` directly with those siblings
 *   (v2 readers keep a reference's description and `x-kubernetes-*` extensions; SMP reads the latter);
 * - `oneOf` → the v2 type, string: Quantity and IntOrString declare `string` as their OpenAPI v2 type
 *   (IntOrString keeps `format: int-or-string`);
 * - empty `properties` dropped: an object without fields is a free-form object in v2, as upstream publishes it.
 */
export function v2Schema(schema: JsonSchema, at: string): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    switch (key) {
      case '$ref': {
        const ref = String(value);
        if (!ref.startsWith(SCHEMA_REF_PREFIX)) throw new Error(`openapi v2: ${at} refers to ${ref}, outside components.schemas`);
        out.$ref = DEFINITION_REF_PREFIX + ref.slice(SCHEMA_REF_PREFIX.length);
        break;
      }
      case 'allOf': {
        const parts = value as JsonSchema[];
        if (parts.length !== 1 || Object.keys(parts[0]).join() !== '$ref') throw new Error(`openapi v2: ${at} has an allOf other than one $ref`);
        Object.assign(out, v2Schema(parts[0], at));
        break;
      }
      case 'oneOf': {
        const types = (value as JsonSchema[]).map((s) => s.type);
        if (!types.includes('string')) throw new Error(`openapi v2: ${at} has a oneOf without a string alternative (${types.join(', ')})`);
        out.type = 'string';
        break;
      }
      case 'properties': {
        const entries = Object.entries(object(value, `${at}.properties`));
        if (entries.length > 0) out.properties = Object.fromEntries(entries.map(([name, s]) => [name, v2Schema(object(s, `${at}.${name}`), `${at}.${name}`)]));
        break;
      }
      case 'items':
        out.items = v2Schema(object(value, `${at}[]`), `${at}[]`);
        break;
      case 'additionalProperties':
        out.additionalProperties = typeof value === 'boolean' ? value : v2Schema(object(value, `${at}{}`), `${at}{}`);
        break;
      case 'anyOf':
      case 'not':
      case 'nullable':
        throw new Error(`openapi v2: ${at} has "${key}", which Swagger 2.0 cannot express`);
      default:
        out[key] = value;
    }
  }
  if (out.$ref !== undefined && (out.type !== undefined || out.properties !== undefined)) {
    throw new Error(`openapi v2: ${at} has a $ref beside a type or properties, which kubectl rejects`);
  }
  return out;
}

function object(value: unknown, at: string): JsonSchema {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`openapi v2: ${at} is not an object`);
  return value as JsonSchema;
}

function sortedRecord(map: Map<string, JsonSchema>): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const key of [...map.keys()].sort()) out[key] = map.get(key)!;
  return out;
}
