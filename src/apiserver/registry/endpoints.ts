/** core/v1 Endpoints: address and port checks and the ENDPOINTS column (`10.0.0.4:80 + 2 more...`). */
import type { Endpoints } from 'kubernetes-types/core/v1.js';
import { fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { isValidPortNum, nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

/** formatEndpoints: up to three `ip:port` entries, then `+ N more...`; `<none>` without subsets. */
export function formatEndpoints(ep: Endpoints): string {
  const subsets = ep.subsets ?? [];
  if (subsets.length === 0) return '<none>';
  const max = 3;
  const list: string[] = [];
  let count = 0;
  const hostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
  for (const ss of subsets) {
    const addresses = ss.addresses ?? [];
    if ((ss.ports ?? []).length === 0) {
      count += addresses.length;
      for (const a of addresses) if (list.length < max) list.push(a.ip);
      continue;
    }
    for (const p of ss.ports ?? []) {
      count += addresses.length;
      for (const a of addresses) if (list.length < max) list.push(hostPort(a.ip, p.port));
    }
  }
  const joined = list.join(',');
  return count > max ? `${joined} + ${count - max} more...` : joined;
}

export const endpoints = defineResource({
  group: '',
  version: 'v1',
  kind: 'Endpoints',
  plural: 'endpoints',
  singular: 'endpoints',
  namespaced: true,
  shortNames: ['ep'],
  hasStatus: false,
  schemaName: 'io.k8s.api.core.v1.Endpoints',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  validateSpec(obj) {
    const errs: FieldError[] = [];
    (as<Endpoints>(obj).subsets ?? []).forEach((ss, i) => {
      const sp = `subsets[${i}]`;
      (ss.addresses ?? []).forEach((a, j) => {
        if (!a.ip) errs.push(fieldRequired(`${sp}.addresses[${j}].ip`));
      });
      (ss.notReadyAddresses ?? []).forEach((a, j) => {
        if (!a.ip) errs.push(fieldRequired(`${sp}.notReadyAddresses[${j}].ip`));
      });
      (ss.ports ?? []).forEach((p, j) => {
        for (const msg of isValidPortNum(p.port)) errs.push(fieldInvalid(`${sp}.ports[${j}].port`, p.port ?? 0, msg));
        if (p.protocol && !['SCTP', 'TCP', 'UDP'].includes(p.protocol)) errs.push(fieldNotSupported(`${sp}.ports[${j}].protocol`, p.protocol, ['SCTP', 'TCP', 'UDP']));
      });
    });
    return errs;
  },
  defaults(obj) {
    for (const ss of as<Endpoints>(obj).subsets ?? []) for (const p of ss.ports ?? []) p.protocol ??= 'TCP';
  },
  printer: {
    columns: [nameColumn, column('Endpoints', 'The set of all endpoints is the union of all subsets.'), ageColumn],
    row(obj, now) {
      return [obj.metadata.name ?? '', formatEndpoints(as<Endpoints>(obj)), age(obj, now)];
    },
  },
});
