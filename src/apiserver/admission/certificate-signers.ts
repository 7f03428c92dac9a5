/**
 * CertificateApproval and CertificateSigning admission (plugin/pkg/admission/certificates/{approval,signing}): who
 * may approve a CertificateSigningRequest, and who may put a certificate in its status, is decided per signer.
 *
 *   UPDATE certificatesigningrequests/approval          needs `approve` on certificates.k8s.io signers/<signerName>
 *   UPDATE certificatesigningrequests/status that       needs `sign` on signers/<signerName>
 *          changes status.certificate
 *
 * Either verb may also be granted on `<domain>/*` (signers/example.com/*), as upstream's IsAuthorizedForSignerName
 * asks. The refusal is a 403 in upstream's words. The check asks the server's whole authorization chain.
 */
import type { KubeObject } from '../../api/object.js';
import { forbidden, type StatusError } from '../../api/status.js';
import type { AuthorizationAttributes, Decision } from '../auth/authorizer.js';
import type { UserInfo } from '../auth/user-info.js';
import type { AdmissionAttributes, ValidatingAdmission } from './types.js';

const GROUP = 'certificates.k8s.io';

type Authorize = (attrs: AuthorizationAttributes) => Decision | Promise<Decision>;

function signerName(obj: KubeObject | undefined): string {
  return ((obj?.spec as { signerName?: string } | undefined)?.signerName ?? '') as string;
}

function certificateOf(obj: KubeObject | undefined): string {
  return ((obj?.status as { certificate?: string } | undefined)?.certificate ?? '') as string;
}

function signerAttributes(user: UserInfo, verb: string, name: string): AuthorizationAttributes {
  return { user, verb, isResourceRequest: true, apiGroup: GROUP, apiVersion: '*', resource: 'signers', subresource: '', namespace: '', name, path: '' };
}

/** upstream IsAuthorizedForSignerName: the verb on the signer by name, or on its domain's wildcard. */
export async function authorizedForSigner(authorize: Authorize, user: UserInfo, verb: string, signer: string): Promise<boolean> {
  if ((await authorize(signerAttributes(user, verb, signer))).decision === 'allow') return true;
  const slash = signer.indexOf('/');
  if (slash <= 0) return false;
  return (await authorize(signerAttributes(user, verb, `${signer.slice(0, slash)}/*`))).decision === 'allow';
}

function refuse(attrs: AdmissionAttributes, why: string): StatusError {
  const err = forbidden(`certificatesigningrequests.${GROUP} ${JSON.stringify(attrs.name)} is forbidden: ${why}`);
  err.status.details = { name: attrs.name, group: GROUP, kind: 'certificatesigningrequests' };
  return err;
}

function isCsr(attrs: AdmissionAttributes, subresource: string): boolean {
  return attrs.resource.group === GROUP && attrs.resource.plural === 'certificatesigningrequests' && attrs.subresource === subresource;
}

export function certificateApproval(authorize: Authorize): ValidatingAdmission {
  return {
    name: 'CertificateApproval',
    operations: ['UPDATE'],
    handles: (attrs) => isCsr(attrs, 'approval'),
    async validate(attrs) {
      const signer = signerName(attrs.object);
      if (!(await authorizedForSigner(authorize, attrs.user, 'approve', signer))) {
        throw refuse(attrs, `user not permitted to approve requests with signerName ${JSON.stringify(signer)}`);
      }
    },
  };
}

export function certificateSigning(authorize: Authorize): ValidatingAdmission {
  return {
    name: 'CertificateSigning',
    operations: ['UPDATE'],
    handles: (attrs) => isCsr(attrs, 'status'),
    async validate(attrs) {
      // Only a write that changes the issued certificate is signing; conditions alone are not.
      if (certificateOf(attrs.object) === certificateOf(attrs.oldObject)) return;
      const signer = signerName(attrs.oldObject ?? attrs.object);
      if (!(await authorizedForSigner(authorize, attrs.user, 'sign', signer))) {
        throw refuse(attrs, `user not permitted to sign requests with signerName ${JSON.stringify(signer)}`);
      }
    },
  };
}
