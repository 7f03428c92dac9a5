/**
 * The ValidatingAdmissionPolicy admission plugin (k8s.io/apiserver/pkg/admission/plugin/policy/validating): for
 * every ValidatingAdmissionPolicyBinding whose policy matches the request (matching.ts), with the binding's params
 * (paramKind + paramRef by name or selector, parameterNotFoundAction), the policy's matchConditions decide whether
 * it applies, then each validation's CEL expression runs over `object`, `oldObject`, `request`, `params`,
 * `namespaceObject`, `authorizer` (the server's authorizer, cel/authorizer-library.ts) and the policy's `variables`
 * (evaluated lazily, once each). A failed validation is acted on as
 * the binding says:
 *   Deny  -> the request is refused: `<resource> "<name>" is forbidden: ValidatingAdmissionPolicy '<p>' with binding
 *            '<b>' denied request: <message>`, reason from the validation (Invalid 422 by default, Forbidden 403,
 *            Unauthorized 401, RequestEntityTooLarge 413), the message as the Status' one cause;
 *   Warn  -> a `Warning` header: `Validation failed for ValidatingAdmissionPolicy '<p>' with binding '<b>': <message>`;
 *   Audit -> the audit event's annotation `validation.policy.admission.k8s.io/validation_failure`: a JSON list
 *            `[{"message","policy","binding","expressionIndex","validationActions"}]` (the first failure's, as
 *            upstream, which does not let a later value override an annotation).
 * auditAnnotations are evaluated for every matching binding and recorded in the audit event as `<policy>/<key>`,
 * the distinct values of several bindings joined with ", " (null or empty values omitted, values cut at 10 KiB).
 * An expression that fails to evaluate, a missing param or binding misconfiguration follow the policy's
 * failurePolicy: Fail denies (with the error as the message), Ignore skips the binding.
 *
 * Policies and bindings are read from the watch cache on every write (no polling, no informer of its own);
 * expressions are compiled once per text (cel/cel-program.ts).
 */
import type {
  ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding,
  Validation,
} from 'kubernetes-types/admissionregistration/v1.js';
import type { KubeObject } from '../../../api/object.js';
import { labelSelectorFromObject, matches } from '../../../api/labels.js';
import { StatusError, qualifiedResource, type StatusReason } from '../../../api/status.js';
import { createLogger } from '../../../log/logger.js';
import { BUDGET_EXHAUSTED, compileCel, isCompileError, RUNTIME_COST_BUDGET, type CelBudget, type CelProgram } from '../../cel/cel-program.js';
import { AuthorizerValue, type AuthorizeFn } from '../../cel/authorizer-library.js';
import { toCel } from '../../cel/values.js';
import type { ResourceDefinition } from '../../registry/types.js';
import type { AdmissionAttributes, AdmissionContext, Operation, ValidatingAdmission } from '../types.js';
import { matchResources, type MatchContext, type MatchResources } from './matching.js';
import { POLICY_VARIABLES } from './policy-variables.js';

const log = createLogger('validating-admission-policy');

const GROUP = 'admissionregistration.k8s.io';
const POLICIES = 'validatingadmissionpolicies';
const BINDINGS = 'validatingadmissionpolicybindings';

const REASON_CODES: Record<string, number> = { Unauthorized: 401, Forbidden: 403, Invalid: 422, RequestEntityTooLarge: 413 };

/** Finds the served resource of a paramKind (apiVersion `group/version` or `v1`, kind). */
export type ResolveKind = (group: string, version: string, kind: string) => ResourceDefinition | undefined;

export interface ValidatingAdmissionPolicyOptions {
  resolveKind: ResolveKind;
  /** The server's authorizer, for the `authorizer` variable (null in expressions without it). */
  authorize?: AuthorizeFn;
}

interface Failure {
  message: string;
  reason: string;
  /** The index of the validation in spec.validations (0 for failures of the binding itself). */
  index: number;
}

/** upstream's maxAuditAnnotationValueLength */
const MAX_AUDIT_ANNOTATION_VALUE = 10 * 1024;
const VALIDATION_FAILURE_ANNOTATION = 'validation.policy.admission.k8s.io/validation_failure';

/** A binding-level outcome: undefined (allowed), or failures to act on. */
type Outcome = Failure[] | undefined;

