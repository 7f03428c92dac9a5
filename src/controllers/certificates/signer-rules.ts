/**
 * Which requests each kubernetes.io signer of kube-controller-manager issues (pkg/controller/certificates/signer:
 * isKubeletServing, isKubeletClient, isKubeAPIServerClient; pkg/apis/certificates/v1 helpers
 * ValidateKubeletServingCSR / ValidateKubeletClientCSR). A recognized request that breaks its signer's rules gets a
 * Failed condition (reason SignerValidationFailure) with the returned message; an unrecognized signerName is left
 * to its own signer (kubernetes.io/legacy-unknown is never signed here).
 */
import type { ParsedRequest } from './sign-certificate.js';

export const KUBE_APISERVER_CLIENT = 'kubernetes.io/kube-apiserver-client';
export const KUBE_APISERVER_CLIENT_KUBELET = 'kubernetes.io/kube-apiserver-client-kubelet';
export const KUBELET_SERVING = 'kubernetes.io/kubelet-serving';

export const SIGNERS = [KUBE_APISERVER_CLIENT, KUBE_APISERVER_CLIENT_KUBELET, KUBELET_SERVING];

/** `recognized: false`: not this controller's signer. `error`: recognized, and refused with this message. */
export interface SignerDecision {
  recognized: boolean;
  error?: string;
}

const sameSet = (a: string[], b: string[]) => new Set(a).size === b.length && b.every((x) => a.includes(x));

function usagesMatch(usages: string[], required: string[], requiredNoRSA: string[]): string | undefined {
  if (sameSet(usages, required) || sameSet(usages, requiredNoRSA)) return undefined;
  // Go's sets.List() is sorted.
  return `usages did not match [${[...required].sort().join(' ')}]`;
}

function organizationIsNodes(req: ParsedRequest): boolean {
  return req.organizations.length === 1 && req.organizations[0] === 'system:nodes';
}

/** ValidateKubeletServingCSR. */
export function validateKubeletServing(req: ParsedRequest, usages: string[]): string | undefined {
  if (!organizationIsNodes(req)) return 'subject organization is not system:nodes';
  if (req.dnsNames.length === 0 && req.ipAddresses.length === 0) return 'DNS or IP subjectAltName is required';
  if (req.emailAddresses.length > 0) return 'Email subjectAltNames are not allowed';
  if (req.uris.length > 0) return 'URI subjectAltNames are not allowed';
  const usageErr = usagesMatch(usages, ['digital signature', 'key encipherment', 'server auth'], ['digital signature', 'server auth']);
  if (usageErr) return usageErr;
  if (!req.commonName.startsWith('system:node:')) return 'subject common name does not begin with system:node:';
  return undefined;
}

/** ValidateKubeletClientCSR. */
export function validateKubeletClient(req: ParsedRequest, usages: string[]): string | undefined {
  if (!organizationIsNodes(req)) return 'subject organization is not system:nodes';
  if (req.dnsNames.length > 0) return 'DNS subjectAltNames are not allowed';
  if (req.emailAddresses.length > 0) return 'Email subjectAltNames are not allowed';
  if (req.ipAddresses.length > 0) return 'IP subjectAltNames are not allowed';
  if (req.uris.length > 0) return 'URI subjectAltNames are not allowed';
  if (!req.commonName.startsWith('system:node:')) return 'subject common name does not begin with system:node:';
  return usagesMatch(usages, ['digital signature', 'key encipherment', 'client auth'], ['digital signature', 'client auth']);
}

/** validAPIServerClientUsages: client auth required, digital signature and key encipherment allowed, nothing else. */
export function validateAPIServerClientUsages(usages: string[]): string | undefined {
  let clientAuth = false;
  for (const u of usages) {
    if (u === 'digital signature' || u === 'key encipherment') continue;
    if (u === 'client auth') clientAuth = true;
    else return `invalid usage for client certificate: ${u}`;
  }
  return clientAuth ? undefined : 'missing required usage for client certificate: client auth';
}

/** The decision for one request under its signerName. */
export function decideSigner(signerName: string, req: ParsedRequest, usages: string[]): SignerDecision {
  switch (signerName) {
    case KUBELET_SERVING:
      return { recognized: true, error: validateKubeletServing(req, usages) };
    case KUBE_APISERVER_CLIENT_KUBELET:
      return { recognized: true, error: validateKubeletClient(req, usages) };
    case KUBE_APISERVER_CLIENT:
      return { recognized: true, error: validateAPIServerClientUsages(usages) };
    default:
      return { recognized: false };
  }
}
