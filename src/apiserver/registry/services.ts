/**
 * core/v1 Services: defaults (ClusterIP, sessionAffinity None, TCP, targetPort = port), port and type
 * validation, carrying allocated IPs and node ports across updates, and the kubectl service table.
 * Allocating cluster IPs and node ports needs cluster state and is left to the API server.
 */
import type { Service, ServicePort, ServiceSpec } from 'kubernetes-types/core/v1.js';
import { fieldDuplicate, fieldForbidden, fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { formatLabels } from '../../api/labels.js';
import { isDNS1123Label, isDNS1123Subdomain, isValidPortName, isValidPortNum, nameIsDNS1035Label, validateLabels } from '../../api/validation.js';
import { defineResource, specOf } from './define-resource.js';
import { proxySubresource } from './pod-rules.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

const serviceTypes = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const protocols = ['SCTP', 'TCP', 'UDP'];

function isIP(s: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s)) return s.split('.').every((o) => Number(o) <= 255 && (o === '0' || !o.startsWith('0')));
  return /^[0-9a-fA-F:]+$/.test(s) && s.includes(':') && s.split('::').length <= 2;
}

function validatePorts(spec: ServiceSpec): FieldError[] {
  const errs: FieldError[] = [];
  const ports = spec.ports ?? [];
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const pp = `spec.ports[${i}]`;
    if (ports.length > 1 && !p.name) errs.push(fieldRequired(`${pp}.name`));
    if (p.name) {
      for (const msg of isDNS1123Label(p.name)) errs.push(fieldInvalid(`${pp}.name`, p.name, msg));
      if (names.has(p.name)) errs.push(fieldDuplicate(`${pp}.name`, p.name));
      names.add(p.name);
    }
    for (const msg of isValidPortNum(p.port)) errs.push(fieldInvalid(`${pp}.port`, p.port ?? 0, msg));
    if (!p.protocol) errs.push(fieldRequired(`${pp}.protocol`));
    else if (!protocols.includes(p.protocol)) errs.push(fieldNotSupported(`${pp}.protocol`, p.protocol, protocols));
    const tp = p.targetPort;
    if (typeof tp === 'number') for (const msg of isValidPortNum(tp)) errs.push(fieldInvalid(`${pp}.targetPort`, tp, msg));
    else if (typeof tp === 'string') for (const msg of isValidPortName(tp)) errs.push(fieldInvalid(`${pp}.targetPort`, tp, msg));
    if (p.nodePort !== undefined && p.nodePort !== 0) {
      if (spec.type === 'ClusterIP' || spec.type === 'ExternalName') errs.push(fieldForbidden(`${pp}.nodePort`, `may not be used when \`type\` is '${spec.type}'`));
      else for (const msg of isValidPortNum(p.nodePort)) errs.push(fieldInvalid(`${pp}.nodePort`, p.nodePort, msg));
    }
  });
  return errs;
}

