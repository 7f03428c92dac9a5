/**
 * certificates.k8s.io/v1 CertificateSigningRequests, as kube-apiserver 1.32 serves them
 * (pkg/registry/certificates/certificates/strategy.go, pkg/apis/certificates/validation/validation.go,
 * pkg/printers/internalversion/printers.go):
 * - create records the requesting user in spec.username/uid/groups/extra, whatever the client sent, and starts
 *   with no status (nobody creates a pre-approved request);
 * - the spec is immutable (updates keep the stored one) and main-resource writes keep the status;
 * - /status may set status.certificate once, and may not add, change or remove Approved/Denied conditions;
 * - /approval (what `kubectl certificate approve|deny` PUTs) changes only the Approved/Denied conditions.
 * Signing is the controller manager's job (src/controllers/certificates/).
 */
import type { CertificateSigningRequest, CertificateSigningRequestCondition, CertificateSigningRequestSpec } from 'kubernetes-types/certificates/v1.js';
import type { KubeObject } from '../../api/object.js';
import { humanDuration } from '../../api/age.js';
import { fieldDuplicate, forbidden, fieldForbidden, fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { deepEqual, DNS1123SubdomainMaxLength, isDNS1123Label, isDNS1123Subdomain, validateObjectMetaUpdateRules } from '../../api/validation.js';
import { rfc3339 } from '../../api/time.js';
import { certificateRequestOrganizations, checkCertificatePem, checkCertificateRequestPem } from './certificate-request.js';
import { defineResource, specOf } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';
import type { SubresourceDefinition } from './types.js';

export const LEGACY_UNKNOWN_SIGNER = 'kubernetes.io/legacy-unknown';
const KUBE_APISERVER_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client';

/** certificates.KeyUsage values (allValidUsages). */
export const validUsages = [
  'any', 'cert sign', 'client auth', 'code signing', 'content commitment', 'crl sign', 'data encipherment', 'decipher only',
  'digital signature', 'email protection', 'encipher only', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'key agreement',
  'key encipherment', 'microsoft sgc', 'netscape sgc', 'ocsp signing', 's/mime', 'signing', 'server auth', 'timestamping',
];

const TRUE_ONLY_TYPES = new Set(['Approved', 'Denied', 'Failed']);

/** A `bytes` field (base64 in JSON) as text, or undefined when it is not valid base64. */
export function decodeBytes(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 === 1) return undefined;
  return Buffer.from(value, 'base64').toString('latin1');
}

/** core validation's ValidateSignerName: `<domain with a dot>/<path>`. */
export function validateSignerName(path: string, signerName: string | undefined): FieldError[] {
  if (!signerName) return [fieldRequired(path)];
  const segments = signerName.split('/');
  if (segments.length !== 2) return [fieldInvalid(path, signerName, "must be a fully qualified domain and path of the form 'example.com/signer-name'")];
  const [domain, name] = segments as [string, string];
  const errs: FieldError[] = [];
  if (domain.length > DNS1123SubdomainMaxLength) errs.push({ type: 'FieldValueTooLong', field: path, detail: `Too long: may not be more than ${DNS1123SubdomainMaxLength} bytes` });
  const labels = domain.split('.');
  for (const label of labels) {
    const labelErrs = isDNS1123Label(label);
    if (labelErrs.length > 0) {
      for (const e of labelErrs) errs.push(fieldInvalid(path, domain, `validating label ${JSON.stringify(label)}: ${e}`));
      break;
    }
  }
  if (labels.length < 2) errs.push(fieldInvalid(path, domain, 'should be a domain with at least two segments separated by dots'));
  const maxPath = DNS1123SubdomainMaxLength - domain.length - 1;
  if (name.length > maxPath) errs.push({ type: 'FieldValueTooLong', field: path, detail: `Too long: may not be more than ${maxPath} bytes` });
  for (const e of isDNS1123Subdomain(name)) errs.push(fieldInvalid(path, name, `validating path ${JSON.stringify(name)}: ${e}`));
  return errs;
}

