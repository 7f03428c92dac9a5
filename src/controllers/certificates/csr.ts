/** What the certificate controllers share: the resource types they use and readings of a CSR's status. */
import type { CertificateSigningRequest, CertificateSigningRequestCondition } from 'kubernetes-types/certificates/v1.js';
import type { KubeObject } from '../../api/object.js';
import type { ResourceType } from '../../client/types.js';

export type CSR = CertificateSigningRequest & KubeObject;

export const CertificateSigningRequests: ResourceType = { group: 'certificates.k8s.io', version: 'v1', resource: 'certificatesigningrequests', kind: 'CertificateSigningRequest', namespaced: false };
export const SubjectAccessReviews: ResourceType = { group: 'authorization.k8s.io', version: 'v1', resource: 'subjectaccessreviews', kind: 'SubjectAccessReview', namespaced: false };

export function conditionOf(csr: CertificateSigningRequest, type: string): CertificateSigningRequestCondition | undefined {
  return csr.status?.conditions?.find((c) => c.type === type);
}

/** IsCertificateRequestApproved: Approved and not Denied. */
export function isApproved(csr: CertificateSigningRequest): boolean {
  return !!conditionOf(csr, 'Approved') && !conditionOf(csr, 'Denied');
}

/** HasTrueCondition(csr, Failed). */
export function hasFailed(csr: CertificateSigningRequest): boolean {
  return conditionOf(csr, 'Failed')?.status === 'True';
}

export function isIssued(csr: CertificateSigningRequest): boolean {
  return !!csr.status?.certificate;
}

/** spec.request (base64 in JSON) as PEM text. */
export function requestPem(csr: CertificateSigningRequest): string {
  return Buffer.from(csr.spec?.request ?? '', 'base64').toString('latin1');
}
