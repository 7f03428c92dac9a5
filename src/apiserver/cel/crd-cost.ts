/**
 * The CEL cost limits a CustomResourceDefinition's `x-kubernetes-validations` must fit, checked when the CRD is written
 * (apiextensions-apiserver's validation.go, Kubernetes 1.32):
 *
 * - each rule's estimated cost (cost-estimator.ts), times the number of times it may run in one object (the product
 *   of maxItems / maxProperties of the lists and maps above it; with one of them unbounded, how many values of the
 *   rule's type fit in a 3 MiB request), at most 10,000,000: `estimated rule cost exceeds budget by factor of ...`;
 * - each messageExpression's cost (not multiplied) under the same limit;
 * - all of them together at most 100,000,000 per schema: the largest contributors (each over 1 % of it, at most 4)
 *   are named, then `x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds ...`.
 */
import { fieldForbidden, type FieldError } from '../../api/status.js';
import { compileCel, isCompileError } from './cel-program.js';
import { estimateCost, maxCardinality, sizedTypeOf, UNBOUNDED, type SizedType, type SizingSchema } from './cost-estimator.js';
import type { RuleSchema } from './crd-rules.js';

/** apiextensions validation.StaticEstimatedCostLimit */
export const STATIC_ESTIMATED_COST_LIMIT = 10_000_000;
/** apiextensions validation.StaticEstimatedCRDCostLimit */
export const STATIC_ESTIMATED_CRD_COST_LIMIT = 100_000_000;

const SUGGESTION = 'try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared';

/** upstream's getCostErrorMessage: the factor as Go prints it (`%fx` below 1.5, `%.1fx`, or "more than 100x"). */
export function costErrorMessage(costName: string, cost: number, limit: number): string {
  const f = cost / limit;
  const by = f > 100 ? 'more than 100x' : f < 1.5 ? `${f.toFixed(6)}x` : `${f.toFixed(1)}x`;
  return `${costName} exceeds budget by factor of ${by} (${SUGGESTION})`;
}

const times = (a: number, b: number): number => (a === 0 ? 0 : a >= UNBOUNDED / b ? UNBOUNDED : a * b);

/** How many values a node's schema holds per value of the node (extractMaxElements); undefined when unbounded. */
function maxElements(s: RuleSchema & SizingSchema): number | undefined {
  if (s.type === 'object') {
    if (s.additionalProperties !== undefined && s.additionalProperties !== false) return s.maxProperties !== undefined ? Math.max(0, s.maxProperties) : undefined;
    return 1;
  }
  if (s.type === 'array') return s.maxItems !== undefined ? Math.max(0, s.maxItems) : undefined;
  return 1;
}

/**
 * The cost errors of every rule in `schema` (a version's openAPIV3Schema), paths under `basePath`. Rules that do not
 * compile are left to the compile errors.
 */
export function estimateSchemaRuleCosts(schema: RuleSchema | undefined, basePath: string): FieldError[] {
  const errs: FieldError[] = [];
  let total = 0;
  const expensive: { path: string; cost: number }[] = [];
  const observe = (path: string, cost: number): void => {
    total = total + cost >= UNBOUNDED ? UNBOUNDED : total + cost;
    if (cost < STATIC_ESTIMATED_CRD_COST_LIMIT / 100) return;
    expensive.push({ path, cost });
    expensive.sort((a, b) => b.cost - a.cost);
    if (expensive.length > 4) expensive.length = 4;
  };

  // `cardinality`: evaluations per object of rules at this node; undefined when a list or map above is unbounded.
  const visit = (s: RuleSchema | undefined, path: string, cardinality: number | undefined, root: boolean, parentType: SizedType | undefined): void => {
    if (!s || typeof s !== 'object') return;
    const type = parentType ?? sizedTypeOf(s, root || s['x-kubernetes-embedded-resource'] === true);
    const rules = s['x-kubernetes-validations'] ?? [];
    if (rules.length > 0 && type) {
      const vars = { self: type, oldSelf: type };
      const evaluations = cardinality ?? maxCardinality(type.minSerializedSize);
      rules.forEach((r, i) => {
        const at = `${path}.x-kubernetes-validations[${i}]`;
        const p = compileCel(r.rule ?? '', r.optionalOldSelf ? ['self', 'oldSelf:optional<dyn>'] : ['self', 'oldSelf'], 'bool');
        if (!isCompileError(p)) {
          const cost = times(estimateCost(p.ast, vars).max, evaluations);
          if (cost > STATIC_ESTIMATED_COST_LIMIT) errs.push(fieldForbidden(`${at}.rule`, costErrorMessage('estimated rule cost', cost, STATIC_ESTIMATED_COST_LIMIT)));
          observe(`${at}.rule`, cost);
        }
        if (r.messageExpression?.trim()) {
          const m = compileCel(r.messageExpression, r.optionalOldSelf ? ['self', 'oldSelf:optional<dyn>'] : ['self', 'oldSelf'], 'string');
          if (!isCompileError(m)) {
            const cost = estimateCost(m.ast, vars).max;
            if (cost > STATIC_ESTIMATED_COST_LIMIT) errs.push(fieldForbidden(`${at}.messageExpression`, costErrorMessage('estimated messageExpression cost', cost, STATIC_ESTIMATED_COST_LIMIT)));
            observe(`${at}.messageExpression`, cost);
          }
        }
      });
    }
    const per = maxElements(s);
    const childCardinality = cardinality === undefined || per === undefined ? undefined : times(cardinality, per);
    for (const [k, sub] of Object.entries(s.properties ?? {})) visit(sub, `${path}.properties[${k}]`, childCardinality, false, type?.kind === 'object' ? type.fields?.get(k) : undefined);
    if (typeof s.additionalProperties === 'object') visit(s.additionalProperties, `${path}.additionalProperties`, childCardinality, false, type?.kind === 'map' ? type.elem : undefined);
    if (s.items && typeof s.items === 'object') visit(s.items, `${path}.items`, childCardinality, false, type?.kind === 'list' ? type.elem : undefined);
  };
  visit(schema, basePath, 1, true, undefined);

  if (total > STATIC_ESTIMATED_CRD_COST_LIMIT) {
    for (const e of expensive) errs.push(fieldForbidden(e.path, 'contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema'));
    errs.push(fieldForbidden(basePath, costErrorMessage('x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema', total, STATIC_ESTIMATED_CRD_COST_LIMIT)));
  }
  return errs;
}
