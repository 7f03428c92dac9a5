/**
 * Who a request acts as: the shape of Kubernetes `user.Info` (k8s.io/apiserver/pkg/authentication/user),
 * the same fields TokenReview and SubjectAccessReview carry on the wire.
 */
export interface UserInfo {
  /** Unique within the cluster, e.g. `system:admin`, `system:serviceaccount:default:builder`. */
  username: string;
  /** Stable identifier when the authenticator knows one (service accounts: the ServiceAccount's uid). */
  uid?: string;
  /** Group names used by RBAC subjects; authenticated users always include `system:authenticated`. */
  groups: string[];
  /** Authenticator-specific attributes (e.g. `authentication.kubernetes.io/pod-name`). */
  extra?: Record<string, string[]>;
}

/** Well-known groups (k8s.io/apiserver/pkg/authentication/user). */
export const GROUP_SYSTEM_MASTERS = 'system:masters';
export const GROUP_AUTHENTICATED = 'system:authenticated';
export const GROUP_UNAUTHENTICATED = 'system:unauthenticated';

/** The identity of a request that presented no credentials, as the anonymous authenticator names it. */
export const ANONYMOUS_USER: Readonly<UserInfo> = Object.freeze({
  username: 'system:anonymous',
  groups: [GROUP_UNAUTHENTICATED],
});

/** The identity the cluster token and the admin client certificate grant. */
export const ADMIN_USERNAME = 'system:admin';

/** The identity of kube-apiserver's own loopback client (system:apiserver in system:masters). */
export const LOOPBACK_USER: Readonly<UserInfo> = Object.freeze({ username: 'system:apiserver', groups: [GROUP_SYSTEM_MASTERS, GROUP_AUTHENTICATED] });
