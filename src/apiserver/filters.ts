/** Label and field selectors of a list or watch request, compiled once into one predicate. */
import type { KubeObject } from '../api/object.js';
import { checkFieldSelector, fieldSelectorMatches, metadataFields, parseFieldSelector, type FieldSelector } from '../api/fields.js';
import { isEverything, matches, parseLabelSelector, type LabelSelector } from '../api/labels.js';
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
  return {
    empty: false,
    matches(obj: KubeObject): boolean {
      if (useLabels && !matches(useLabels, obj.metadata.labels)) return false;
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
