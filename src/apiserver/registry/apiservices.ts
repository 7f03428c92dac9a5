/**
 * apiregistration.k8s.io/v1 APIServices (kube-aggregator's pkg/apis/apiregistration: v1 defaults, validation, the
 * table convertor): a group version served locally, or by a Service the aggregator (../aggregator/) proxies to.
 */
import type { KubeObject } from '../../api/object.js';
import { fieldInvalid, fieldRequired, type FieldError } from '../../api/status.js';
import { isDNS1035Label, isDNS1123Subdomain, isPathSegmentName, isValidPortNum } from '../../api/validation.js';
import { defineResource, specOf } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

export interface APIServiceSpec {
  service?: { namespace?: string; name?: string; port?: number } | null;
  group?: string;
  version?: string;
  insecureSkipTLSVerify?: boolean;
  caBundle?: string;
  groupPriorityMinimum?: number;
  versionPriority?: number;
}

export interface APIServiceCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface APIService extends KubeObject {
  spec?: APIServiceSpec;
  status?: { conditions?: APIServiceCondition[] };
}

function validateSpec(obj: KubeObject): FieldError[] {
  const s = (obj.spec ?? {}) as APIServiceSpec;
  const errs: FieldError[] = [];
  const group = s.group ?? '';
  const version = s.version ?? '';
  // Only the legacy core group version may have an empty group.
  if (!group && version !== 'v1') errs.push(fieldRequired('spec.group', 'only v1 may have an empty group and it better be legacy kube'));
  if (group) for (const msg of isDNS1123Subdomain(group)) errs.push(fieldInvalid('spec.group', group, msg));
  for (const msg of isDNS1035Label(version)) errs.push(fieldInvalid('spec.version', version, msg));
  const gpm = s.groupPriorityMinimum ?? 0;
  if (gpm <= 0 || gpm > 20000) errs.push(fieldInvalid('spec.groupPriorityMinimum', gpm, 'must be positive and less than 20000'));
  const vp = s.versionPriority ?? 0;
  if (vp <= 0 || vp > 1000) errs.push(fieldInvalid('spec.versionPriority', vp, 'must be positive and less than 1000'));
  const caBytes = s.caBundle ? Buffer.from(s.caBundle, 'base64').length : 0;
  if (!s.service) {
    if (caBytes > 0) errs.push(fieldInvalid('spec.caBundle', `${caBytes} bytes`, 'local APIServices may not have a caBundle'));
    if (s.insecureSkipTLSVerify) errs.push(fieldInvalid('spec.insecureSkipTLSVerify', true, 'local APIServices may not have insecureSkipTLSVerify'));
    return errs;
  }
  if (!s.service.namespace) errs.push(fieldRequired('spec.service.namespace'));
  if (!s.service.name) errs.push(fieldRequired('spec.service.name'));
  const portErrs = isValidPortNum(s.service.port ?? 0);
  if (portErrs.length > 0) errs.push(fieldInvalid('spec.service.port', s.service.port ?? 0, `port is not valid: ${portErrs.join(', ')}`));
  if (s.insecureSkipTLSVerify && caBytes > 0) errs.push(fieldInvalid('spec.insecureSkipTLSVerify', true, 'may not be true if caBundle is present'));
  return errs;
}

/** The Available cell: the condition's status, with its reason unless True (`False (MissingEndpoints)`). */
function availableCell(a: APIService): string {
  const c = a.status?.conditions?.find((x) => x.type === 'Available');
  if (!c) return 'Unknown';
  return c.status === 'True' ? 'True' : `${c.status} (${c.reason ?? ''})`;
}

export const apiservices = defineResource({
  group: 'apiregistration.k8s.io',
  version: 'v1',
  kind: 'APIService',
  plural: 'apiservices',
  singular: 'apiservice',
  namespaced: false,
  categories: ['api-extensions'],
  hasStatus: true,
  schemaName: 'io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService',
  tracksGeneration: false,
  // The name must be `version.group`, which a name rule alone cannot see; validateSpec checks it.
  nameValidator: (name) => isPathSegmentName(name),
  defaults(obj) {
    const s = specOf<APIServiceSpec>(obj);
    if (s.service) s.service.port ??= 443;
  },
  validateSpec(obj) {
    const s = (obj.spec ?? {}) as APIServiceSpec;
    const required = `${s.version ?? ''}.${s.group ?? ''}`;
    const errs: FieldError[] = [];
    const name = obj.metadata.name ?? '';
    if (name && isPathSegmentName(name).length === 0 && name !== required) errs.push(fieldInvalid('metadata.name', name, `must be \`spec.version+"."+spec.group\`: ${JSON.stringify(required)}`));
    return [...errs, ...validateSpec(obj)];
  },
  printer: {
    columns: [
      nameColumn,
      column('Service', 'The reference to the service that hosts this API endpoint.'),
      column('Available', 'Whether this service is available.'),
      ageColumn,
    ],
    row(obj, now) {
      const a = as<APIService>(obj);
      const svc = a.spec?.service;
      return [obj.metadata.name ?? '', svc ? `${svc.namespace}/${svc.name}` : 'Local', availableCell(a), age(obj, now)];
    },
  },
});
