/**
 * DefaultStorageClass admission (upstream plugin/pkg/admission/storage/storageclass/setdefault): a new
 * PersistentVolumeClaim that names no class gets the cluster's default StorageClass in spec.storageClassName, so
 * `kubectl get pvc` shows it (`local-path` on a fresh skiff cluster). "Names no class" is upstream's
 * PersistentVolumeClaimHasClass being false: spec.storageClassName absent (nil, not "": "" asks for no class) and no
 * volume.beta.kubernetes.io/storage-class annotation. Without a default class the claim is left as it is; the
 * retroactive default assignment (an update setting the class later, allowed by the claim's update validation)
 * covers a default created afterwards.
 */
import type { PersistentVolumeClaimSpec } from 'kubernetes-types/core/v1.js';
import { ANN_BETA_STORAGE_CLASS, defaultStorageClass } from '../../api/storage-class.js';
import { createLogger } from '../../log/logger.js';
import { isCoreResource, type MutatingAdmission } from './types.js';

const log = createLogger('admission');

export function defaultStorageClassAdmission(): MutatingAdmission {
  return {
    name: 'DefaultStorageClass',
    operations: ['CREATE'],
    handles: (attrs) => isCoreResource(attrs, 'persistentvolumeclaims') && attrs.subresource === '',
    admit(attrs, ctx) {
      const claim = attrs.object!;
      const spec = (claim.spec ?? {}) as PersistentVolumeClaimSpec;
      if ((spec.storageClassName !== undefined && spec.storageClassName !== null) || claim.metadata.annotations?.[ANN_BETA_STORAGE_CLASS] !== undefined) return;
      const def = defaultStorageClass(ctx.list('storage.k8s.io', 'storageclasses'));
      if (!def?.metadata.name) return;
      log.debug('defaulting storage class of a claim', { namespace: attrs.namespace, name: claim.metadata.name ?? claim.metadata.generateName, storageClass: def.metadata.name });
      claim.spec = { ...spec, storageClassName: def.metadata.name };
    },
  };
}
