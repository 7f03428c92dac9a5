/**
 * The hook where `x-kubernetes-validations` (CEL rules) of a CRD's schema are compiled and evaluated. The CRD code
 * knows no CEL: the CEL engine (../cel/) registers itself here with `useValidationRules`; until one is registered,
 * rules are stored and published but not enforced.
 */
import type { FieldError } from '../../api/status.js';
import type { JSONSchemaProps } from './json-schema.js';

/** The rules of one version's schema, compiled. */
export interface CompiledValidationRules {
  /**
   * Evaluates the rules that do not read `oldSelf` against a custom object (create and update alike); returns the
   * failures as field errors (`spec.replicas: Invalid value: "object": <message>`), empty when all hold.
   */
  validate(obj: Record<string, unknown>): FieldError[];
  /** On update only: evaluates the transition rules (those reading `oldSelf`) with the stored object as oldSelf. */
  validateTransition(obj: Record<string, unknown>, oldObj: Record<string, unknown>): FieldError[];
}

export interface ValidationRules {
  /**
   * Compiles the rules of a version's whole openAPIV3Schema (called when a CRD is written and when it is served).
   * `path` is the schema's field path in the CRD (`spec.versions[0].schema.openAPIV3Schema`): rules that do not
   * compile, and rules whose estimated cost is over upstream's limits (per rule, per schema), are reported as errors
   * under it, and the CRD is refused with them. `rules` is undefined when the schema has no rules (or they do not
   * compile); rules over the cost limits are still served, so a CRD stored before the check keeps working.
   */
  compile(schema: JSONSchemaProps, path: string): { errors: FieldError[]; rules: CompiledValidationRules | undefined };
}

let current: ValidationRules | undefined;

/** Registers the CEL engine (one per process; the last call wins). */
export function useValidationRules(rules: ValidationRules | undefined): void {
  current = rules;
}

/** The registered engine, if any. */
export function validationRules(): ValidationRules | undefined {
  return current;
}

/** True when any node of the schema carries x-kubernetes-validations. */
export function hasValidationRules(s: JSONSchemaProps | undefined): boolean {
  if (!s) return false;
  if (s['x-kubernetes-validations']?.length) return true;
  if (Object.values(s.properties ?? {}).some(hasValidationRules)) return true;
  if (typeof s.additionalProperties === 'object' && hasValidationRules(s.additionalProperties)) return true;
  if (s.items && !Array.isArray(s.items) && hasValidationRules(s.items)) return true;
  return (s.allOf ?? []).some(hasValidationRules);
}