function conditionsOf(obj: KubeObject): CertificateSigningRequestCondition[] {
  return (as<CertificateSigningRequest>(obj).status?.conditions ?? []) as CertificateSigningRequestCondition[];
}

function validateConditions(obj: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const path = 'status.conditions';
  const oldTypes = old ? conditionsOf(old).map((c) => c.type) : [];
  // Compatibility with stored data, as upstream's getValidationOptions.
  const allowBoth = oldTypes.includes('Approved') && oldTypes.includes('Denied');
  const allowDuplicates = new Set(oldTypes).size !== oldTypes.length;
  const seen = new Set<string>();
  let approved = false;
  let denied = false;
  conditionsOf(obj).forEach((c, i) => {
    if (!c.type) errs.push(fieldRequired(`${path}[${i}].type`));
    const allowed = TRUE_ONLY_TYPES.has(c.type) ? ['True'] : ['False', 'True', 'Unknown'];
    if (!c.status) errs.push(fieldRequired(`${path}[${i}].status`));
    else if (!allowed.includes(c.status)) errs.push(fieldNotSupported(`${path}[${i}].status`, c.status, allowed));
    if (!allowBoth) {
      if (c.type === 'Approved') {
        approved = true;
        if (denied) errs.push(fieldInvalid(`${path}[${i}].type`, c.type, 'Approved and Denied conditions are mutually exclusive'));
      } else if (c.type === 'Denied') {
        denied = true;
        if (approved) errs.push(fieldInvalid(`${path}[${i}].type`, c.type, 'Approved and Denied conditions are mutually exclusive'));
      }
    }
    if (!allowDuplicates && seen.has(c.type)) errs.push(fieldDuplicate(`${path}[${i}].type`, c.type));
    seen.add(c.type);
  });
  return errs;
}

/** validateCertificateSigningRequest, with the options upstream derives from the stored object on updates. */
export function validateCSR(obj: KubeObject, old?: KubeObject): FieldError[] {
  const spec = (obj.spec ?? {}) as CertificateSigningRequestSpec;
  const oldSpec = (old?.spec ?? {}) as CertificateSigningRequestSpec;
  const errs: FieldError[] = [];
  const request = decodeBytes(spec.request);
  if (!spec.request) errs.push(fieldRequired('spec.request'));
  else {
    const why = request === undefined ? 'illegal base64 data' : checkCertificateRequestPem(request);
    if (why) errs.push(fieldInvalid('spec.request', '<request data>', why));
  }
  const usages = spec.usages ?? [];
  if (usages.length === 0) errs.push(fieldRequired('spec.usages'));
  const oldUsages = oldSpec.usages ?? [];
  if (!oldUsages.some((u) => !validUsages.includes(u))) {
    usages.forEach((u, i) => {
      if (!validUsages.includes(u)) errs.push(fieldNotSupported(`spec.usages[${i}]`, u, validUsages));
    });
  }
  if (new Set(oldUsages).size === oldUsages.length) {
    usages.forEach((u, i) => {
      if (usages.indexOf(u) !== i) errs.push(fieldDuplicate(`spec.usages[${i}]`, u));
    });
  }
  if (spec.signerName === LEGACY_UNKNOWN_SIGNER && oldSpec.signerName !== LEGACY_UNKNOWN_SIGNER) {
    errs.push(fieldInvalid('spec.signerName', spec.signerName, 'the legacy signerName is not allowed via this API version'));
  } else if (spec.signerName !== LEGACY_UNKNOWN_SIGNER) {
    errs.push(...validateSignerName('spec.signerName', spec.signerName));
  }
  if (spec.expirationSeconds !== undefined && spec.expirationSeconds !== null && spec.expirationSeconds < 600) {
    errs.push(fieldInvalid('spec.expirationSeconds', spec.expirationSeconds, 'may not specify a duration less than 600 seconds (10 minutes)'));
  }
  errs.push(...validateConditions(obj, old));
  const certificate = as<CertificateSigningRequest>(obj).status?.certificate;
  // An update that leaves the certificate as stored is not re-checked (allowArbitraryCertificate).
  if (certificate && !(old && certificate === as<CertificateSigningRequest>(old).status?.certificate)) {
    const text = decodeBytes(certificate);
    const why = text === undefined ? 'illegal base64 data' : checkCertificatePem(text);
    if (why) errs.push(fieldInvalid('status.certificate', '<certificate data>', why));
  }
  return errs;
}

