/**
 * storage.k8s.io/v1 CSIStorageCapacities: capacity a CSI driver reports per storage class and topology segment
 * (validation.ValidateCSIStorageCapacity). Served and validated; the scheduler does not consult them.
 */
import type { CSIStorageCapacity } from 'kubernetes-types/storage/v1.js';
import { validateLabelSelector } from '../../api/labels.js';
import { tryParseQuantity } from '../../api/quantity.js';
import { fieldInvalid, fieldRequired, type FieldError } from '../../api/status.js';
import { isDNS1123Subdomain, nameIsDNSSubdomain, validateImmutableField } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

function validateQuantity(value: unknown, path: string): FieldError[] {
  if (value === undefined || value === null) return [];
  const q = tryParseQuantity(String(value));
  if (!q) return [fieldInvalid(path, value, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")];
  return q.nanos < 0n ? [fieldInvalid(path, value, 'must be greater than or equal to 0')] : [];
}

export const csistoragecapacities = defineResource({
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'CSIStorageCapacity',
  plural: 'csistoragecapacities',
  singular: 'csistoragecapacity',
  namespaced: true,
  hasStatus: false,
  schemaName: 'io.k8s.api.storage.v1.CSIStorageCapacity',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  validateSpec(obj) {
    const c = as<CSIStorageCapacity>(obj);
    const errs: FieldError[] = [];
    if (!c.storageClassName) errs.push(fieldRequired('storageClassName'));
    else for (const msg of isDNS1123Subdomain(c.storageClassName)) errs.push(fieldInvalid('storageClassName', c.storageClassName, msg));
    errs.push(...validateLabelSelector(c.nodeTopology, 'nodeTopology'));
    errs.push(...validateQuantity(c.capacity, 'capacity'), ...validateQuantity(c.maximumVolumeSize, 'maximumVolumeSize'));
    return errs;
  },
  validateSpecUpdate(obj, old) {
    const n = as<CSIStorageCapacity>(obj);
    const o = as<CSIStorageCapacity>(old);
    return [...validateImmutableField(n.storageClassName, o.storageClassName, 'storageClassName'), ...validateImmutableField(n.nodeTopology ?? null, o.nodeTopology ?? null, 'nodeTopology')];
  },
  printer: {
    columns: [
      nameColumn,
      column('StorageClassName', 'The name of the StorageClass that the reported capacity applies to.'),
      column('Capacity', 'Capacity is the value reported by the CSI driver in its GetCapacityResponse.'),
      ageColumn,
    ],
    row(obj, now) {
      const c = as<CSIStorageCapacity>(obj);
      return [obj.metadata.name ?? '', c.storageClassName ?? '', c.capacity !== undefined ? String(c.capacity) : '<unset>', age(obj, now)];
    },
  },
});