/** The AdmissionRequest fields policies read as `request` (admission.k8s.io/v1). */
function requestVariable(attrs: AdmissionAttributes): Record<string, unknown> {
  const def = attrs.resource;
  const kind = { group: def.group, version: def.version, kind: def.kind };
  const resource = { group: def.group, version: def.version, resource: def.plural };
  const user = attrs.user;
  return {
    kind,
    resource,
    subResource: attrs.subresource,
    requestKind: kind,
    requestResource: resource,
    requestSubResource: attrs.subresource,
    name: attrs.name,
    namespace: attrs.namespace,
    operation: attrs.operation,
    userInfo: { username: user.username, uid: user.uid ?? '', groups: user.groups ?? [], extra: user.extra ?? {} },
    dryRun: attrs.dryRun,
  };
}

class PolicyError extends Error {
  /** The validation whose expression failed (0 when the binding or a matchCondition failed). */
  constructor(message: string, readonly index = 0) {
    super(message);
  }
}

/** Lazily built activation of one evaluation (one binding and one param). */
class Activation {
  private vars: Record<string, unknown> | undefined;
  constructor(
    private readonly base: Record<string, unknown>,
    private readonly policy: ValidatingAdmissionPolicy,
    readonly params: unknown,
    /** What this evaluation's validations, messages and variables spend together (upstream's RuntimeCELCostBudget). */
    readonly budget: CelBudget = { remaining: RUNTIME_COST_BUDGET },
  ) {}

  get(): Record<string, unknown> {
    if (this.vars) return this.vars;
    const variables: Record<string, unknown> = {};
    const activation: Record<string, unknown> = { ...this.base, params: this.params, variables };
    for (const v of this.policy.spec?.variables ?? []) {
      let done = false;
      let value: unknown;
      // Upstream evaluates a variable when an expression first reads it, once per evaluation of the policy.
      Object.defineProperty(variables, v.name, {
        enumerable: true,
        get: () => {
          if (!done) {
            const p = compileCel(v.expression, POLICY_VARIABLES, 'any');
            if (isCompileError(p)) throw new PolicyError(`variable ${v.name} compile error: ${p.message}`);
            value = p.evaluate(activation, this.budget);
            done = true;
          }
          return value;
        },
      });
    }
    this.vars = activation;
    return activation;
  }
}

export class ValidatingAdmissionPolicyPlugin implements ValidatingAdmission {
  readonly name = 'ValidatingAdmissionPolicy';
  readonly operations: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

  constructor(private readonly opts: ValidatingAdmissionPolicyOptions) {}

  handles(attrs: AdmissionAttributes): boolean {
    // Policies never apply to their own configuration (upstream's IsExemptAdmissionConfigurationResource).
    return attrs.resource.group !== GROUP;
  }

