/** core/v1 PersistentVolumeClaims: required access modes and storage request, the immutable spec, the PVC table. */
import type { PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimStatus } from 'kubernetes-types/core/v1.js';
import { canonicalQuantity, isValidQuantity } from '../../api/quantity.js';
import { ANN_BETA_STORAGE_CLASS } from '../../api/storage-class.js';
import { fieldForbidden, fieldInvalid, fieldRequired, type FieldError } from '../../api/status.js';
import { deepEqual, nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource, specOf, statusOf } from './define-resource.js';
import { accessModesString, validateAccessModes } from './persistentvolumes.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

export const persistentvolumeclaims = defineResource({
  group: '',
  version: 'v1',
  kind: 'PersistentVolumeClaim',
  plural: 'persistentvolumeclaims',
  singular: 'persistentvolumeclaim',
  namespaced: true,
  shortNames: ['pvc'],
  hasStatus: true,
  schemaName: 'io.k8s.api.core.v1.PersistentVolumeClaim',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    specOf<PersistentVolumeClaimSpec>(obj).volumeMode ??= 'Filesystem';
  },
  prepareForCreate(obj) {
    statusOf<PersistentVolumeClaimStatus>(obj).phase = 'Pending';
  },
  validateSpec(obj) {
    const spec = (obj.spec ?? {}) as PersistentVolumeClaimSpec;
    const errs: FieldError[] = validateAccessModes(spec.accessModes, 'spec.accessModes');
    const storage = spec.resources?.requests?.storage;
    if (storage === undefined) errs.push(fieldRequired('spec.resources[storage]'));
    else if (!isValidQuantity(String(storage))) errs.push(fieldInvalid('spec.resources[storage]', storage, 'must be a valid quantity'));
    return errs;
  },
  validateSpecUpdate(obj, old) {
    // Only the storage request (growing a bound claim), the attributes class and the binding may change.
    const next = structuredClone((obj.spec ?? {}) as PersistentVolumeClaimSpec);
    const prev = (old.spec ?? {}) as PersistentVolumeClaimSpec;
    next.resources = prev.resources;
    next.volumeAttributesClassName = prev.volumeAttributesClassName;
    if (!prev.volumeName) next.volumeName = prev.volumeName;
    // Retroactive default StorageClass assignment (KEP-3333, GA in 1.28; ValidatePersistentVolumeClaimUpdate's
    // validateStorageClassUpgradeFromNil): a claim created with no class (field absent, no beta annotation) may be
    // given a non-empty one later.
    const prevClass = prev.storageClassName as string | null | undefined;
    if ((prevClass === undefined || prevClass === null) && old.metadata.annotations?.[ANN_BETA_STORAGE_CLASS] === undefined && typeof next.storageClassName === 'string' && next.storageClassName !== '') {
      next.storageClassName = prev.storageClassName;
    }
    if (deepEqual(next, prev)) return [];
    return [fieldForbidden('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims')];
  },
  printer: {
    columns: [
      nameColumn,
      column('Status', 'phase represents the current phase of PersistentVolumeClaim.'),
      column('Volume', 'volumeName is the binding reference to the PersistentVolume backing this claim.'),
      column('Capacity', 'capacity represents the actual resources of the underlying volume.'),
      column('Access Modes', 'accessModes contains the actual access modes the volume backing the PVC has.'),
      column('StorageClass', 'StorageClass of the pvc'),
      column('VolumeAttributesClass', 'VolumeAttributesClass of the pvc'),
      ageColumn,
      column('VolumeMode', 'volumeMode defines what type of volume is required by the claim.', { priority: 1 }),
    ],
    row(obj, now) {
      const pvc = as<PersistentVolumeClaim>(obj);
      const spec = pvc.spec ?? {};
      let capacity = '';
      let modes = '';
      if (spec.volumeName) {
        modes = accessModesString(pvc.status?.accessModes);
        const storage = pvc.status?.capacity?.storage;
        capacity = storage !== undefined ? (canonicalQuantity(String(storage)) ?? String(storage)) : '0';
      }
      const storageClass = pvc.metadata?.annotations?.['volume.beta.kubernetes.io/storage-class'] ?? spec.storageClassName ?? '';
      return [
        obj.metadata.name ?? '',
        pvc.metadata?.deletionTimestamp ? 'Terminating' : (pvc.status?.phase ?? ''),
        spec.volumeName ?? '',
        capacity,
        modes,
        storageClass,
        spec.volumeAttributesClassName ?? '<unset>',
        age(obj, now),
        spec.volumeMode ?? '<unset>',
      ];
    },
  },
});
