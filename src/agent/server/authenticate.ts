/**
 * Who may use the agent's API: clients with a certificate signed by the cluster CA (TLS verifies it), and among those,
 * by default, only the API server's kubelet-client identity and system:masters. kubelet asks the API server
 * (webhook authorization, `nodes/proxy` etc.); the agent keeps a fixed list instead and answers in kubelet's words
 * (pkg/kubelet/server/auth.go): 401 "Unauthorized", 403 "Forbidden (user=..., verb=..., resource=nodes, subresource=...)".
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface CertificateIdentity {
  username: string;
  groups: string[];
}

/** CNs of the API server's client certificate towards kubelets, as kubeadm, k3s and skiff name it. */
export const DEFAULT_AUTHORIZED_USERS = ['system:apiserver', 'system:kube-apiserver', 'kube-apiserver-kubelet-client'];
export const DEFAULT_AUTHORIZED_GROUPS = ['system:masters'];

function values(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** The identity of a verified client certificate (CN = user, O = groups), or undefined. */
export function certificateIdentity(req: IncomingMessage): CertificateIdentity | undefined {
  const socket = req.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  const cn = values(cert?.subject?.CN)[0];
  if (!cn) return undefined;
  return { username: cn, groups: values(cert.subject.O) };
}

export interface AuthorizationPolicy {
  users: string[];
  groups: string[];
}

export function isAuthorized(id: CertificateIdentity, policy: AuthorizationPolicy): boolean {
  return policy.users.includes(id.username) || id.groups.some((g) => policy.groups.includes(g));
}

/** kubelet's request attributes for a path: the verb from the method, the subresource from the first segment. */
export function requestAttributes(method: string, path: string): { verb: string; subresource: string } {
  const verbs: Record<string, string> = { GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
  const first = path.split('/')[1] ?? '';
  const subresource = first === 'stats' ? 'stats' : first === 'metrics' ? 'metrics' : first === 'logs' ? 'log' : first === 'spec' ? 'spec' : 'proxy';
  return { verb: verbs[method] ?? method.toLowerCase(), subresource };
}

export function forbiddenMessage(id: CertificateIdentity, method: string, path: string): string {
  const a = requestAttributes(method, path);
  return `Forbidden (user=${id.username}, verb=${a.verb}, resource=nodes, subresource=${a.subresource})`;
}
