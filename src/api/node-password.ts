/**
 * Where a node's password hash lives (k3s's node-password Secrets, kube-system/<node>.node-password.k3s; here
 * `.skiff`): written by the API server's join endpoint, deleted with the Node by the node-password controller.
 */
export const NODE_PASSWORD_NAMESPACE = 'kube-system';
export const NODE_PASSWORD_SECRET_SUFFIX = '.node-password.skiff';
export const NODE_PASSWORD_SECRET_TYPE = 'skiff.dev/node-password';

/** The name of the Secret holding a node's password hash. */
export function nodePasswordSecretName(nodeName: string): string {
  return `${nodeName}${NODE_PASSWORD_SECRET_SUFFIX}`;
}
