/** storage.k8s.io/v1 StorageClasses: defaults, immutable provisioning fields, `(default)` marking in the table. */
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { fieldForbidden, fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { deepEqual, isQualifiedName, nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

/** True when the class is marked default (storageutil.IsDefaultAnnotation, GA and beta annotations). */
export function isDefaultStorageClass(sc: StorageClass): boolean {
  const a = sc.metadata?.annotations ?? {};
  return a['storageclass.kubernetes.io/is-default-class'] === 'true' || a['storageclass.beta.kubernetes.io/is-default-class'] === 'true';
}

export const storageclasses = defineResource({
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'StorageClass',
  plural: 'storageclasses',
  singular: 'storageclass',
  namespaced: false,
  shortNames: ['sc'],
  hasStatus: false,
  schemaName: 'io.k8s.api.storage.v1.StorageClass',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    const sc = as<StorageClass>(obj);
    sc.reclaimPolicy ??= 'Delete';
    sc.volumeBindingMode ??= 'Immediate';
  },
  validateSpec(obj) {
    const sc = as<StorageClass>(obj);
    const errs: FieldError[] = [];
    if (!sc.provisioner) errs.push(fieldRequired('provisioner'));
    // Provisioners are qualified names, case aside (`rancher.io/local-path`, `kubernetes.io/no-provisioner`).
    else for (const msg of isQualifiedName(sc.provisioner.toLowerCase())) errs.push(fieldInvalid('provisioner', sc.provisioner, msg));
    if (sc.reclaimPolicy && !['Delete', 'Retain'].includes(sc.reclaimPolicy)) errs.push(fieldNotSupported('reclaimPolicy', sc.reclaimPolicy, ['Delete', 'Retain']));
    if (sc.volumeBindingMode && !['Immediate', 'WaitForFirstConsumer'].includes(sc.volumeBindingMode)) {
      errs.push(fieldNotSupported('volumeBindingMode', sc.volumeBindingMode, ['Immediate', 'WaitForFirstConsumer']));
    }
    return errs;
  },
  validateSpecUpdate(obj, old) {
    const errs: FieldError[] = [];
    for (const f of ['parameters', 'provisioner', 'reclaimPolicy', 'volumeBindingMode']) {
      if (!deepEqual(obj[f], old[f])) errs.push(fieldForbidden(f, `updates to ${f} are forbidden.`));
    }
    return errs;
  },
  printer: {
    columns: [
      nameColumn,
      column('Provisioner', 'provisioner indicates the type of the provisioner.'),
      column('ReclaimPolicy', 'reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class.'),
      column('VolumeBindingMode', 'volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.'),
      column('AllowVolumeExpansion', 'allowVolumeExpansion shows whether the storage class allow volume expand.'),
      ageColumn,
    ],
    row(obj, now) {
      const sc = as<StorageClass>(obj);
      const name = isDefaultStorageClass(sc) ? `${obj.metadata.name} (default)` : (obj.metadata.name ?? '');
      return [name, sc.provisioner ?? '', sc.reclaimPolicy ?? 'Delete', sc.volumeBindingMode ?? 'Immediate', sc.allowVolumeExpansion ?? false, age(obj, now)];
    },
  },
});
