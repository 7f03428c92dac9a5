/** core/v1 PersistentVolumes: defaults, required capacity/access modes/source, and the PV table. */
import type { PersistentVolume, PersistentVolumeSpec, PersistentVolumeStatus } from 'kubernetes-types/core/v1.js';
import { canonicalQuantity } from '../../api/quantity.js';
import { fieldForbidden, fieldNotSupported, fieldRequired, fieldInvalid, type FieldError } from '../../api/status.js';
import { isValidQuantity } from '../../api/quantity.js';
import { deepEqual, nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource, specOf, statusOf } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

export const accessModes = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];

/** PersistentVolumeSpec fields that are not the volume source (everything else is one of the source kinds). */
const PV_NON_SOURCE_FIELDS = new Set(['accessModes', 'capacity', 'claimRef', 'mountOptions', 'nodeAffinity', 'persistentVolumeReclaimPolicy', 'storageClassName', 'volumeMode', 'volumeAttributesClassName']);

/** `RWO,ROX,RWX,RWOP`, in that fixed order (GetAccessModesAsString). */
export function accessModesString(modes: string[] | undefined): string {
  const short: [string, string][] = [
    ['ReadWriteOnce', 'RWO'],
    ['ReadOnlyMany', 'ROX'],
    ['ReadWriteMany', 'RWX'],
    ['ReadWriteOncePod', 'RWOP'],
  ];
  return short.filter(([m]) => modes?.includes(m)).map(([, s]) => s).join(',');
}

export function validateAccessModes(modes: string[] | undefined, path: string): FieldError[] {
  if (!modes || modes.length === 0) return [fieldRequired(path)];
  const errs: FieldError[] = [];
  for (const m of modes) if (!accessModes.includes(m)) errs.push(fieldNotSupported(path, m, accessModes));
  if (modes.includes('ReadWriteOncePod') && modes.length > 1) errs.push({ type: 'FieldValueForbidden', field: path, detail: 'Forbidden: may not use ReadWriteOncePod with other access modes' });
  return errs;
}

const volumeSources = ['hostPath', 'local', 'nfs', 'csi', 'iscsi', 'fc', 'rbd', 'cephfs', 'glusterfs', 'awsElasticBlockStore', 'gcePersistentDisk', 'azureDisk', 'azureFile', 'vsphereVolume', 'cinder', 'flexVolume', 'flocker', 'quobyte', 'portworxVolume', 'scaleIO', 'storageos', 'photonPersistentDisk'];

export const persistentvolumes = defineResource({
  group: '',
  version: 'v1',
  kind: 'PersistentVolume',
  plural: 'persistentvolumes',
  singular: 'persistentvolume',
  namespaced: false,
  shortNames: ['pv'],
  hasStatus: true,
  schemaName: 'io.k8s.api.core.v1.PersistentVolume',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = specOf<PersistentVolumeSpec>(obj);
    spec.persistentVolumeReclaimPolicy ??= 'Retain';
    spec.volumeMode ??= 'Filesystem';
  },
  prepareForCreate(obj) {
    statusOf<PersistentVolumeStatus>(obj).phase = 'Pending';
  },
  validateSpecUpdate(obj, old) {
    // ValidatePersistentVolumeUpdate: the volume source and the volume mode stay as created.
    const next = (obj.spec ?? {}) as Record<string, unknown>;
    const prev = (old.spec ?? {}) as Record<string, unknown>;
    const errs: FieldError[] = [];
    const source = (spec: Record<string, unknown>) => Object.fromEntries(Object.entries(spec).filter(([k]) => !PV_NON_SOURCE_FIELDS.has(k)));
    if (!deepEqual(source(next), source(prev))) errs.push(fieldForbidden('spec.persistentvolumesource', 'spec.persistentvolumesource is immutable after creation'));
    if (next.volumeMode !== prev.volumeMode) errs.push(fieldInvalid('spec.volumeMode', next.volumeMode, 'field is immutable'));
    return errs;
  },
  validateSpec(obj) {
    const spec = (obj.spec ?? {}) as PersistentVolumeSpec;
    const errs: FieldError[] = [];
    const storage = spec.capacity?.storage;
    if (!spec.capacity || Object.keys(spec.capacity).length === 0) errs.push(fieldRequired('spec.capacity'));
    else if (storage === undefined) errs.push(fieldNotSupported('spec.capacity', Object.keys(spec.capacity)[0], ['storage']));
    else if (!isValidQuantity(String(storage))) errs.push(fieldInvalid('spec.capacity[storage]', storage, 'must be a valid quantity'));
    errs.push(...validateAccessModes(spec.accessModes, 'spec.accessModes'));
    const sources = volumeSources.filter((s) => (spec as Record<string, unknown>)[s] !== undefined);
    if (sources.length === 0) errs.push(fieldRequired('spec', 'must specify a volume type'));
    else if (sources.length > 1) errs.push({ type: 'FieldValueForbidden', field: `spec.${sources[1]}`, detail: 'Forbidden: may not specify more than 1 volume type' });
    const policy = spec.persistentVolumeReclaimPolicy;
    if (policy && !['Delete', 'Recycle', 'Retain'].includes(policy)) errs.push(fieldNotSupported('spec.persistentVolumeReclaimPolicy', policy, ['Delete', 'Recycle', 'Retain']));
    return errs;
  },
  printer: {
    columns: [
      nameColumn,
      column('Capacity', 'capacity is the description of the persistent volume\'s resources and capacity.'),
      column('Access Modes', 'accessModes contains all ways the volume can be mounted.'),
      column('Reclaim Policy', 'persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.'),
      column('Status', 'phase indicates if a volume is available, bound to a claim, or released by a claim.'),
      column('Claim', 'claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.'),
      column('StorageClass', 'StorageClass of the pv'),
      column('VolumeAttributesClass', 'VolumeAttributesClass of the pv'),
      column('Reason', 'reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.'),
      ageColumn,
      column('VolumeMode', 'volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.', { priority: 1 }),
    ],
    row(obj, now) {
      const pv = as<PersistentVolume>(obj);
      const spec = pv.spec ?? {};
      const claim = spec.claimRef ? `${spec.claimRef.namespace ?? ''}/${spec.claimRef.name ?? ''}` : '';
      const capacity = spec.capacity?.storage !== undefined ? (canonicalQuantity(String(spec.capacity.storage)) ?? String(spec.capacity.storage)) : '0';
      const storageClass = pv.metadata?.annotations?.['volume.beta.kubernetes.io/storage-class'] ?? spec.storageClassName ?? '';
      return [
        obj.metadata.name ?? '',
        capacity,
        accessModesString(spec.accessModes),
        spec.persistentVolumeReclaimPolicy ?? '',
        pv.metadata?.deletionTimestamp ? 'Terminating' : (pv.status?.phase ?? ''),
        claim,
        storageClass,
        spec.volumeAttributesClassName ?? '<unset>',
        pv.status?.reason ?? '',
        age(obj, now),
        spec.volumeMode ?? '<unset>',
      ];
    },
  },
});
