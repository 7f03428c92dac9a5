/**
 * status.typeChecking of a ValidatingAdmissionPolicy, as upstream's type-checking controller computes it: every
 * expression is checked against the schema of each kind the policy's resource rules name exactly (no wildcards),
 * and what does not fit becomes an expressionWarning (`fieldRef: spec.validations[0].expression`, `warning:
 * apps/v1, Kind=Deployment: ERROR: <input>:1:19: undefined field 'replicaz'`). The warnings do not refuse anything.
 *
 * What is checked: field selections that start at `object` or `oldObject` (through `.`, `.?`, `[]` and has()),
 * against the built-in kinds' schema table (src/api/schema). Expressions are otherwise dynamically typed
 * (../../cel/README.md); custom resources and wildcard rules are not checked, as upstream skips what it cannot resolve.
 */
import type { ValidatingAdmissionPolicy } from 'kubernetes-types/admissionregistration/v1.js';
import { fieldOf, fieldsOf, kindTypes } from '../../../api/schema/schema.js';
import type { SchemaType, TypeDef } from '../../../api/schema/types.js';
import { compileCel, isCompileError, walkAst, type AstNode, type ExpectedType } from '../../cel/cel-program.js';
import { POLICY_VARIABLES } from './policy-variables.js';


export interface ExpressionWarning {
  fieldRef: string;
  warning: string;
}

interface RuleLike {
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
}

function pluralsOf(kind: string): string[] {
  const k = kind.toLowerCase();
  return [k, `${k}s`, `${k}es`, k.replace(/y$/, 'ies')];
}

/** The kinds the rules name exactly: group, version and resource without wildcards or subresources. */
function kindsOf(rules: RuleLike[] | undefined): TypeDef[] {
  const out = new Map<string, TypeDef>();
  for (const r of rules ?? []) {
    for (const g of r.apiGroups ?? []) {
      for (const v of r.apiVersions ?? []) {
        for (const res of r.resources ?? []) {
          if (g === '*' || v === '*' || res.includes('*') || res.includes('/')) continue;
          const t = kindTypes().find((d) => d.gvk && d.gvk.group === g && d.gvk.version === v && !d.gvk.kind.endsWith('List') && pluralsOf(d.gvk.kind).includes(res));
          if (t) out.set(t.name, t);
        }
      }
    }
  }
  return [...out.values()];
}

const SCALAR_CEL: Record<string, string> = { string: 'string', boolean: 'bool', int32: 'int', int64: 'int', double: 'double', bytes: 'bytes', time: 'string', microtime: 'string', duration: 'string', quantity: 'string' };

function dotColumn(expr: string, pos: number): number {
  let i = Math.min(pos, expr.length) - 1;
  while (i > 0 && expr[i] !== '.') i--;
  return i + 1;
}

/** The first selection problem of expression against kind, in cel-go's words, or undefined. */
function checkAgainst(expression: string, ast: AstNode, kind: TypeDef): string | undefined {
  const root: SchemaType = { kind: 'ref', name: kind.name };
  const resolved = new Map<AstNode, SchemaType | undefined>();
  let problem: string | undefined;
  const resolve = (n: AstNode): SchemaType | undefined => {
    if (resolved.has(n)) return resolved.get(n);
    let out: SchemaType | undefined;
    if (n.op === 'id' && (n.args === 'object' || n.args === 'oldObject')) out = root;
    else if ((n.op === '.' || n.op === '.?') && Array.isArray(n.args)) {
      const recv = resolve(n.args[0] as AstNode);
      const field = String(n.args[1]);
      if (recv?.kind === 'ref' && fieldsOf(recv.name)?.size) {
        const f = fieldOf(recv.name, field);
        if (f) out = f.type;
        else problem ??= `ERROR: <input>:1:${dotColumn(expression, n.pos ?? 0)}: undefined field '${field}'`;
      } else if (recv?.kind === 'map') out = recv.values;
      else if (recv?.kind === 'array') problem ??= `ERROR: <input>:1:${dotColumn(expression, n.pos ?? 0)}: type 'list' does not support field selection`;
      else if (recv?.kind === 'scalar' && SCALAR_CEL[recv.scalar]) problem ??= `ERROR: <input>:1:${dotColumn(expression, n.pos ?? 0)}: type '${SCALAR_CEL[recv.scalar]}' does not support field selection`;
    } else if ((n.op === '[]' || n.op === '[?]') && Array.isArray(n.args)) {
      const recv = resolve(n.args[0] as AstNode);
      if (recv?.kind === 'array') out = recv.items;
      else if (recv?.kind === 'map') out = recv.values;
    }
    resolved.set(n, out);
    return out;
  };
  walkAst(ast, (n) => {
    if (n.op === '.' || n.op === '.?') resolve(n);
  });
  return problem;
}

/** The typeChecking status for a policy spec (no warnings: `{}`). */
export function typeCheckPolicy(spec: ValidatingAdmissionPolicy['spec']): { expressionWarnings?: ExpressionWarning[] } {
  const kinds = kindsOf((spec?.matchConstraints?.resourceRules ?? []) as RuleLike[]);
  if (kinds.length === 0) return {};
  const expressions: { fieldRef: string; expression: string | undefined; expect: ExpectedType }[] = [
    ...(spec?.matchConditions ?? []).map((c, i) => ({ fieldRef: `spec.matchConditions[${i}].expression`, expression: c.expression, expect: 'bool' as const })),
    ...(spec?.variables ?? []).map((v, i) => ({ fieldRef: `spec.variables[${i}].expression`, expression: v.expression, expect: 'any' as const })),
    ...(spec?.validations ?? []).flatMap((v, i) => [
      { fieldRef: `spec.validations[${i}].expression`, expression: v.expression, expect: 'bool' as const },
      ...(v.messageExpression ? [{ fieldRef: `spec.validations[${i}].messageExpression`, expression: v.messageExpression, expect: 'string' as const }] : []),
    ]),
    ...(spec?.auditAnnotations ?? []).map((a, i) => ({ fieldRef: `spec.auditAnnotations[${i}].valueExpression`, expression: a.valueExpression, expect: 'string-or-null' as const })),
  ];
  const warnings: ExpressionWarning[] = [];
  for (const e of expressions) {
    if (!e.expression) continue;
    const p = compileCel(e.expression, POLICY_VARIABLES, e.expect);
    if (isCompileError(p)) continue; // refused by validation already
    const lines: string[] = [];
    for (const k of kinds) {
      const problem = checkAgainst(e.expression, p.ast, k);
      if (problem) lines.push(`${k.gvk!.group}/${k.gvk!.version}, Kind=${k.gvk!.kind}: ${problem}`);
    }
    if (lines.length) warnings.push({ fieldRef: e.fieldRef, warning: lines.join('\n') });
  }
  return warnings.length ? { expressionWarnings: warnings } : {};
}
