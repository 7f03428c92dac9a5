/** networking.k8s.io/v1 NetworkPolicies: policyTypes defaulting, selector and port checks, the POD-SELECTOR column. */
import type { NetworkPolicy, NetworkPolicyPort, NetworkPolicySpec } from 'kubernetes-types/networking/v1.js';
import { fieldInvalid, fieldNotSupported, type FieldError } from '../../api/status.js';
import { formatLabelSelector, validateLabelSelector } from '../../api/labels.js';
import { isValidPortName, isValidPortNum, nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource, specOf } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

function validatePorts(ports: NetworkPolicyPort[] | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  (ports ?? []).forEach((p, i) => {
    const pp = `${path}[${i}]`;
    if (p.protocol && !['SCTP', 'TCP', 'UDP'].includes(p.protocol)) errs.push(fieldNotSupported(`${pp}.protocol`, p.protocol, ['SCTP', 'TCP', 'UDP']));
    if (typeof p.port === 'number') for (const msg of isValidPortNum(p.port)) errs.push(fieldInvalid(`${pp}.port`, p.port, msg));
    else if (typeof p.port === 'string') for (const msg of isValidPortName(p.port)) errs.push(fieldInvalid(`${pp}.port`, p.port, msg));
    if (p.endPort !== undefined) {
      if (typeof p.port !== 'number') errs.push(fieldInvalid(`${pp}.endPort`, p.endPort, 'may not be specified when `port` is non-numeric'));
      else if (p.endPort < p.port) errs.push(fieldInvalid(`${pp}.endPort`, p.endPort, 'must be greater than or equal to `port`'));
    }
  });
  return errs;
}

export const networkpolicies = defineResource({
  group: 'networking.k8s.io',
  version: 'v1',
  kind: 'NetworkPolicy',
  plural: 'networkpolicies',
  singular: 'networkpolicy',
  namespaced: true,
  shortNames: ['netpol'],
  hasStatus: false,
  schemaName: 'io.k8s.api.networking.v1.NetworkPolicy',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = specOf<NetworkPolicySpec>(obj);
    spec.podSelector ??= {};
    // SetDefaults_NetworkPolicy: Ingress always, Egress when egress rules exist.
    if (!spec.policyTypes || spec.policyTypes.length === 0) spec.policyTypes = spec.egress && spec.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
    for (const r of [...(spec.ingress ?? []), ...(spec.egress ?? [])]) for (const p of r.ports ?? []) p.protocol ??= 'TCP';
  },
  validateSpec(obj) {
    const spec = (obj.spec ?? {}) as NetworkPolicySpec;
    const errs: FieldError[] = validateLabelSelector(spec.podSelector, 'spec.podSelector');
    for (const t of spec.policyTypes ?? []) if (t !== 'Ingress' && t !== 'Egress') errs.push(fieldNotSupported('spec.policyTypes', t, ['Ingress', 'Egress']));
    (spec.ingress ?? []).forEach((r, i) => {
      errs.push(...validatePorts(r.ports, `spec.ingress[${i}].ports`));
      (r.from ?? []).forEach((peer, j) => {
        errs.push(...validateLabelSelector(peer.podSelector, `spec.ingress[${i}].from[${j}].podSelector`));
        errs.push(...validateLabelSelector(peer.namespaceSelector, `spec.ingress[${i}].from[${j}].namespaceSelector`));
      });
    });
    (spec.egress ?? []).forEach((r, i) => {
      errs.push(...validatePorts(r.ports, `spec.egress[${i}].ports`));
      (r.to ?? []).forEach((peer, j) => {
        errs.push(...validateLabelSelector(peer.podSelector, `spec.egress[${i}].to[${j}].podSelector`));
        errs.push(...validateLabelSelector(peer.namespaceSelector, `spec.egress[${i}].to[${j}].namespaceSelector`));
      });
    });
    return errs;
  },
  printer: {
    columns: [nameColumn, column('Pod-Selector', 'podSelector selects the pods to which this NetworkPolicy object applies.'), ageColumn],
    row(obj, now) {
      return [obj.metadata.name ?? '', formatLabelSelector(as<NetworkPolicy>(obj).spec?.podSelector ?? {}), age(obj, now)];
    },
  },
});
