/**
 * How kube-apiserver combines authorizers (k8s.io/apiserver/pkg/authorization/union and authorizerfactory): the
 * privileged group system:masters is allowed everything before any mode is asked, then each mode in order; the
 * first allow or deny decides, and when every mode has no opinion the request is denied with their reasons.
 */
import type { AuthorizationAttributes, Authorizer, Decision } from '../authorizer.js';
import { GROUP_SYSTEM_MASTERS } from '../user-info.js';

const ALLOW: Decision = Object.freeze({ decision: 'allow' });

/** authorizerfactory.NewPrivilegedGroups(system:masters). */
export const privilegedGroupsAuthorizer: Authorizer = {
  authorize: (attrs) => (attrs.user.groups.includes(GROUP_SYSTEM_MASTERS) ? ALLOW : { decision: 'noOpinion' }),
};

/** union.New: ask each in order; reasons of those without an opinion are joined with ", " as upstream does. */
export function unionAuthorizer(authorizers: readonly Authorizer[]): Authorizer {
  const combine = (attrs: AuthorizationAttributes, from: number, reasons: string[]): Decision | Promise<Decision> => {
    for (let i = from; i < authorizers.length; i++) {
      const d = authorizers[i].authorize(attrs);
      if (d instanceof Promise) {
        return d.then((res) => {
          if (res.decision !== 'noOpinion') return res;
          if (res.reason) reasons.push(res.reason);
          return combine(attrs, i + 1, reasons);
        });
      }
      if (d.decision !== 'noOpinion') return d;
      if (d.reason) reasons.push(d.reason);
    }
    return { decision: 'noOpinion', reason: reasons.join(', ') };
  };
  return { authorize: (attrs) => combine(attrs, 0, []) };
}
