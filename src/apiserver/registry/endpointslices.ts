/** discovery.k8s.io/v1 EndpointSlices: address type, endpoints and ports checks, and the slice table. */
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { isValidPortNum, nameIsDNSSubdomain, validateImmutableField } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { age, as, column, listWithMore, nameColumn, ageColumn } from './table-columns.js';

const addressTypes = ['IPv4', 'IPv6', 'FQDN'];

export const endpointslices = defineResource({
  group: 'discovery.k8s.io',
  version: 'v1',
  kind: 'EndpointSlice',
  plural: 'endpointslices',
  singular: 'endpointslice',
  namespaced: true,
  hasStatus: false,
  schemaName: 'io.k8s.api.discovery.v1.EndpointSlice',
  // The endpointslice strategy bumps generation on any change outside metadata.
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    for (const p of as<EndpointSlice>(obj).ports ?? []) p.protocol ??= 'TCP';
  },
  validateSpec(obj) {
    const es = as<EndpointSlice>(obj);
    const errs: FieldError[] = [];
    if (!es.addressType) errs.push(fieldRequired('addressType'));
    else if (!addressTypes.includes(es.addressType)) errs.push(fieldNotSupported('addressType', es.addressType, addressTypes));
    if ((es.endpoints?.length ?? 0) > 1000) errs.push({ type: 'FieldValueInvalid', field: 'endpoints', detail: `Too many: ${es.endpoints!.length}: must have at most 1000 items` });
    (es.endpoints ?? []).forEach((ep, i) => {
      const n = ep.addresses?.length ?? 0;
      if (n === 0) errs.push(fieldRequired(`endpoints[${i}].addresses`, 'must contain at least 1 address'));
      else if (n > 100) errs.push(fieldInvalid(`endpoints[${i}].addresses`, n, 'must contain at most 100 addresses'));
    });
    (es.ports ?? []).forEach((p, i) => {
      if (p.port !== undefined && p.port !== null) for (const msg of isValidPortNum(p.port)) errs.push(fieldInvalid(`ports[${i}].port`, p.port, msg));
      if (p.protocol && !['SCTP', 'TCP', 'UDP'].includes(p.protocol)) errs.push(fieldNotSupported(`ports[${i}].protocol`, p.protocol, ['SCTP', 'TCP', 'UDP']));
    });
    return errs;
  },
  validateSpecUpdate: (obj, old) => validateImmutableField(obj.addressType, old.addressType, 'addressType'),
  printer: {
    columns: [
      nameColumn,
      column('AddressType', 'addressType specifies the type of address carried by this EndpointSlice.'),
      column('Ports', 'ports specifies the list of network ports exposed by each endpoint in this slice.'),
      column('Endpoints', 'endpoints is a list of unique endpoints in this slice.'),
      ageColumn,
    ],
    row(obj, now) {
      const es = as<EndpointSlice>(obj);
      const ports = (es.ports ?? []).map((p) => (p.port !== undefined && p.port !== null ? String(p.port) : (p.name ?? '*')));
      const addresses = (es.endpoints ?? []).flatMap((e) => e.addresses ?? []);
      return [obj.metadata.name ?? '', es.addressType ?? '', listWithMore(ports, ports.length, 3), listWithMore(addresses, addresses.length, 3), age(obj, now)];
    },
  },
});
