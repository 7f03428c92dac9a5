/**
 * RBAC escalation prevention (pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased): a
 * user may write a Role or ClusterRole only with rules they already hold (or with the `escalate` verb on it), and a
 * binding only to a role whose rules they hold (or with the `bind` verb on that role). system:masters may do both.
 * Runs as a validating admission plugin, after the object is defaulted and validated, with upstream's 403 wording.
 */
import type { ClusterRole, PolicyRule, RoleBinding, RoleRef } from 'kubernetes-types/rbac/v1.js';
import type { KubeObject } from '../../../api/object.js';
import { forbidden, notFound, StatusError } from '../../../api/status.js';
import { deepEqual } from '../../../api/validation.js';
import type { AdmissionAttributes, ValidatingAdmission } from '../../admission/types.js';
import type { AuthorizationAttributes, Decision } from '../authorizer.js';
import { GROUP_SYSTEM_MASTERS, type UserInfo } from '../user-info.js';
import type { RbacAuthorizer } from './rbac-authorizer.js';
import { aggregateErrors } from './rbac-authorizer.js';
import { compactRules, compactString, covers, goQuotedList } from './rule-coverage.js';

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const FULL_AUTHORITY: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

export interface EscalationCheckOptions {
  rbac: RbacAuthorizer;
  /** The server's whole authorization chain (the `escalate` and `bind` verbs are asked of it). */
  authorize(attrs: AuthorizationAttributes): Decision | Promise<Decision>;
}

/** upstream EscalationAllowed: the privileged group may grant anything (the API server's own loopback is in it). */
function escalationAllowed(user: UserInfo): boolean {
  return user.groups.includes(GROUP_SYSTEM_MASTERS);
}

function forbiddenFor(resource: string, name: string, why: string): StatusError {
  const err = forbidden(`${resource}.${RBAC_GROUP} ${JSON.stringify(name)} is forbidden: ${why}`);
  err.status.details = { name, group: RBAC_GROUP, kind: resource };
  return err;
}

/** upstream ConfirmNoEscalation's message, or undefined when the user holds every rule. */
export function escalationMessage(rbac: RbacAuthorizer, user: UserInfo, namespace: string, rules: readonly PolicyRule[]): string | undefined {
  const owner = rbac.rulesFor(user, namespace);
  const { covered, missing } = covers(owner.rules, rules);
  if (covered) return undefined;
  const lines = [...new Set(compactRules(missing).map(compactString))].sort();
  let msg = `user ${JSON.stringify(user.username)} (groups=${goQuotedList(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${lines.join('\n')}`;
  if (owner.errors.length > 0) msg += `; resolution errors: [${aggregateErrors(owner.errors)}]`;
  return msg;
}

/** Only metadata the garbage collector changes (finalizers, ownerReferences) differs: no check (IsOnlyMutatingGCFields). */
function onlyGcFields(obj: KubeObject, old: KubeObject | undefined): boolean {
  if (!old) return false;
  const strip = (o: KubeObject) => {
    const c = structuredClone(o);
    delete c.metadata.finalizers;
    delete c.metadata.ownerReferences;
    delete c.metadata.resourceVersion;
    delete c.metadata.managedFields;
    return c;
  };
  return deepEqual(strip(obj), strip(old));
}

export function rbacEscalationCheck(opts: EscalationCheckOptions): ValidatingAdmission {
  const allowed = async (attrs: AuthorizationAttributes) => {
    const d = opts.authorize(attrs);
    return (d instanceof Promise ? await d : d).decision === 'allow';
  };
  const verbOn = (user: UserInfo, verb: string, resource: string, namespace: string, name: string): AuthorizationAttributes => ({
    user,
    verb,
    isResourceRequest: true,
    path: '',
    apiGroup: RBAC_GROUP,
    apiVersion: '*',
    resource,
    subresource: '',
    namespace,
    name,
  });
  return {
    name: 'RBACEscalationPrevention',
    operations: ['CREATE', 'UPDATE'],
    handles: (a) => a.resource.group === RBAC_GROUP && a.subresource === '',
    async validate(a: AdmissionAttributes) {
      if (escalationAllowed(a.user) || !a.object || onlyGcFields(a.object, a.oldObject)) return;
      const plural = a.resource.plural;
      const name = a.object.metadata?.name ?? a.name;
      if (plural === 'roles' || plural === 'clusterroles') {
        if (await allowed(verbOn(a.user, 'escalate', plural, a.namespace, name))) return;
        const role = a.object as unknown as ClusterRole;
        const msg = escalationMessage(opts.rbac, a.user, a.namespace, role.rules ?? []);
        if (msg) throw forbiddenFor(plural, name, msg);
        // An aggregationRule can gather anything: only holders of everything may set one.
        if (plural === 'clusterroles' && (role.aggregationRule?.clusterRoleSelectors?.length ?? 0) > 0 && escalationMessage(opts.rbac, a.user, '', FULL_AUTHORITY)) {
          throw forbiddenFor(plural, name, 'must have cluster-admin privileges to use the aggregationRule');
        }
        return;
      }
      if (plural === 'rolebindings' || plural === 'clusterrolebindings') {
        const ref = (a.object as unknown as RoleBinding).roleRef as RoleRef;
        const refResource = ref.kind === 'ClusterRole' ? 'clusterroles' : 'roles';
        if (await allowed(verbOn(a.user, 'bind', refResource, a.namespace, ref.name))) return;
        const found = opts.rbac.index.rulesOf(ref, a.namespace);
        // upstream returns the lister's NotFound, which names the kind in the singular.
        if ('error' in found) throw notFound({ resource: ref.kind === 'ClusterRole' ? 'clusterrole' : 'role', group: RBAC_GROUP, name: ref.name });
        const msg = escalationMessage(opts.rbac, a.user, a.namespace, found.rules);
        if (msg) throw forbiddenFor(plural, name, msg);
      }
    },
  };
}