/**
 * The update-only part of validateCertificateSigningRequestUpdate (the API server validates the new object as on
 * create besides): what /status (setsCertificate) and /approval (setsApproval) may change.
 */
export function validateCSRUpdate(obj: KubeObject, old: KubeObject, may: { setsCertificate: boolean; setsApproval: boolean }): FieldError[] {
  const errs: FieldError[] = [];
  const ofType = (o: KubeObject, t: string) => conditionsOf(o).filter((c) => c.type === t);
  for (const t of ['Approved', 'Denied', 'Failed']) {
    if (ofType(obj, t).length < ofType(old, t).length) errs.push(fieldForbidden('status.conditions', `updates may not remove a condition of type ${JSON.stringify(t)}`));
  }
  if (!may.setsApproval) {
    for (const t of ['Approved', 'Denied']) {
      const before = ofType(old, t);
      const after = ofType(obj, t);
      if (after.length > before.length) errs.push(fieldForbidden('status.conditions', `updates may not add a condition of type ${JSON.stringify(t)}`));
      else if (after.length === before.length && !deepEqual(before, after)) errs.push(fieldForbidden('status.conditions', `updates may not modify a condition of type ${JSON.stringify(t)}`));
    }
  }
  const cert = as<CertificateSigningRequest>(obj).status?.certificate ?? '';
  const oldCert = as<CertificateSigningRequest>(old).status?.certificate ?? '';
  if (cert !== oldCert) {
    if (!may.setsCertificate) errs.push(fieldForbidden('status.certificate', 'updates may not set certificate content'));
    else if (oldCert) errs.push(fieldForbidden('status.certificate', 'updates may not modify existing certificate content'));
  }
  return errs;
}

/**
 * populateConditionTimestamps: new or changed conditions get lastUpdateTime now, and lastTransitionTime now unless the
 * stored condition of that type had the same status (then its transition time is kept).
 */
export function populateConditionTimestamps(conditions: CertificateSigningRequestCondition[], old: CertificateSigningRequestCondition[], now: Date): void {
  const stamp = rfc3339(now);
  for (const c of conditions) {
    const prev = old.find((o) => o.type === c.type);
    c.status ||= 'True';
    if (!c.lastUpdateTime) c.lastUpdateTime = stamp;
    if (!c.lastTransitionTime) c.lastTransitionTime = prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : stamp;
  }
}

/** /approval: the written object's Approved and Denied conditions, the stored object's everything else. */
export const csrApproval: SubresourceDefinition = {
  name: 'approval',
  kind: 'CertificateSigningRequest',
  verbs: ['get', 'patch', 'update'],
  view: {
    apply(current, written) {
      const next = structuredClone(current);
      const isApproval = (c: CertificateSigningRequestCondition) => c.type === 'Approved' || c.type === 'Denied';
      const oldConditions = conditionsOf(current);
      const conditions = [...structuredClone(conditionsOf(written).filter(isApproval)), ...structuredClone(oldConditions.filter((c) => !isApproval(c)))];
      populateConditionTimestamps(conditions, oldConditions, new Date());
      const status = (next.status ??= {}) as Record<string, unknown>;
      if (conditions.length > 0) status.conditions = conditions;
      else delete status.conditions;
      return next;
    },
  },
  validateUpdate: (next, old) => [...validateObjectMetaUpdateRules(next.metadata, old.metadata), ...validateCSRUpdate(next, old, { setsCertificate: false, setsApproval: true })],
};

/**
 * The CertificateSubjectRestriction admission plugin (on by default upstream): no kubernetes.io/kube-apiserver-client
 * request may ask for the system:masters group, whose members bypass authorization. Checked when the request is
 * created, before anything is stored; the signer does not look at subjects, as upstream's does not.
 */
