/**
 * storage.k8s.io/v1 CSIDrivers: how Kubernetes talks to an installed CSI driver (pkg/apis/storage/v1/defaults.go,
 * validation.ValidateCSIDriver). Served and validated; skiff attaches nothing.
 */
import type { CSIDriver, CSIDriverSpec } from 'kubernetes-types/storage/v1.js';
import type { KubeObject } from '../../api/object.js';
import { fieldDuplicate, fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { validateImmutableField, type NameValidator } from '../../api/validation.js';
import { csiDriverNameErrors } from './csi-names.js';
import { defineResource, specOf } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

const fsGroupPolicies = ['File', 'None', 'ReadWriteOnceWithFSType'];
const lifecycleModes = ['Ephemeral', 'Persistent'];
const nameIsCSIDriverName: NameValidator = (name) => csiDriverNameErrors(name);

function validateSpec(obj: KubeObject): FieldError[] {
  const s = (obj.spec ?? {}) as CSIDriverSpec;
  const errs: FieldError[] = [];
  for (const f of ['attachRequired', 'podInfoOnMount', 'storageCapacity', 'requiresRepublish'] as const) {
    if (s[f] === undefined || s[f] === null) errs.push(fieldRequired(`spec.${f}`));
  }
  if (!s.fsGroupPolicy) errs.push(fieldRequired('spec.fsGroupPolicy'));
  else if (!fsGroupPolicies.includes(s.fsGroupPolicy)) errs.push(fieldNotSupported('spec.fsGroupPolicy', s.fsGroupPolicy, fsGroupPolicies));
  (s.volumeLifecycleModes ?? []).forEach((m, i) => {
    if (!lifecycleModes.includes(m)) errs.push(fieldNotSupported(`spec.volumeLifecycleModes[${i}]`, m, lifecycleModes));
  });
  const audiences = new Set<string>();
  (s.tokenRequests ?? []).forEach((t, i) => {
    const p = `spec.tokenRequests[${i}]`;
    const aud = t.audience ?? '';
    if (audiences.has(aud)) errs.push(fieldDuplicate(`${p}.audience`, aud));
    audiences.add(aud);
    if (t.expirationSeconds !== undefined && t.expirationSeconds < 600) errs.push(fieldInvalid(`${p}.expirationSeconds`, t.expirationSeconds, 'may not specify a duration less than 10 minutes'));
    if (t.expirationSeconds !== undefined && t.expirationSeconds > 2 ** 32) errs.push(fieldInvalid(`${p}.expirationSeconds`, t.expirationSeconds, 'may not specify a duration larger than 2^32 seconds'));
  });
  return errs;
}


export const csidrivers = defineResource({
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'CSIDriver',
  plural: 'csidrivers',
  singular: 'csidriver',
  namespaced: false,
  hasStatus: false,
  schemaName: 'io.k8s.api.storage.v1.CSIDriver',
  tracksGeneration: false,
  nameValidator: nameIsCSIDriverName,
  defaults(obj) {
    const s = specOf<CSIDriverSpec>(obj);
    s.attachRequired ??= true;
    s.podInfoOnMount ??= false;
    s.storageCapacity ??= false;
    s.fsGroupPolicy ??= 'ReadWriteOnceWithFSType';
    s.requiresRepublish ??= false;
    s.seLinuxMount ??= false;
    if (!s.volumeLifecycleModes || s.volumeLifecycleModes.length === 0) s.volumeLifecycleModes = ['Persistent'];
  },
  validateSpec,
  validateSpecUpdate(obj, old) {
    // ValidateCSIDriverUpdate keeps upstream's field paths, typo included.
    const n = (obj.spec ?? {}) as CSIDriverSpec;
    const o = (old.spec ?? {}) as CSIDriverSpec;
    return [...validateImmutableField(n.attachRequired, o.attachRequired, 'spec.attachedRequired'), ...validateImmutableField(n.volumeLifecycleModes, o.volumeLifecycleModes, 'volumeLifecycleModes')];
  },
  printer: {
    columns: [
      nameColumn,
      column('AttachRequired', 'Indicates this CSI volume driver requires an attach operation, and that Kubernetes should call attach and wait for any attach operation to complete before proceeding to mount.', { type: 'boolean' }),
      column('PodInfoOnMount', 'Indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations.', { type: 'boolean' }),
      column('StorageCapacity', 'Indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report by creating CSIStorageCapacity objects with capacity information.', { type: 'boolean' }),
      column('TokenRequests', 'Indicates the CSI driver needs pods\' service account tokens it is mounting volume for to do necessary authentication.'),
      column('RequiresRepublish', 'RequiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume.', { type: 'boolean' }),
      column('Modes', 'Defines the volume lifecycle modes supported by this CSI driver.'),
      ageColumn,
    ],
    row(obj, now) {
      const s = as<CSIDriver>(obj).spec ?? {};
      const tokens = (s.tokenRequests ?? []).map((t) => t.audience || '<api-server-audience>');
      const modes = s.volumeLifecycleModes ?? [];
      return [obj.metadata.name ?? '', s.attachRequired ?? false, s.podInfoOnMount ?? false, s.storageCapacity ?? false, tokens.length ? tokens.join(',') : '<unset>', s.requiresRepublish ?? false, modes.length ? modes.join(',') : '<none>', age(obj, now)];
    },
  },
});