function validateServiceSpec(spec: ServiceSpec | undefined): FieldError[] {
  const s = spec ?? {};
  const errs: FieldError[] = [];
  const type = s.type ?? 'ClusterIP';
  if (!serviceTypes.includes(type)) errs.push(fieldNotSupported('spec.type', type, serviceTypes));
  const headless = s.clusterIP === 'None';
  if ((s.ports ?? []).length === 0 && !headless && type !== 'ExternalName') errs.push(fieldRequired('spec.ports'));
  errs.push(...validatePorts(s));
  if (type === 'ExternalName') {
    if (!s.externalName) errs.push(fieldRequired('spec.externalName'));
    else for (const msg of isDNS1123Subdomain(s.externalName.replace(/\.$/, ''))) errs.push(fieldInvalid('spec.externalName', s.externalName, msg));
    if (s.clusterIP) errs.push(fieldForbidden('spec.clusterIP', 'may not be set for ExternalName services'));
  }
  if (s.clusterIP && s.clusterIP !== 'None' && !isIP(s.clusterIP)) {
    errs.push(fieldInvalid('spec.clusterIP', s.clusterIP, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  }
  if (headless && type !== 'ClusterIP' && type !== 'ExternalName') {
    errs.push(fieldInvalid('spec.clusterIPs[0]', 'None', `may not be set to 'None' for ${type} services`));
  }
  (s.externalIPs ?? []).forEach((ip, i) => {
    if (!isIP(ip)) errs.push(fieldInvalid(`spec.externalIPs[${i}]`, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  });
  if (s.sessionAffinity && s.sessionAffinity !== 'None' && s.sessionAffinity !== 'ClientIP') {
    errs.push(fieldNotSupported('spec.sessionAffinity', s.sessionAffinity, ['ClientIP', 'None']));
  }
  errs.push(...validateLabels(s.selector, 'spec.selector'));
  if (type !== 'ExternalName' && (s.clusterIPs?.length ?? 0) > 1) errs.push(...secondaryClusterIPErrors(s));
  return errs;
}

/** A second cluster IP: at most two, only with a dual-stack policy, and this cluster has a single IP family. */
function secondaryClusterIPErrors(s: ServiceSpec): FieldError[] {
  const ips = s.clusterIPs ?? [];
  if (ips.length > 2) return [fieldInvalid('spec.clusterIPs', ips, 'may only hold up to 2 values')];
  if ((s.ipFamilyPolicy ?? 'SingleStack') === 'SingleStack') {
    return [fieldInvalid('spec.ipFamilyPolicy', s.ipFamilyPolicy ?? 'SingleStack', "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified")];
  }
  return [fieldInvalid('spec.clusterIPs[1]', ips[1], 'not configured on this cluster')];
}

function defaultService(spec: ServiceSpec): void {
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  for (const p of spec.ports ?? []) {
    p.protocol ??= 'TCP';
    // An unset (or zero) targetPort means "the same as port".
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  if (spec.type === 'ExternalName') return;
  spec.internalTrafficPolicy ??= 'Cluster';
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') spec.externalTrafficPolicy ??= 'Cluster';
  if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
  if (spec.clusterIP && !spec.clusterIPs?.length) spec.clusterIPs = [spec.clusterIP];
  if (spec.clusterIPs?.length && !spec.clusterIP) spec.clusterIP = spec.clusterIPs[0];
  spec.ipFamilyPolicy ??= 'SingleStack';
  spec.ipFamilies ??= [spec.clusterIP && spec.clusterIP !== 'None' && spec.clusterIP.includes(':') ? 'IPv6' : 'IPv4'];
}

/**
 * A PUT that omits allocated values keeps them (service REST patchAllocatedValues): clients that send
 * the manifest back without clusterIP or nodePort must not lose or reallocate them.
 */
function carryAllocated(spec: ServiceSpec, old: ServiceSpec): void {
  const keepsIP = spec.type !== 'ExternalName' && old.type !== 'ExternalName';
  if (keepsIP && !spec.clusterIP && old.clusterIP) {
    spec.clusterIP = old.clusterIP;
    spec.clusterIPs = old.clusterIPs ? [...old.clusterIPs] : [old.clusterIP];
  }
  if (keepsIP && !spec.ipFamilies && old.ipFamilies) spec.ipFamilies = [...old.ipFamilies];
  const needsNodePorts = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
  if (needsNodePorts) {
    for (const p of spec.ports ?? []) {
      if (p.nodePort) continue;
      const match = (old.ports ?? []).find((o: ServicePort) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
      if (match?.nodePort) p.nodePort = match.nodePort;
    }
    if (!spec.healthCheckNodePort && old.healthCheckNodePort && spec.externalTrafficPolicy === 'Local') spec.healthCheckNodePort = old.healthCheckNodePort;
  }
}

function externalIP(svc: Service): string {
  const spec = svc.spec ?? {};
  const external = spec.externalIPs ?? [];
  switch (spec.type ?? 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return external.length > 0 ? external.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = [...new Set((svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip || i.hostname || '').filter(Boolean))].sort();
      if (external.length > 0) return [...lb, ...external].join(',');
      return lb.length > 0 ? lb.join(',') : '<pending>';
    }
    case 'ExternalName':
      return spec.externalName ?? '';
    default:
      return '<unknown>';
  }
}

/** `80/TCP,443:30443/TCP` (makePortString). */
export function servicePorts(ports: ServicePort[] | undefined): string {
  return (ports ?? []).map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',');
}

/**
 * ClusterIPs change only by adding or releasing the secondary (dual-stack upgrade or downgrade), as
 * upstream's validateUpgradeDowngradeClusterIPs allows; a PUT that changes one must be refused, not
 * have the stored list put back silently. This cluster is single-stack, so a second IP cannot be added.
 */
function validateClusterIPsUpdate(s: ServiceSpec, o: ServiceSpec): FieldError[] {
  if (s.type === 'ExternalName' || o.type === 'ExternalName') return [];
  const next = s.clusterIPs ?? (s.clusterIP ? [s.clusterIP] : []);
  const prev = o.clusterIPs ?? (o.clusterIP ? [o.clusterIP] : []);
  if (next.length === 0 || (next[0] === 'None' && prev[0] === 'None')) return [];
  if (next.length === prev.length) {
    return prev.some((ip, i) => ip !== next[i]) ? [fieldInvalid(`spec.clusterIPs[${prev.findIndex((ip, i) => ip !== next[i])}]`, next, 'may not change once set')] : [];
  }
  // Upgrading to dual-stack (more IPs) is refused by validateServiceSpec on this single-stack cluster.
  if (next.length < prev.length && next[0] !== prev[0]) return [fieldInvalid('spec.clusterIPs[0]', next, 'may not change once set')];
  return [];
}

/**
 * The primary IP family is fixed once set, as upstream's validateIPFamilies on update ("may not change once set");
 * a secondary family could only come or go with dual-stack, which this cluster does not have.
 */
function validateIPFamiliesUpdate(s: ServiceSpec, o: ServiceSpec): FieldError[] {
  if (s.type === 'ExternalName' || o.type === 'ExternalName') return [];
  const next = s.ipFamilies ?? [];
  const prev = o.ipFamilies ?? [];
  if (next.length > 0 && prev.length > 0 && next[0] !== prev[0]) return [fieldInvalid('spec.ipFamilies[0]', next[0], 'may not change once set')];
  return [];
}

export const services = defineResource({
  group: '',
  version: 'v1',
  kind: 'Service',
  plural: 'services',
  singular: 'service',
  namespaced: true,
  shortNames: ['svc'],
  categories: ['all'],
  hasStatus: true,
  schemaName: 'io.k8s.api.core.v1.Service',
  tracksGeneration: false,
  nameValidator: nameIsDNS1035Label,
  subresources: [proxySubresource('ServiceProxyOptions', { schemeNamePort: true })],
  defaults(obj) {
    defaultService(specOf<ServiceSpec>(obj));
  },
  prepareForUpdate(obj, old) {
    const spec = specOf<ServiceSpec>(obj);
    carryAllocated(spec, (old.spec ?? {}) as ServiceSpec);
    defaultService(spec);
  },
  validateSpec: (obj) => validateServiceSpec(obj.spec as ServiceSpec | undefined),
  validateSpecUpdate(obj, old) {
    const s = (obj.spec ?? {}) as ServiceSpec;
    const o = (old.spec ?? {}) as ServiceSpec;
    // The cluster IP is fixed once allocated, unless the service becomes an ExternalName.
    if (s.type !== 'ExternalName' && o.clusterIP && s.clusterIP !== o.clusterIP) {
      return [fieldInvalid('spec.clusterIPs[0]', s.clusterIPs ?? (s.clusterIP ? [s.clusterIP] : []), 'may not change once set')];
    }
    return [...validateClusterIPsUpdate(s, o), ...validateIPFamiliesUpdate(s, o)];
  },
  printer: {
    columns: [
      nameColumn,
      column('Type', 'type determines how the Service is exposed.'),
      column('Cluster-IP', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
      column('External-IP', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
      column('Port(s)', 'The list of ports that are exposed by this service.'),
      ageColumn,
      column('Selector', 'Route service traffic to pods with label keys and values matching this selector.', { priority: 1 }),
    ],
    row(obj, now) {
      const svc = as<Service>(obj);
      const clusterIP = svc.spec?.clusterIPs?.[0] ?? svc.spec?.clusterIP;
      return [
        obj.metadata.name ?? '',
        svc.spec?.type ?? '',
        clusterIP || '<none>',
        externalIP(svc),
        servicePorts(svc.spec?.ports) || '<none>',
        age(obj, now),
        formatLabels(svc.spec?.selector),
      ];
    },
  },
  fieldSelectors: {
    'spec.clusterIP': (o) => as<Service>(o).spec?.clusterIP ?? '',
    'spec.type': (o) => as<Service>(o).spec?.type ?? '',
  },
});
