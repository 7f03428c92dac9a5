/**
 * NamespaceLifecycle admission (first in kube-apiserver's plugin order): nothing is created in a namespace that does
 * not exist or is being deleted, and the namespaces the system lives in cannot be deleted.
 */
import { forbidden, notFound, StatusError } from '../../api/status.js';
import type { KubeObject } from '../../api/object.js';
import type { AdmissionAttributes, MutatingAdmission } from './types.js';

/** default, kube-system and kube-public cannot be deleted (upstream's immortal namespaces). */
const IMMORTAL = new Set(['default', 'kube-system', 'kube-public']);

export function namespaceLifecycle(): MutatingAdmission {
  return {
    name: 'NamespaceLifecycle',
    operations: ['CREATE', 'DELETE'],
    handles: (attrs) => (attrs.operation === 'CREATE' ? attrs.resource.namespaced : attrs.resource.group === '' && attrs.resource.plural === 'namespaces'),
    admit(attrs, ctx) {
      if (attrs.operation === 'DELETE') {
        if (IMMORTAL.has(attrs.name)) throw forbidden(`namespaces "${attrs.name}" is forbidden: this namespace may not be deleted`);
        return;
      }
      // Subresource creates (bindings, evictions) address objects that already exist in the namespace.
      if (attrs.subresource !== '') return;
      // Every namespaced create passes here: decide from the cache, and ask the store only for a namespace it lacks.
      const cached = ctx.cached('', 'namespaces', '', attrs.namespace);
      if (cached) return checkNamespace(attrs, cached);
      return ctx.get('', 'namespaces', '', attrs.namespace).then((ns) => checkNamespace(attrs, ns));
    },
  };
}

function checkNamespace(attrs: AdmissionAttributes, ns: KubeObject | undefined): void {
  if (!ns) throw notFound({ resource: 'namespaces', name: attrs.namespace });
  if (ns.metadata.deletionTimestamp) {
    const def = attrs.resource;
    const name = attrs.object?.metadata?.name ?? attrs.name;
    throw new StatusError({
      message: `${def.group ? `${def.plural}.${def.group}` : def.plural} "${name}" is forbidden: unable to create new content in namespace ${attrs.namespace} because it is being terminated`,
      reason: 'Forbidden',
      code: 403,
      details: { name, group: def.group || undefined, kind: def.plural, causes: [{ reason: 'NamespaceTerminating', message: `namespace ${attrs.namespace} is being terminated`, field: 'metadata.namespace' }] },
    });
  }
}
