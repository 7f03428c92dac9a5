/** Label and field selectors of a list or watch request, compiled once into one predicate. */
import type { KubeObject } from '../api/object.js';
import { checkFieldSelector, fieldSelectorMatches, metadataFields, parseFieldSelector, type FieldSelector } from '../api/fields.js';
import { isEverything, parseLabelSelector, requirementMatches, type LabelSelector } from '../api/labels.js';
import type { ResourceDefinition } from './registry/types.js';

export interface ObjectFilter {
  /** True when no selector was given. */
  readonly empty: boolean;
  matches(obj: KubeObject): boolean;
}

export const everythingFilter: ObjectFilter = { empty: true, matches: () => true };

export function buildFilter(def: ResourceDefinition, labelSelector: string | null, fieldSelector: string | null): ObjectFilter {
  const labels: LabelSelector | undefined = labelSelector ? parseLabelSelector(labelSelector) : undefined;
  let fields: FieldSelector | undefined;
  if (fieldSelector) {
    fields = parseFieldSelector(fieldSelector);
    const extra = def.fieldSelectors ?? {};
    const supported = new Set([...metadataFields, ...Object.keys(extra)]);
    // Kinds with their own field label conversion answer with the legacy wording ("field label not supported").
    checkFieldSelector(fields, supported, Object.keys(extra).length > 0);
  }
  const useLabels = labels && !isEverything(labels) ? labels : undefined;
  const useFields = fields && fields.requirements.length > 0 ? fields : undefined;
  if (!useLabels && !useFields) return everythingFilter;
  const extra = def.fieldSelectors ?? {};
  const labelsMatch = useLabels ? compileLabelSelector(useLabels) : undefined;
  return {
    empty: false,
    matches(obj: KubeObject): boolean {
      if (labelsMatch && !labelsMatch(obj.metadata.labels)) return false;
      if (useFields) {
        return fieldSelectorMatches(useFields, (field) => {
          if (field === 'metadata.name') return obj.metadata.name;
          if (field === 'metadata.namespace') return obj.metadata.namespace;
          return extra[field]?.(obj);
        });
      }
      return true;
    },
  };
}

const EMPTY: Record<string, string> = {};

/**
 * A label selector as one predicate, with the common `key=value` requirement specialised to a property read: lists
 * scan every cached object of a resource, so this runs tens of thousands of times per request.
 */
function compileLabelSelector(selector: LabelSelector): (labels: Record<string, string> | undefined) => boolean {
  if (selector.matchesNothing) return () => false;
  const checks = selector.requirements.map((r): ((l: Record<string, string>) => boolean) => {
    if ((r.operator === '=' || r.operator === '==' || r.operator === 'in') && r.values.length === 1) {
      const { key } = r;
      const value = r.values[0];
      return (l) => l[key] === value && Object.prototype.hasOwnProperty.call(l, key);
    }
    return (l) => requirementMatches(r, l);
  });
  return (labels) => {
    const l = labels ?? EMPTY;
    for (let i = 0; i < checks.length; i++) if (!checks[i](l)) return false;
    return true;
  };
}
