/**
 * storage.k8s.io/v1 CSINodes: the CSI drivers a node's kubelet registered (validation.ValidateCSINode). Named after
 * their Node; served and validated, skiff's agents register none.
 */
import type { CSINode, CSINodeSpec } from 'kubernetes-types/storage/v1.js';
import { fieldDuplicate, fieldInvalid, fieldRequired, type FieldError } from '../../api/status.js';
import { isQualifiedName, nameIsDNSSubdomain, validateImmutableField } from '../../api/validation.js';
import { validateCSIDriverName } from './csi-names.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

const NODE_ID_MAX = 192;

function validateDrivers(spec: CSINodeSpec | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  (spec?.drivers ?? []).forEach((d, i) => {
    const p = `spec.drivers[${i}]`;
    errs.push(...validateCSIDriverName(d.name, `${p}.name`));
    if (d.name && names.has(d.name)) errs.push(fieldDuplicate(`${p}.name`, d.name));
    if (d.name) names.add(d.name);
    if (!d.nodeID) errs.push(fieldRequired(`${p}.nodeID`, 'nodeID of the driver must be set'));
    else if (d.nodeID.length > NODE_ID_MAX) errs.push(fieldInvalid(`${p}.nodeID`, d.nodeID, `must be ${NODE_ID_MAX} characters or less`));
    const keys = new Set<string>();
    (d.topologyKeys ?? []).forEach((k, j) => {
      if (!k) errs.push(fieldRequired(`${p}.topologyKeys`));
      for (const msg of isQualifiedName(k)) errs.push(fieldInvalid(`${p}.topologyKeys`, k, msg));
      if (keys.has(k)) errs.push(fieldDuplicate(`${p}.topologyKeys[${j}]`, k));
      keys.add(k);
    });
    const count = d.allocatable?.count;
    if (count !== undefined && count !== null && count < 0) errs.push(fieldInvalid(`${p}.allocatable.count`, count, 'must be greater than or equal to 0'));
  });
  return errs;
}

export const csinodes = defineResource({
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'CSINode',
  plural: 'csinodes',
  singular: 'csinode',
  namespaced: false,
  hasStatus: false,
  schemaName: 'io.k8s.api.storage.v1.CSINode',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  validateSpec(obj) {
    return validateDrivers(as<CSINode>(obj).spec);
  },
  validateSpecUpdate(obj, old) {
    // ValidateCSINodeUpdate: a driver already registered keeps its nodeID, topology keys and allocatable.
    const errs: FieldError[] = [];
    const olds = new Map((as<CSINode>(old).spec?.drivers ?? []).map((d) => [d.name, d]));
    (as<CSINode>(obj).spec?.drivers ?? []).forEach((d, i) => {
      const o = olds.get(d.name);
      if (!o) return;
      const p = `spec.drivers[${i}]`;
      errs.push(...validateImmutableField(d.nodeID, o.nodeID, `${p}.nodeID`), ...validateImmutableField(d.topologyKeys ?? [], o.topologyKeys ?? [], `${p}.topologyKeys`));
      errs.push(...validateImmutableField(d.allocatable ?? null, o.allocatable ?? null, `${p}.allocatable`));
    });
    return errs;
  },
  printer: {
    columns: [nameColumn, column('Drivers', 'Drivers indicates the number of CSI drivers registered on the node', { type: 'integer' }), ageColumn],
    row(obj, now) {
      return [obj.metadata.name ?? '', as<CSINode>(obj).spec?.drivers?.length ?? 0, age(obj, now)];
    },
  },
});