export function refuseMastersClientCertificate(obj: KubeObject): void {
  const spec = (obj.spec ?? {}) as CertificateSigningRequestSpec;
  if (spec.signerName !== KUBE_APISERVER_CLIENT_SIGNER) return;
  const pem = decodeBytes(spec.request);
  if (!pem || !certificateRequestOrganizations(pem)?.includes('system:masters')) return;
  throw forbidden(`certificatesigningrequests.certificates.k8s.io ${JSON.stringify(obj.metadata?.name ?? '')} is forbidden: use of ${KUBE_APISERVER_CLIENT_SIGNER} signer with system:masters group is not allowed`);
}

/** The CONDITION cell (extractCSRStatus): Denied, Approved or Pending, then `,Failed` and `,Issued`. */
export function csrCondition(obj: KubeObject): string {
  const types = new Set(conditionsOf(obj).map((c) => c.type));
  let s = types.has('Denied') ? 'Denied' : types.has('Approved') ? 'Approved' : 'Pending';
  if (types.has('Failed')) s += ',Failed';
  if (as<CertificateSigningRequest>(obj).status?.certificate) s += ',Issued';
  return s;
}

export const certificatesigningrequests = defineResource({
  group: 'certificates.k8s.io',
  version: 'v1',
  kind: 'CertificateSigningRequest',
  plural: 'certificatesigningrequests',
  singular: 'certificatesigningrequest',
  namespaced: false,
  shortNames: ['csr'],
  hasStatus: true,
  schemaName: 'io.k8s.api.certificates.v1.CertificateSigningRequest',
  tracksGeneration: false,
  // "We don't care what you call your certificate requests" (ValidateCertificateRequestName).
  nameValidator: () => [],
  defaults(obj) {
    // SetDefaults_CertificateSigningRequestCondition.
    for (const c of conditionsOf(obj)) c.status ||= 'True';
  },
  prepareForCreate(obj, ctx) {
    const spec = specOf<CertificateSigningRequestSpec>(obj);
    refuseMastersClientCertificate(obj);
    delete spec.username;
    delete spec.uid;
    delete spec.groups;
    delete spec.extra;
    const user = ctx?.user;
    if (user) {
      if (user.username) spec.username = user.username;
      if (user.uid) spec.uid = user.uid;
      if (user.groups.length > 0) spec.groups = [...user.groups];
      if (user.extra && Object.keys(user.extra).length > 0) spec.extra = structuredClone(user.extra);
    }
    obj.status = {};
  },
  prepareForUpdate(obj, old) {
    // The spec is immutable: updates of the main resource change metadata only.
    obj.spec = structuredClone(old.spec);
  },
  validateSpec: (obj) => validateCSR(obj),
  // Main-resource writes keep the stored status, so these are /status's rules in effect.
  validateSpecUpdate: (obj, old) => validateCSRUpdate(obj, old, { setsCertificate: true, setsApproval: false }),
  subresources: [csrApproval],
  fieldSelectors: { 'spec.signerName': (obj) => (obj.spec as CertificateSigningRequestSpec | undefined)?.signerName ?? '' },
  printer: {
    columns: [
      nameColumn,
      ageColumn,
      column('SignerName', 'signerName indicates the requested signer, and is a qualified name.'),
      column('Requestor', 'request contains an x509 certificate signing request encoded in a "CERTIFICATE REQUEST" PEM block.'),
      column('RequestedDuration', 'expirationSeconds is the requested duration of validity of the issued certificate.'),
      column('Condition', 'conditions applied to the request. Known conditions are "Approved", "Denied", and "Failed".'),
    ],
    row(obj, now) {
      const spec = (obj.spec ?? {}) as CertificateSigningRequestSpec;
      const duration = typeof spec.expirationSeconds === 'number' ? humanDuration(spec.expirationSeconds * 1000) : '<none>';
      return [obj.metadata.name ?? '', age(obj, now), spec.signerName || '<none>', spec.username ?? '', duration, csrCondition(obj)];
    },
  },
});
