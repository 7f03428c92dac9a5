/** networking.k8s.io/v1 Ingresses: rules, paths and backends, and the CLASS/HOSTS/ADDRESS/PORTS table. */
import type { Ingress, IngressBackend, IngressSpec } from 'kubernetes-types/networking/v1.js';
import { fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { isIP } from 'node:net';
import { isDNS1123Subdomain, isValidPortName, isValidPortNum, isWildcardDNS1123Subdomain, nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

const pathTypes = ['Exact', 'ImplementationSpecific', 'Prefix'];
/** Upstream's invalidPathSequences / invalidPathSuffixes for Exact and Prefix paths (networking/validation). */
const invalidPathSequences = ['//', '/./', '/../', '%2f', '%2F'];
const invalidPathSuffixes = ['/..', '/.'];

/** A rule or TLS host: a DNS subdomain, or `*.` and one (upstream's validateIngressRules / validateIngressTLS). */
function hostErrors(host: string): string[] {
  return host.includes('*') ? isWildcardDNS1123Subdomain(host) : isDNS1123Subdomain(host);
}

function validateBackend(b: IngressBackend | undefined, path: string): FieldError[] {
  if (!b) return [fieldRequired(path)];
  const errs: FieldError[] = [];
  if (b.service && b.resource) errs.push(fieldInvalid(path, '', 'cannot set both resource and service backends'));
  else if (!b.service && !b.resource) errs.push(fieldInvalid(path, '', 'resource or service backend is required'));
  if (b.service) {
    if (!b.service.name) errs.push(fieldRequired(`${path}.service.name`));
    const port = b.service.port;
    if (!port || (port.number === undefined && !port.name)) errs.push(fieldInvalid(`${path}.service.port`, port ?? {}, 'port name or number is required'));
    else if (port.number !== undefined && port.name) errs.push(fieldInvalid(`${path}.service.port`, port, 'cannot set both port name & port number'));
    else if (port.number !== undefined) for (const msg of isValidPortNum(port.number)) errs.push(fieldInvalid(`${path}.service.port.number`, port.number, msg));
    else if (port.name) for (const msg of isValidPortName(port.name)) errs.push(fieldInvalid(`${path}.service.port.name`, port.name, msg));
  }
  return errs;
}

function validateIngressSpec(spec: IngressSpec | undefined): FieldError[] {
  const s = spec ?? {};
  const errs: FieldError[] = [];
  if (!s.defaultBackend && (s.rules ?? []).length === 0) errs.push(fieldInvalid('spec', s, 'either `defaultBackend` or `rules` must be specified'));
  if (s.defaultBackend) errs.push(...validateBackend(s.defaultBackend, 'spec.defaultBackend'));
  (s.rules ?? []).forEach((rule, i) => {
    const rp = `spec.rules[${i}]`;
    if (rule.host) {
      if (isIP(rule.host) !== 0) errs.push(fieldInvalid(`${rp}.host`, rule.host, 'must be a DNS name, not an IP address'));
      for (const msg of hostErrors(rule.host)) errs.push(fieldInvalid(`${rp}.host`, rule.host, msg));
    }
    if (!rule.http) return;
    if ((rule.http.paths ?? []).length === 0) errs.push(fieldRequired(`${rp}.http.paths`));
    (rule.http.paths ?? []).forEach((p, j) => {
      const pp = `${rp}.http.paths[${j}]`;
      const path = p.path ?? '';
      // Without a pathType upstream reports only that (validateHTTPIngressPath returns early).
      if (!p.pathType) {
        errs.push(fieldRequired(`${pp}.pathType`, 'pathType must be specified'));
        return;
      }
      if (!pathTypes.includes(p.pathType)) errs.push(fieldNotSupported(`${pp}.pathType`, p.pathType, pathTypes));
      else if (p.pathType === 'ImplementationSpecific') {
        if (path !== '' && !path.startsWith('/')) errs.push(fieldInvalid(`${pp}.path`, path, 'must be an absolute path'));
      } else {
        if (!path.startsWith('/')) errs.push(fieldInvalid(`${pp}.path`, path, 'must be an absolute path'));
        for (const seq of invalidPathSequences) if (path.includes(seq)) errs.push(fieldInvalid(`${pp}.path`, path, `must not contain '${seq}'`));
        for (const suffix of invalidPathSuffixes) if (path.endsWith(suffix)) errs.push(fieldInvalid(`${pp}.path`, path, `cannot end with '${suffix}'`));
      }
      errs.push(...validateBackend(p.backend, `${pp}.backend`));
    });
  });
  (s.tls ?? []).forEach((tls, i) => {
    (tls.hosts ?? []).forEach((host, j) => {
      for (const msg of hostErrors(host)) errs.push(fieldInvalid(`spec.tls[${i}].hosts[${j}]`, host, msg));
    });
    if (tls.secretName) for (const msg of isDNS1123Subdomain(tls.secretName)) errs.push(fieldInvalid(`spec.tls[${i}].secretName`, tls.secretName, msg));
  });
  if (s.ingressClassName !== undefined && s.ingressClassName !== null) {
    for (const msg of isDNS1123Subdomain(s.ingressClassName)) errs.push(fieldInvalid('spec.ingressClassName', s.ingressClassName, msg));
  }
  return errs;
}

/** Up to three hosts, then `+ N more...`; `*` when no rule names a host (formatHosts). */
function formatHosts(spec: IngressSpec | undefined): string {
  const rules = spec?.rules ?? [];
  const hosts = rules.map((r) => r.host).filter((h): h is string => !!h);
  if (hosts.length === 0) return '*';
  const shown = hosts.slice(0, 3).join(',');
  return rules.length > 3 ? `${shown} + ${rules.length - 3} more...` : shown;
}

export const ingresses = defineResource({
  group: 'networking.k8s.io',
  version: 'v1',
  kind: 'Ingress',
  plural: 'ingresses',
  singular: 'ingress',
  namespaced: true,
  shortNames: ['ing'],
  hasStatus: true,
  schemaName: 'io.k8s.api.networking.v1.Ingress',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  validateSpec: (obj) => validateIngressSpec(obj.spec as IngressSpec | undefined),
  printer: {
    columns: [
      nameColumn,
      column('Class', 'The name of the IngressClass resource that should be used for additional configuration'),
      column('Hosts', 'Hosts that incoming requests are matched against before the ingress rule'),
      column('Address', 'Address is a list containing ingress points for the load-balancer'),
      column('Ports', 'Ports of TLS configurations that open'),
      ageColumn,
    ],
    row(obj, now) {
      const ing = as<Ingress>(obj);
      const address = [...new Set((ing.status?.loadBalancer?.ingress ?? []).map((i) => i.ip || i.hostname || '').filter(Boolean))].sort().join(',');
      return [
        obj.metadata.name ?? '',
        ing.spec?.ingressClassName ?? '<none>',
        formatHosts(ing.spec),
        address,
        (ing.spec?.tls ?? []).length > 0 ? '80, 443' : '80',
        age(obj, now),
      ];
    },
  },
});
