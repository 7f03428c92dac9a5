/**
 * Builds a ResourceDefinition from what is particular to a kind, adding what every kind shares:
 * the list kind, ObjectMeta validation on create and update (with the kind's name rule), and a
 * guard so defaulting code meets objects without a spec.
 */
import type { KubeObject } from '../../api/object.js';
import type { FieldError } from '../../api/status.js';
import { validateObjectMeta, validateObjectMetaUpdateRules, type NameValidator } from '../../api/validation.js';
import type { CreateContext, DeletionRules, ResourceDefinition, ScaleSubresource, SubresourceDefinition, TablePrinter, Verb } from './types.js';

export interface ResourceSpec {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  verbs?: Verb[];
  hasStatus: boolean;
  scale?: ScaleSubresource;
  schemaName: string;
  tracksGeneration: boolean;
  /** How metadata.name must look (DNS subdomain for most kinds). */
  nameValidator: NameValidator;
  /**
   * Wire defaults (mutates obj). Kubernetes defaults every decoded object, so these run on create and
   * on update alike.
   */
  defaults?(obj: KubeObject): void;
  /** Create-only preparation after defaults, e.g. the initial status. */
  prepareForCreate?(obj: KubeObject, ctx?: CreateContext): void;
  /** Carry-overs on update after defaults (mutates obj; old must not be touched). */
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  /** Validation of everything but ObjectMeta. */
  validateSpec?(obj: KubeObject): FieldError[];
  /** Extra checks on update, e.g. immutable fields. */
  validateSpecUpdate?(obj: KubeObject, old: KubeObject): FieldError[];
  /**
   * Set for kinds whose status writes are validated as upstream's status strategies do: ObjectMeta and its update
   * rules, then these checks of the status (validateSpec and validateSpecUpdate are not run: /status keeps the spec).
   */
  validateStatusUpdate?(obj: KubeObject, old: KubeObject): FieldError[];
  printer: TablePrinter;
  keepsStatusOnCreate?: boolean;
  deletion?: DeletionRules;
  subresources?: SubresourceDefinition[];
  fieldSelectors?: Record<string, (obj: KubeObject) => string>;
}

export function defineResource(spec: ResourceSpec): ResourceDefinition {
  const { nameValidator, defaults, prepareForCreate, prepareForUpdate, validateSpec, validateSpecUpdate, validateStatusUpdate, ...rest } = spec;
  const def: ResourceDefinition = {
    ...rest,
    listKind: `${spec.kind}List`,
    strategy: {
      validate(obj) {
        return [...validateObjectMeta(obj.metadata, { namespaced: spec.namespaced, nameValidator }), ...(validateSpec?.(obj) ?? [])];
      },
      // The API server runs validate on the new object too, so only the update-only rules belong here.
      validateUpdate(obj, old) {
        return [...validateObjectMetaUpdateRules(obj.metadata, old.metadata), ...(validateSpecUpdate?.(obj, old) ?? [])];
      },
    },
  };
  if (validateStatusUpdate) {
    def.strategy.validateStatusUpdate = (obj, old) => [
      ...validateObjectMeta(obj.metadata, { namespaced: spec.namespaced, nameValidator }),
      ...validateObjectMetaUpdateRules(obj.metadata, old.metadata),
      ...validateStatusUpdate(obj, old),
    ];
  }
  if (defaults || prepareForCreate) {
    def.strategy.prepareForCreate = (obj, ctx) => {
      defaults?.(obj);
      prepareForCreate?.(obj, ctx);
    };
  }
  if (defaults || prepareForUpdate) {
    def.strategy.prepareForUpdate = (obj, old) => {
      defaults?.(obj);
      prepareForUpdate?.(obj, old);
    };
  }
  return def;
}

/** The object's `spec` as a record, created if missing so defaulting can fill it. */
export function specOf<T = Record<string, unknown>>(obj: KubeObject): T {
  if (typeof obj.spec !== 'object' || obj.spec === null) obj.spec = {};
  return obj.spec as T;
}

/** The object's `status` as a record, created if missing. */
export function statusOf<T = Record<string, unknown>>(obj: KubeObject): T {
  if (typeof obj.status !== 'object' || obj.status === null) obj.status = {};
  return obj.status as T;
}
