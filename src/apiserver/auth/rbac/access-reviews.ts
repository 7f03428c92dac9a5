/**
 * The answers of authorization.k8s.io's review resources (pkg/registry/authorization): SubjectAccessReview (any
 * user, asked by someone allowed to create SARs), LocalSubjectAccessReview (the same within the URL's namespace),
 * SelfSubjectAccessReview (the requester), SelfSubjectRulesReview (the requester's RBAC rules in a namespace). Each is
 * decided by the server's real authorization chain, so `kubectl auth can-i` tells the truth.
 */
import type { KubeObject } from '../../../api/object.js';
import { badRequest, fieldInvalid, invalid, type FieldError } from '../../../api/status.js';
import type { AuthorizationAttributes, Decision } from '../authorizer.js';
import type { UserInfo } from '../user-info.js';
import type { RbacAuthorizer } from './rbac-authorizer.js';

export interface AccessReviewer {
  authorize(attrs: AuthorizationAttributes): Decision | Promise<Decision>;
  rbac: RbacAuthorizer;
}

interface ResourceAttributes {
  namespace?: string;
  verb?: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

interface ReviewSpec {
  resourceAttributes?: ResourceAttributes;
  nonResourceAttributes?: { path?: string; verb?: string };
  user?: string;
  groups?: string[];
  uid?: string;
  extra?: Record<string, string[]>;
  namespace?: string;
}

const answer = (obj: KubeObject, status: Record<string, unknown>): KubeObject => ({
  ...obj,
  metadata: { ...obj.metadata, creationTimestamp: null as unknown as string },
  status,
});

function attributesOf(user: UserInfo, spec: ReviewSpec): AuthorizationAttributes {
  const r = spec.resourceAttributes;
  if (r) {
    return {
      user,
      verb: r.verb ?? '',
      isResourceRequest: true,
      path: '',
      apiGroup: r.group ?? '',
      apiVersion: r.version ?? '',
      resource: r.resource ?? '',
      subresource: r.subresource ?? '',
      namespace: r.namespace ?? '',
      name: r.name ?? '',
    };
  }
  const n = spec.nonResourceAttributes ?? {};
  return { user, verb: n.verb ?? '', isResourceRequest: false, path: n.path ?? '', apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
}

function validateAttributes(kind: string, spec: ReviewSpec): FieldError[] {
  const errs: FieldError[] = [];
  if (spec.resourceAttributes && spec.nonResourceAttributes) errs.push(fieldInvalid('spec.nonResourceAttributes', spec.nonResourceAttributes, 'cannot be specified in combination with resourceAttributes'));
  if (!spec.resourceAttributes && !spec.nonResourceAttributes) errs.push(fieldInvalid('spec.resourceAttributes', null, 'exactly one of nonResourceAttributes or resourceAttributes must be specified'));
  if (kind === 'LocalSubjectAccessReview' && spec.nonResourceAttributes) errs.push(fieldInvalid('spec.nonResourceAttributes', spec.nonResourceAttributes, 'disallowed on this kind of request'));
  return errs;
}

async function decide(reviewer: AccessReviewer, attrs: AuthorizationAttributes): Promise<Record<string, unknown>> {
  const d = reviewer.authorize(attrs);
  const decision = d instanceof Promise ? await d : d;
  const status: Record<string, unknown> = { allowed: decision.decision === 'allow' };
  if (decision.decision === 'deny') status.denied = true;
  if (decision.reason) status.reason = decision.reason;
  return status;
}

/** Answers one review of `kind` created by `requester` (`namespace`: the URL's, for LocalSubjectAccessReview). */
export async function computeAccessReview(reviewer: AccessReviewer, kind: string, obj: KubeObject, requester: UserInfo, namespace: string): Promise<KubeObject> {
  const spec = ((obj as { spec?: ReviewSpec }).spec ?? {}) as ReviewSpec;
  const group = 'authorization.k8s.io';
  switch (kind) {
    case 'SelfSubjectAccessReview': {
      const errs = validateAttributes(kind, spec);
      if (errs.length) throw invalid(kind, group, '', errs);
      return answer(obj, await decide(reviewer, attributesOf(requester, spec)));
    }
    case 'SubjectAccessReview':
    case 'LocalSubjectAccessReview': {
      const errs = validateAttributes(kind, spec);
      if (!spec.user && (spec.groups?.length ?? 0) === 0) errs.push(fieldInvalid('spec.user', spec.user ?? '', 'at least one of user or group must be specified'));
      if (errs.length) throw invalid(kind, group, '', errs);
      if (kind === 'LocalSubjectAccessReview') {
        if (obj.metadata?.namespace && obj.metadata.namespace !== namespace) throw badRequest(`namespace of the provided object does not match the namespace sent on the request`);
        if ((spec.resourceAttributes?.namespace ?? '') !== namespace) throw badRequest(`spec.resourceAttributes.namespace must match namespace: ${namespace}`);
      }
      const user: UserInfo = { username: spec.user ?? '', groups: spec.groups ?? [], ...(spec.uid ? { uid: spec.uid } : {}), ...(spec.extra ? { extra: spec.extra } : {}) };
      const out = answer(obj, await decide(reviewer, attributesOf(user, spec)));
      if (kind === 'LocalSubjectAccessReview') out.metadata.namespace = namespace;
      return out;
    }
    case 'SelfSubjectRulesReview': {
      const { rules, errors } = reviewer.rbac.rulesFor(requester, spec.namespace ?? '');
      const resourceRules = rules.filter((r) => (r.resources?.length ?? 0) > 0).map((r) => ({ verbs: r.verbs, apiGroups: r.apiGroups ?? [], resources: r.resources ?? [], ...(r.resourceNames?.length ? { resourceNames: r.resourceNames } : {}) }));
      const nonResourceRules = rules.filter((r) => (r.nonResourceURLs?.length ?? 0) > 0).map((r) => ({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs ?? [] }));
      return answer(obj, { resourceRules, nonResourceRules, incomplete: errors.length > 0, ...(errors.length ? { evaluationError: errors.join(', ') } : {}) });
    }
    default:
      throw badRequest(`${kind} is not an access review`);
  }
}