  validate(attrs: AdmissionAttributes, ctx: AdmissionContext): void {
    let bindings: KubeObject[] | undefined;
    for (const b of ctx.list(GROUP, BINDINGS)) (bindings ??= []).push(b);
    if (!bindings) return;

    let base: Record<string, unknown> | undefined;
    let nsLabels: { v?: Record<string, string> } | undefined;
    const matchCtx: MatchContext = {
      namespaceLabels: () => {
        nsLabels ??= { v: attrs.namespace ? ctx.cached('', 'namespaces', '', attrs.namespace)?.metadata?.labels : undefined };
        return nsLabels.v;
      },
    };
    const baseActivation = (): Record<string, unknown> => {
      if (base) return base;
      const ns = attrs.namespace && attrs.resource.namespaced ? ctx.cached('', 'namespaces', '', attrs.namespace) : undefined;
      base = {
        object: attrs.operation === 'DELETE' || attrs.object === undefined ? null : toCel(attrs.object),
        oldObject: attrs.oldObject === undefined || attrs.operation === 'CREATE' ? null : toCel(attrs.oldObject),
        request: toCel(requestVariable(attrs)),
        namespaceObject: ns ? toCel(ns) : null,
        authorizer: this.opts.authorize
          ? new AuthorizerValue(this.opts.authorize, attrs.user, { group: attrs.resource.group, version: attrs.resource.version, resource: attrs.resource.plural, subresource: attrs.subresource, namespace: attrs.namespace, name: attrs.name })
          : null,
      };
      return base;
    };

    let denied: { policy: string; binding: string; failure: Failure } | undefined;
    // auditAnnotations by policy, then key: the distinct values of its bindings, published once all have run.
    const annotations = attrs.annotate ? new Map<string, Map<string, string[]>>() : undefined;
    const collect = annotations
      ? (policy: string, key: string, value: string) => {
          let byKey = annotations.get(policy);
          if (!byKey) annotations.set(policy, (byKey = new Map()));
          const values = byKey.get(key) ?? [];
          if (!values.includes(value)) byKey.set(key, [...values, value]);
        }
      : undefined;
    for (const bindingObj of bindings.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))) {
      const binding = bindingObj as ValidatingAdmissionPolicyBinding;
      const policyName = binding.spec?.policyName;
      if (!policyName) continue;
      const policy = ctx.cached(GROUP, POLICIES, '', policyName) as ValidatingAdmissionPolicy | undefined;
      if (!policy?.spec) continue;
      if (!matchResources(policy.spec.matchConstraints as MatchResources | undefined, attrs, matchCtx, true)) continue;
      if (binding.spec?.matchResources && !matchResources(binding.spec.matchResources as MatchResources, attrs, matchCtx, false)) continue;

      const bindingName = binding.metadata?.name ?? '';
      let failures: Outcome;
      try {
        failures = this.evaluateBinding(policy, binding, attrs, ctx, baseActivation, collect);
      } catch (err) {
        // Misconfiguration or an evaluation error: the policy's failurePolicy decides.
        if (policy.spec.failurePolicy === 'Ignore') continue;
        failures = [{ message: (err as Error).message, reason: 'Invalid', index: err instanceof PolicyError ? err.index : 0 }];
      }
      if (!failures?.length) continue;
      const actions = binding.spec?.validationActions ?? [];
      for (const f of failures) {
        if (actions.includes('Warn')) attrs.warn(`Validation failed for ValidatingAdmissionPolicy '${policyName}' with binding '${bindingName}': ${f.message}`);
        if (actions.includes('Audit') && attrs.annotate) {
          const value = [{ message: f.message, policy: policyName, binding: bindingName, expressionIndex: f.index, validationActions: actions }];
          attrs.annotate(VALIDATION_FAILURE_ANNOTATION, JSON.stringify(value));
        }
      }
      if (actions.includes('Deny') && !denied) denied = { policy: policyName, binding: bindingName, failure: failures[0]! };
    }
    if (annotations) {
      for (const [policy, byKey] of annotations) for (const [key, values] of byKey) attrs.annotate!(`${policy}/${key}`, values.join(', '));
    }
    if (denied) throw this.denial(attrs, denied.policy, denied.binding, denied.failure);
  }

  /** The failures of one binding (every param it names); throws for errors that failurePolicy governs. */
  private evaluateBinding(
    policy: ValidatingAdmissionPolicy,
    binding: ValidatingAdmissionPolicyBinding,
    attrs: AdmissionAttributes,
    ctx: AdmissionContext,
    base: () => Record<string, unknown>,
    collect: ((policy: string, key: string, value: string) => void) | undefined,
  ): Outcome {
    const spec = policy.spec!;
    let params: unknown[] = [null];
    if (spec.paramKind) {
      const ref = binding.spec?.paramRef;
      if (!ref) throw new PolicyError(`failed to configure binding: paramRef is required when paramKind is set`);
      const [group, version] = spec.paramKind.apiVersion?.includes('/') ? spec.paramKind.apiVersion.split('/') : ['', spec.paramKind.apiVersion ?? ''];
      const def = this.opts.resolveKind(group!, version!, spec.paramKind.kind ?? '');
      if (!def) throw new PolicyError(`failed to configure policy: failed to find resource referenced by paramKind: '${spec.paramKind.apiVersion}, Kind=${spec.paramKind.kind}'`);
      let namespace = '';
      if (def.namespaced) {
        namespace = ref.namespace || (attrs.resource.namespaced ? attrs.namespace : '');
        if (!namespace) throw new PolicyError(`failed to configure binding: cannot use namespaced paramRef in policy binding that matches cluster-scoped resources`);
      }
      const found: KubeObject[] = [];
      if (ref.name) {
        const p = ctx.cached(def.group, def.plural, namespace, ref.name);
        if (p) found.push(p);
      } else {
        const sel = labelSelectorFromObject(ref.selector ?? {});
        for (const p of ctx.list(def.group, def.plural)) {
          if (def.namespaced && p.metadata.namespace !== namespace) continue;
          if (matches(sel, p.metadata.labels ?? {})) found.push(p);
        }
      }
      if (found.length === 0) {
        if (ref.parameterNotFoundAction === 'Deny') return [{ message: 'failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction', reason: 'Invalid', index: 0 }];
        return undefined;
      }
      params = found.map((p) => toCel(p));
    }

    const failures: Failure[] = [];
    for (const param of params) {
      const activation = new Activation(base(), policy, param);
      // matchConditions: all must be true for the policy to apply; an error is governed by failurePolicy.
      let applies = true;
      for (const c of spec.matchConditions ?? []) {
        const p = program(c.expression, 'bool');
        let r: unknown;
        try {
          r = p.evaluate(activation.get());
        } catch (err) {
          throw new PolicyError(`failed to evaluate matchCondition '${c.name}': ${(err as Error).message}`);
        }
        if (r !== true) {
          applies = false;
          break;
        }
      }
      if (!applies) continue;
      (spec.validations ?? []).forEach((v, i) => {
        const f = evaluateValidation(v, activation, i);
        if (f) failures.push(f);
      });
      // auditAnnotations have a budget of their own, as upstream evaluates them apart.
      const auditBudget: CelBudget = { remaining: RUNTIME_COST_BUDGET };
      for (const a of spec.auditAnnotations ?? []) {
        const p = compileCel(a.valueExpression, POLICY_VARIABLES, 'string-or-null');
        if (isCompileError(p)) throw new PolicyError(`compilation error: ${p.message}`);
        let value: unknown;
        try {
          value = p.evaluate(activation.get(), auditBudget);
        } catch (err) {
          throw new PolicyError(`valueExpression '${a.valueExpression}' resulted in error: ${(err as Error).message}`);
        }
        // Published as `<policy>/<key>` in the request's audit event; null or empty values are omitted.
        if (typeof value === 'string' && value !== '') collect?.(policy.metadata?.name ?? '', a.key, value.slice(0, MAX_AUDIT_ANNOTATION_VALUE));
      }
    }
    return failures;
  }

  private denial(attrs: AdmissionAttributes, policy: string, binding: string, f: Failure): StatusError {
    const message = `ValidatingAdmissionPolicy '${policy}' with binding '${binding}' denied request: ${f.message}`;
    const def = attrs.resource;
    const resource = qualifiedResource({ group: def.group, resource: def.plural });
    const reason = (REASON_CODES[f.reason] ? f.reason : 'Invalid') as StatusReason;
    return new StatusError({
      message: attrs.name ? `${resource} "${attrs.name}" is forbidden: ${message}` : `${resource} is forbidden: ${message}`,
      reason,
      code: REASON_CODES[reason]!,
      details: { name: attrs.name, ...(def.group ? { group: def.group } : {}), kind: def.plural, causes: [{ message }] },
    });
  }
}

