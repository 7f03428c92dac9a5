/**
 * storage.k8s.io/v1 VolumeAttachments: the intent to attach a volume to a node and the attacher's report
 * (validation.ValidateVolumeAttachment). Served and validated; skiff runs no attacher, so nothing attaches.
 */
import type { VolumeAttachment, VolumeAttachmentSpec } from 'kubernetes-types/storage/v1.js';
import { fieldInvalid, fieldRequired, type FieldError } from '../../api/status.js';
import { isDNS1123Subdomain, nameIsDNSSubdomain } from '../../api/validation.js';
import { validateCSIDriverName } from './csi-names.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

const MAX_ATTACH_ERROR = 1024;

function validateSpec(spec: VolumeAttachmentSpec | undefined): FieldError[] {
  const s = spec ?? ({} as VolumeAttachmentSpec);
  const errs = validateCSIDriverName(s.attacher, 'spec.attacher');
  const src = s.source ?? {};
  const count = (src.persistentVolumeName ? 1 : 0) + (src.inlineVolumeSpec ? 1 : 0);
  if (count !== 1) errs.push(fieldRequired('spec.source', 'must specify exactly one of inlineVolumeSpec and persistentVolumeName'));
  if (src.persistentVolumeName) for (const msg of isDNS1123Subdomain(src.persistentVolumeName)) errs.push(fieldInvalid('spec.source.persistentVolumeName', src.persistentVolumeName, msg));
  if (!s.nodeName) errs.push(fieldRequired('spec.nodeName'));
  else for (const msg of isDNS1123Subdomain(s.nodeName)) errs.push(fieldInvalid('spec.nodeName', s.nodeName, msg));
  return errs;
}

function validateStatus(obj: VolumeAttachment): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of ['attachError', 'detachError'] as const) {
    const m = obj.status?.[f]?.message;
    if (m && m.length > MAX_ATTACH_ERROR) errs.push(fieldInvalid(`status.${f}.message`, m, `must be smaller than ${MAX_ATTACH_ERROR} characters`));
  }
  return errs;
}

export const volumeattachments = defineResource({
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'VolumeAttachment',
  plural: 'volumeattachments',
  singular: 'volumeattachment',
  namespaced: false,
  hasStatus: true,
  schemaName: 'io.k8s.api.storage.v1.VolumeAttachment',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  validateSpec(obj) {
    return [...validateSpec(as<VolumeAttachment>(obj).spec), ...validateStatus(as<VolumeAttachment>(obj))];
  },
  validateSpecUpdate(obj, old) {
    // ValidateVolumeAttachmentUpdate: the spec never changes once created.
    if (JSON.stringify(obj.spec ?? null) === JSON.stringify(old.spec ?? null)) return [];
    return [fieldInvalid('spec', obj.spec ?? null, 'field is immutable')];
  },
  printer: {
    columns: [
      nameColumn,
      column('Attacher', 'Attacher indicates the name of the volume driver that MUST handle this request. This is the name returned by GetPluginName().'),
      column('PV', 'Name of the persistent volume to attach.'),
      column('Node', 'The node that the volume should be attached to.'),
      column('Attached', 'Indicates the volume is successfully attached. This field must only be set by the entity completing the attach operation, i.e. the external-attacher.', { type: 'boolean' }),
      ageColumn,
    ],
    row(obj, now) {
      const va = as<VolumeAttachment>(obj);
      return [obj.metadata.name ?? '', va.spec?.attacher ?? '', va.spec?.source?.persistentVolumeName ?? '', va.spec?.nodeName ?? '', va.status?.attached ?? false, age(obj, now)];
    },
  },
});

