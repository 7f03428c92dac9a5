/**
 * The ResourceDefinitions of a CustomResourceDefinition: one per served version, served by the same registry
 * machinery as the built-in kinds. Each version validates by its own schema (plus the CEL hook), prunes unknown
 * fields and sets defaults on write; versions other than the storage version are views of the stored objects with
 * `None` conversion (only apiVersion changes), as apiextensions-apiserver's nopConverter, or converted by the CRD's
 * conversion webhook (conversion-webhook.ts; the handlers await `storedAs.remote`).
 */
import type { KubeObject } from '../../api/object.js';
import { ageOf } from '../../api/age.js';
import { StatusError, type FieldError } from '../../api/status.js';
import { nameIsDNSSubdomain, validateObjectMeta, validateObjectMetaUpdateRules } from '../../api/validation.js';
import { compareVersions } from '../discovery.js';
import { column, nameColumn, ageDescription } from '../registry/table-columns.js';
import type { ResourceDefinition, ScaleSubresource, TablePrinter } from '../registry/types.js';
import { JsonPath } from './json-path.js';
import { isObject, type CrdVersion, type CustomResourceDefinition, type JSONSchemaProps, type PrinterColumn } from './json-schema.js';
import type { NodeType } from '../apply/fieldpath.js';
import { applyTypeOf } from './apply-schema.js';
import { applyDefaults, hasDefaults, lacksDefaults, pruneDecoded, pruneObject } from './prune-default.js';
import { ConversionWebhook, type ConversionWebhookConfig, type ServiceLookup } from './conversion-webhook.js';
import { validateValue } from './validate-value.js';
import { hasValidationRules, validationRules, type CompiledValidationRules } from './validation-rules.js';

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

/** What the served definitions need to know of the CRD beyond its spec. */
export interface CustomResourceState {
  /** The CRD is being deleted: creates are refused (upstream answers 405 with this wording). */
  terminating(): boolean;
  /** Where a conversion webhook's Service and endpoints are found (the watch cache); without it, only `url` works. */
  services?: ServiceLookup;
}

