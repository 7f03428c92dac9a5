/**
 * The CEL engine behind the CRD code's hook (../crd/validation-rules.ts): compile errors of a version's schema and
 * rules over the cost limits when a CRD is written, and per object write the rules that do not read `oldSelf` (`validate`) and, on updates, the
 * transition rules with the correlated stored values (`validateTransition`). Rules with `optionalOldSelf` run on
 * creates with an empty oldSelf and on updates with the old value, as upstream. At the root, `self`
 * has apiVersion, kind, and metadata.name and generateName only, as upstream.
 */
import type { FieldError } from '../../api/status.js';
import type { CompiledValidationRules, ValidationRules } from '../crd/validation-rules.js';
import { estimateSchemaRuleCosts } from './crd-cost.js';
import { compileSchemaRules, hasCelRules, validateCelRules, type RuleSchema } from './crd-rules.js';

/** At the root, rules see apiVersion, kind and of metadata only name and generateName (upstream's WithTypeAndObjectMeta). */
function rootView(obj: Record<string, unknown>): Record<string, unknown> {
  const { metadata, ...rest } = obj;
  const m = (metadata ?? {}) as Record<string, unknown>;
  return { ...rest, metadata: { ...(m.name !== undefined ? { name: m.name } : {}), ...(m.generateName !== undefined ? { generateName: m.generateName } : {}) } };
}

/**
 * The errors of a schema's rules when a CRD is written: compile errors, then the cost limits (crd-cost.ts). Computed
 * when read: a CRD that is served (not written) compiles its rules without estimating their cost.
 */
function schemaErrors(s: RuleSchema, path: string, compileErrors: FieldError[]): { readonly errors: FieldError[] } {
  let all: FieldError[] | undefined;
  return {
    get errors() {
      return (all ??= [...compileErrors, ...estimateSchemaRuleCosts(s, path)]);
    },
  };
}

export const celValidationRules: ValidationRules = {
  compile(schema, path) {
    const s = schema as unknown as RuleSchema;
    const compileErrors: FieldError[] = compileSchemaRules(s, path);
    const errors = schemaErrors(s, path, compileErrors);
    if (compileErrors.length > 0 || !hasCelRules(s)) return Object.assign(errors, { rules: undefined });
    const rules: CompiledValidationRules = {
      // A create has no resourceVersion yet (the API server sets the stored one on updates before validation).
      validate: (obj) => validateCelRules(s, rootView(obj), undefined, (obj.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ? 'plain' : 'create'),
      validateTransition: (obj, oldObj) => validateCelRules(s, rootView(obj), rootView(oldObj), 'transition'),
    };
    return Object.assign(errors, { rules });
  },
};
