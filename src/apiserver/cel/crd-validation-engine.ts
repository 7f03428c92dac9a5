/**
 * The CEL engine behind the CRD code's hook (../crd/validation-rules.ts): compile errors of a version's schema when
 * a CRD is written, and per object write the rules that do not read `oldSelf` (`validate`) and, on updates, the
 * transition rules with the correlated stored values (`validateTransition`). Rules with `optionalOldSelf` run on
 * creates with an empty oldSelf and on updates with the old value, as upstream. At the root, `self`
 * has apiVersion, kind, and metadata.name and generateName only, as upstream.
 */
import type { FieldError } from '../../api/status.js';
import type { CompiledValidationRules, ValidationRules } from '../crd/validation-rules.js';
import { compileSchemaRules, hasCelRules, validateCelRules, type RuleSchema } from './crd-rules.js';

/** At the root, rules see apiVersion, kind and of metadata only name and generateName (upstream's WithTypeAndObjectMeta). */
function rootView(obj: Record<string, unknown>): Record<string, unknown> {
  const { metadata, ...rest } = obj;
  const m = (metadata ?? {}) as Record<string, unknown>;
  return { ...rest, metadata: { ...(m.name !== undefined ? { name: m.name } : {}), ...(m.generateName !== undefined ? { generateName: m.generateName } : {}) } };
}

export const celValidationRules: ValidationRules = {
  compile(schema, path) {
    const s = schema as unknown as RuleSchema;
    const errors: FieldError[] = compileSchemaRules(s, path);
    if (errors.length > 0 || !hasCelRules(s)) return { errors, rules: undefined };
    const rules: CompiledValidationRules = {
      // A create has no resourceVersion yet (the API server sets the stored one on updates before validation).
      validate: (obj) => validateCelRules(s, rootView(obj), undefined, (obj.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ? 'plain' : 'create'),
      validateTransition: (obj, oldObj) => validateCelRules(s, rootView(obj), rootView(oldObj), 'transition'),
    };
    return { errors, rules };
  },
};