/** upstream's OpenAPI definition name of a custom kind: the group reversed, then version and kind (`com.example.v1.Widget`). */
export function schemaNameOf(group: string, version: string, kind: string): string {
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`;
}

/** Definitions for the served versions of an accepted CRD, in preference order (kube-aware version order). */
export function customResourceDefinitions(crd: CustomResourceDefinition, state: CustomResourceState): ResourceDefinition[] {
  const { spec } = crd;
  const storage = spec.versions.find((v) => v.storage)!;
  const stored = new Set(crd.status?.storedVersions ?? []);
  const served = spec.versions.filter((v) => v.served).sort((a, b) => compareVersions(a.name, b.name));
  // One webhook client per CRD, shared by its versions (Webhook strategy only).
  const webhook = spec.conversion?.strategy === 'Webhook' ? new ConversionWebhook((spec.conversion.webhook ?? {}) as ConversionWebhookConfig, state.services ?? NO_SERVICES) : undefined;
  return served.map((v) => versionDefinition(crd, v, storage, stored.size > 1 || (stored.size === 1 && !stored.has(storage.name)), state, webhook));
}

const NO_SERVICES: ServiceLookup = { cached: () => undefined, list: () => [] };

function versionDefinition(crd: CustomResourceDefinition, v: CrdVersion, storage: CrdVersion, otherStoredVersions: boolean, state: CustomResourceState, webhook: ConversionWebhook | undefined): ResourceDefinition {
  const { group, names, scope } = crd.spec;
  const namespaced = scope === 'Namespaced';
  const schema: JSONSchemaProps = v.schema?.openAPIV3Schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const gv = `${group}/${v.name}`;
  const storageGV = `${group}/${storage.name}`;
  const defaulting = hasDefaults(schema);
  let applyType: NodeType | undefined;
  let rules: CompiledValidationRules | undefined;
  const engine = validationRules();
  if (engine && hasValidationRules(schema)) rules = engine.compile(schema, 'openAPIV3Schema').rules;

  // None conversion rewrites apiVersion (nopConverter). With a webhook, the handlers use the asynchronous forms
  // below; the synchronous one is reached only by callers that cannot wait (an admission webhook's matchPolicy
  // Equivalent view), and refuses what would need a call.
  const convert = (obj: KubeObject, to: string): KubeObject => {
    if (obj.apiVersion === to) return obj;
    if (webhook) throw new StatusError({ code: 500, message: `conversion webhook for ${obj.apiVersion ?? ''}, Kind=${names.kind} failed: a conversion from ${obj.apiVersion} to ${to} needs the webhook and cannot be made here` });
    return { ...obj, apiVersion: to };
  };
  // Reads return the stored object itself (and its stored JSON) unless a default is missing from it.
  const withDefaults = (out: KubeObject): KubeObject => {
    if (defaulting && lacksDefaults(schema, out)) {
      const copy = structuredClone(out);
      applyDefaults(schema, copy);
      return copy;
    }
    return out;
  };
  const fromStorage = (obj: KubeObject): KubeObject => withDefaults(convert(obj, gv));
  const prepare = (obj: KubeObject): void => {
    pruneObject(schema, obj as unknown as Record<string, unknown>);
    applyDefaults(schema, obj);
  };
  const validate = (obj: KubeObject): FieldError[] => {
    const errs = validateObjectMeta(obj.metadata, { namespaced, nameValidator: nameIsDNSSubdomain }).filter((e) => !isStandardFinalizerError(e));
    const { metadata, ...rest } = obj;
    const view: Record<string, unknown> = { ...rest, metadata: { ...(metadata?.name !== undefined ? { name: metadata.name } : {}), ...(metadata?.generateName !== undefined ? { generateName: metadata.generateName } : {}) } };
    errs.push(...validateValue(schema, view));
    if (rules) errs.push(...rules.validate(obj as unknown as Record<string, unknown>));
    return errs;
  };
  const def: ResourceDefinition = {
    group,
    version: v.name,
    kind: names.kind,
    listKind: names.listKind ?? `${names.kind}List`,
    plural: names.plural,
    singular: names.singular || names.kind.toLowerCase(),
    namespaced,
    ...(names.shortNames?.length ? { shortNames: names.shortNames } : {}),
    ...(names.categories?.length ? { categories: names.categories } : {}),
    hasStatus: v.subresources?.status !== undefined,
    ...(v.subresources?.scale ? { scale: scaleOf(v.subresources.scale) } : {}),
    schemaName: schemaNameOf(group, v.name, names.kind),
    tracksGeneration: true,
    strategy: {
      prepareForCreate(obj) {
        if (state.terminating()) {
          throw new StatusError({ code: 405, reason: 'MethodNotAllowed', message: 'create not allowed while custom resource definition is terminating', details: { group, kind: names.plural } });
        }
        prepare(obj);
      },
      prepareForUpdate(obj) {
        prepare(obj);
      },
      validate,
      validateUpdate(obj, old) {
        const errs = validateObjectMetaUpdateRules(obj.metadata, old.metadata);
        if (rules) errs.push(...rules.validateTransition(obj as unknown as Record<string, unknown>, old as unknown as Record<string, unknown>));
        return errs;
      },
    },
    printer: printerOf(v.additionalPrinterColumns),
    fieldSelectors: fieldSelectorsOf(v.selectableFields),
    customSchema: {
      openApi: publishedSchema(schema, true),
      prune: (obj) => pruneDecoded(schema, obj),
      applyType: () => (applyType ??= applyTypeOf(schema)),
    },
  };
  // Versions other than the one objects are stored in are views with None conversion; so is the storage version
  // itself when objects may be stored in an earlier storage version or reads must fill in defaults.
  if (v.name !== storage.name || otherStoredVersions || defaulting) {
    def.storedAs = {
      group,
      version: storage.name,
      plural: names.plural,
      toStorage: (obj) => convert(obj, storageGV),
      fromStorage,
      ...(webhook
        ? {
            remote: {
              toStorage: async (obj: KubeObject) => (await webhook.convert([obj], storageGV))[0]!,
              fromStorage: async (objs: KubeObject[]) => (await webhook.convert(objs, gv)).map(withDefaults),
            },
          }
        : {}),
    };
  }
  return def;
}

const FINALIZER_RULE = 'name is neither a standard finalizer name nor is it fully qualified';

/**
 * apiextensions validates ObjectMeta with apimachinery's rules, where a finalizer need only be a qualified name
 * (`customresourcecleanup.apiextensions.k8s.io`, `example.com-cleanup`); the built-in kinds' stricter rule (a `/` or
 * a standard name) does not apply to CRDs and custom objects.
 */
function isStandardFinalizerError(e: FieldError): boolean {
  return e.field.startsWith('metadata.finalizers[') && e.detail.endsWith(FINALIZER_RULE);
}

/** A definition whose object validation drops the built-in kinds' finalizer-name rule (for CRDs themselves). */
export function withQualifiedFinalizers(def: ResourceDefinition): ResourceDefinition {
  const validate = def.strategy.validate;
  def.strategy.validate = (obj) => validate(obj).filter((e) => !isStandardFinalizerError(e));
  return def;
}

/** `.spec.replicas` as the dot path the scale handler takes. */
function dotPath(jsonPath: string): string {
  return jsonPath.replace(/^\./, '');
}

function scaleOf(scale: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string }): ScaleSubresource {
  const selector = scale.labelSelectorPath ? new JsonPath(scale.labelSelectorPath) : undefined;
  return {
    specReplicasPath: dotPath(scale.specReplicasPath),
    statusReplicasPath: dotPath(scale.statusReplicasPath),
    ...(selector
      ? {
          selector(obj: KubeObject) {
            const v = selector.first(obj);
            return typeof v === 'string' ? v : undefined;
          },
        }
      : {}),
  };
}

function fieldSelectorsOf(fields: { jsonPath: string }[] | undefined): Record<string, (obj: KubeObject) => string> | undefined {
  if (!fields?.length) return undefined;
  const out: Record<string, (obj: KubeObject) => string> = {};
  for (const f of fields) {
    const path = new JsonPath(f.jsonPath);
    out[dotPath(f.jsonPath)] = (obj) => {
      const v = path.first(obj);
      return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    };
  }
  return out;
}

/**
 * The Table of a custom kind (apiextensions tableconvertor): Name, then the version's additionalPrinterColumns, or
 * Age when it declares none. A column whose path finds nothing, or a value of the wrong type, prints as <none>.
 */
function printerOf(columns: PrinterColumn[] | undefined): TablePrinter {
  const cols = columns?.length ? columns : [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: ageDescription }];
  const paths = cols.map((c) => new JsonPath(c.jsonPath));
  return {
    columns: [nameColumn, ...cols.map((c) => column(c.name, c.description ?? '', { type: c.type, priority: c.priority ?? 0, format: c.format ?? '' }))],
    row(obj, now) {
      return [obj.metadata.name ?? '', ...cols.map((c, i) => cell(c.type, paths[i].first(obj), now))];
    },
  };
}

function cell(type: string, v: unknown, now: Date): unknown {
  if (v === undefined || v === null) return null;
  switch (type) {
    case 'date':
      return typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? ageOf(v, now) : null;
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v) ? v : null;
    case 'number':
      return typeof v === 'number' ? v : null;
    case 'boolean':
      return typeof v === 'boolean' ? v : null;
    default:
      return typeof v === 'string' ? v : JSON.stringify(v);
  }
}

/**
 * A version's schema as /openapi/v3 (and, derived from it, /openapi/v2) publishes it: the CRD's schema with
 * apiVersion, kind and a reference to ObjectMeta at the root. The value-validation junctors and `nullable` are left
 * out, as upstream leaves them out of the v2 document, so one form serves both.
 */
export function publishedSchema(s: JSONSchemaProps, root = false): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (['allOf', 'anyOf', 'oneOf', 'not', 'nullable', '$schema', 'x-kubernetes-validations', 'example', 'externalDocs'].includes(k)) continue;
    if (k === 'properties' && isObject(v)) out.properties = Object.fromEntries(Object.entries(v).map(([name, p]) => [name, publishedSchema(p as JSONSchemaProps)]));
    else if (k === 'items' && isObject(v)) out.items = publishedSchema(v as JSONSchemaProps);
    else if (k === 'additionalProperties' && isObject(v)) out.additionalProperties = publishedSchema(v as JSONSchemaProps);
    else out[k] = v;
  }
  if (root) {
    const properties = (out.properties ?? {}) as Record<string, unknown>;
    out.properties = {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase.' },
      ...properties,
      metadata: { allOf: [{ $ref: `#/components/schemas/${OBJECT_META}` }], description: "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata" },
    };
    out.type = 'object';
  }
  return out;
}
