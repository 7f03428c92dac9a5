/**
 * Authorization (k8s.io/apiserver/pkg/authorization/authorizer): every request is asked about with the attributes
 * Kubernetes uses, after authentication and before anything is read or written. RBAC arrives with the security
 * work; until then the server runs AlwaysAllow, as kube-apiserver's `--authorization-mode=AlwaysAllow`.
 */
import { StatusError } from '../../api/status.js';
import type { UserInfo } from './user-info.js';

export interface AuthorizationAttributes {
  user: UserInfo;
  /** get, list, watch, create, update, patch, delete, deletecollection (or impersonate, ...); for paths, the lower-cased method. */
  verb: string;
  isResourceRequest: boolean;
  /** Non-resource requests: the URL path. */
  path: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

/** Allow, deny (with a reason shown to the client), or no opinion (the next authorizer decides; the last denies). */
export type Decision = { decision: 'allow'; reason?: string } | { decision: 'deny'; reason?: string } | { decision: 'noOpinion'; reason?: string };

export interface Authorizer {
  authorize(attrs: AuthorizationAttributes): Decision | Promise<Decision>;
}

const ALLOW: Decision = Object.freeze({ decision: 'allow' });
export const alwaysAllow: Authorizer = { authorize: () => ALLOW };

export const alwaysDeny: Authorizer = { authorize: () => ({ decision: 'deny' }) };

/** The 403 kube-apiserver answers (endpoints/handlers/responsewriters Forbidden), word for word. */
export function forbiddenError(attrs: AuthorizationAttributes, reason?: string): StatusError {
  const user = attrs.user.username;
  let msg: string;
  if (!attrs.isResourceRequest) {
    msg = `User ${JSON.stringify(user)} cannot ${attrs.verb} path ${JSON.stringify(attrs.path)}`;
  } else {
    const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
    const where = attrs.namespace ? `in the namespace ${JSON.stringify(attrs.namespace)}` : 'at the cluster scope';
    msg = `User ${JSON.stringify(user)} cannot ${attrs.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(attrs.apiGroup)} ${where}`;
  }
  if (reason) msg += `: ${reason}`;
  if (!attrs.isResourceRequest) return new StatusError({ message: `forbidden: ${msg}`, reason: 'Forbidden', code: 403, details: {} });
  const qualified = attrs.apiGroup ? `${attrs.resource}.${attrs.apiGroup}` : attrs.resource;
  return new StatusError({
    message: attrs.name ? `${qualified} ${JSON.stringify(attrs.name)} is forbidden: ${msg}` : `${qualified} is forbidden: ${msg}`,
    reason: 'Forbidden',
    code: 403,
    details: { ...(attrs.name ? { name: attrs.name } : {}), ...(attrs.apiGroup ? { group: attrs.apiGroup } : {}), kind: attrs.resource },
  });
}

/**
 * kube-apiserver's authorizer union (`--authorization-mode=Node,RBAC`, k8s.io/apiserver/pkg/authorization/union): the
 * first allow or deny wins; when every authorizer has no opinion, the answer is no opinion with their reasons joined
 * by newlines (the 403 shows them after the colon).
 */
export function firstDecision(...authorizers: Authorizer[]): Authorizer {
  // Synchronous until an authorizer answers with a promise: every request passes here.
  const from = (attrs: AuthorizationAttributes, start: number, reasons: string[]): Decision | Promise<Decision> => {
    for (let i = start; i < authorizers.length; i++) {
      const pending = authorizers[i]!.authorize(attrs);
      if (pending instanceof Promise) {
        return pending.then((d) => (d.decision !== 'noOpinion' ? d : from(attrs, i + 1, d.reason ? [...reasons, d.reason] : reasons)));
      }
      if (pending.decision !== 'noOpinion') return pending;
      if (pending.reason) reasons.push(pending.reason);
    }
    return reasons.length ? { decision: 'noOpinion', reason: reasons.join('\n') } : { decision: 'noOpinion' };
  };
  return { authorize: (attrs) => from(attrs, 0, []) };
}