function program(expression: string, expect: 'bool' | 'string'): CelProgram {
  const p = compileCel(expression, POLICY_VARIABLES, expect);
  // Refused when the policy was written; a policy stored before a rule change fails as an evaluation error would.
  if (isCompileError(p)) throw new PolicyError(`compilation error: ${p.message}`);
  return p;
}

/** One validation: undefined when it holds, else the failure; throws (failurePolicy) when it cannot be evaluated. */
function evaluateValidation(v: Validation, activation: Activation, index: number): Failure | undefined {
  const p = program(v.expression, 'bool');
  let r: unknown;
  try {
    r = p.evaluate(activation.get(), activation.budget);
  } catch (err) {
    // Out of budget: the binding's evaluation stops, in upstream's words (no expression named).
    if ((err as { budgetExhausted?: boolean }).budgetExhausted) throw new PolicyError(BUDGET_EXHAUSTED, index);
    throw new PolicyError(`expression '${v.expression}' resulted in error: ${(err as Error).message}`, index);
  }
  if (r === true) return undefined;
  if (typeof r !== 'boolean') throw new PolicyError(`expression '${v.expression}' resulted in error: no such overload`, index);
  let message = v.message?.trim() ? v.message : `failed expression: ${v.expression.trim()}`;
  if (v.messageExpression) {
    try {
      const m = program(v.messageExpression, 'string').evaluate(activation.get(), activation.budget);
      // Upstream keeps the static message when messageExpression fails, is empty, too long or multi-line.
      if (typeof m === 'string' && m.trim() && !m.includes('\n') && m.length <= 5120) message = m.trim();
    } catch (err) {
      if ((err as { budgetExhausted?: boolean }).budgetExhausted) throw new PolicyError(`failed messageExpression: ${BUDGET_EXHAUSTED}`, index);
      log.info('messageExpression evaluation failed', { expression: v.messageExpression, err: (err as Error).message });
    }
  }
  return { message, reason: v.reason ?? 'Invalid', index };
}
