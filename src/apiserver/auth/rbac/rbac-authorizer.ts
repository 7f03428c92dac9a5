/**
 * The RBAC authorizer (plugin/pkg/auth/authorizer/rbac): a request is allowed when a rule of a role bound to the
 * user (by a ClusterRoleBinding, or by a RoleBinding in the request's namespace) covers it; otherwise RBAC has no
 * opinion and the chain's end denies. Bindings to roles that do not exist grant nothing; their "not found" errors
 * become the deny reason, as kube-apiserver words it (`RBAC: clusterrole.rbac.authorization.k8s.io "x" not found`).
 */
import type { PolicyRule } from 'kubernetes-types/rbac/v1.js';
import type { AuthorizationAttributes, Authorizer, Decision } from '../authorizer.js';
import type { UserInfo } from '../user-info.js';
import type { BindingMatch, RbacIndex } from './rbac-index.js';
import { describeSubject, ruleAllows } from './rule-matching.js';

/** What SelfSubjectRulesReview reports: the rules that apply to a user in a namespace. */
export interface UserRules {
  rules: PolicyRule[];
  /** Bindings whose role is missing (upstream's aggregated errors). */
  errors: string[];
}

export class RbacAuthorizer implements Authorizer {
  constructor(readonly index: RbacIndex) {}

  authorize(attrs: AuthorizationAttributes): Decision {
    let errors: string[] | undefined;
    for (const m of this.index.bindingsFor(attrs.user, attrs.namespace)) {
      const found = this.index.rulesOf(m.binding.roleRef, bindingNamespace(m));
      if ('error' in found) {
        (errors ??= []).push(found.error);
        continue;
      }
      for (const rule of found.rules) {
        if (ruleAllows(attrs, rule)) return allowedBy(m);
      }
    }
    return { decision: 'noOpinion', reason: errors ? `RBAC: ${aggregateErrors(errors)}` : '' };
  }

  /** Every rule that applies to `user` in `namespace` ('' = cluster-wide only), as RulesFor in upstream's resolver. */
  rulesFor(user: UserInfo, namespace: string): UserRules {
    const out: UserRules = { rules: [], errors: [] };
    for (const m of this.index.bindingsFor(user, namespace)) {
      const found = this.index.rulesOf(m.binding.roleRef, bindingNamespace(m));
      if ('error' in found) out.errors.push(found.error);
      else out.rules.push(...found.rules);
    }
    return out;
  }
}

/** An allow whose reason (read only by the audit log) is worded when read, not on every request. */
function allowedBy(m: BindingMatch): Decision {
  return {
    decision: 'allow',
    get reason() {
      return `RBAC: allowed by ${describeBinding(m)}`;
    },
  };
}

function bindingNamespace(m: BindingMatch): string {
  return m.kind === 'RoleBinding' ? (m.binding.metadata?.namespace ?? '') : '';
}

/** upstream clusterRoleBindingDescriber / roleBindingDescriber. */
function describeBinding(m: BindingMatch): string {
  const b = m.binding;
  const ns = bindingNamespace(m);
  const name = m.kind === 'RoleBinding' ? `${b.metadata?.name}/${ns}` : (b.metadata?.name ?? '');
  return `${m.kind} ${JSON.stringify(name)} of ${b.roleRef.kind} ${JSON.stringify(b.roleRef.name)} to ${describeSubject(m.subject, ns)}`;
}

/** k8s.io/apimachinery utilerrors.NewAggregate(...).Error(): one message as is, several de-duplicated in brackets. */
export function aggregateErrors(errors: string[]): string {
  const unique = [...new Set(errors)];
  return unique.length === 1 ? unique[0] : `[${unique.join(', ')}]`;
}
