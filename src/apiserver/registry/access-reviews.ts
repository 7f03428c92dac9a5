/**
 * Computed, never-stored review resources that `kubectl auth can-i` and `kubectl auth whoami` create:
 * authorization.k8s.io/v1 SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview,
 * LocalSubjectAccessReview (namespaced), authentication.k8s.io/v1 SelfSubjectReview. The answers here are those of a
 * server without authorization (everyone may do everything); startApiServer replaces the authorization ones with
 * answers from its authorizer (auth/rbac/access-reviews.ts).
 */
import type { KubeObject } from '../../api/object.js';
import { defineResource } from './define-resource.js';
import { fallbackPrinter } from './table-columns.js';
import type { ResourceDefinition } from './types.js';

function review(group: string, kind: string, plural: string, compute: ResourceDefinition['virtual'], namespaced = false): ResourceDefinition {
  const def = defineResource({
    group,
    version: 'v1',
    kind,
    plural,
    singular: plural.replace(/s$/, ''),
    namespaced,
    verbs: ['create'],
    hasStatus: false,
    schemaName: `io.k8s.api.${group.split('.')[0]}.v1.${kind}`,
    tracksGeneration: false,
    nameValidator: () => [],
    printer: fallbackPrinter,
  });
  def.virtual = compute;
  return def;
}

const answer = (obj: KubeObject, status: Record<string, unknown>): KubeObject => ({
  ...obj,
  metadata: { ...obj.metadata, creationTimestamp: null as unknown as string },
  status,
});

export const selfsubjectaccessreviews = review('authorization.k8s.io', 'SelfSubjectAccessReview', 'selfsubjectaccessreviews', (obj) =>
  answer(obj, { allowed: true, reason: 'skiff: every authenticated user is a cluster administrator until RBAC is enforced' }),
);

export const selfsubjectrulesreviews = review('authorization.k8s.io', 'SelfSubjectRulesReview', 'selfsubjectrulesreviews', (obj) =>
  answer(obj, {
    resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
    nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
    incomplete: false,
  }),
);

export const selfsubjectreviews = review('authentication.k8s.io', 'SelfSubjectReview', 'selfsubjectreviews', (obj, user) =>
  answer(obj, { userInfo: { username: user.username, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups, ...(user.extra ? { extra: user.extra } : {}) } }),
);

const allowedWithoutAuthorization = (obj: KubeObject) => answer(obj, { allowed: true, reason: 'skiff: this server runs without authorization' });

export const subjectaccessreviews = review('authorization.k8s.io', 'SubjectAccessReview', 'subjectaccessreviews', allowedWithoutAuthorization);

export const localsubjectaccessreviews = review('authorization.k8s.io', 'LocalSubjectAccessReview', 'localsubjectaccessreviews', allowedWithoutAuthorization, true);
