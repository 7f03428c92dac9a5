/** core/v1 Namespaces: the `kubernetes` finalizer, phase Active on create, DNS-label names. */
import type { Namespace, NamespaceSpec, NamespaceStatus } from 'kubernetes-types/core/v1.js';
import type { KubeObject } from '../../api/object.js';
import { nameIsDNSLabel } from '../../api/validation.js';
import { defineResource, specOf, statusOf } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';
import type { SubresourceDefinition } from './types.js';

function finalizersOf(obj: KubeObject): string[] | undefined {
  return (obj.spec as NamespaceSpec | undefined)?.finalizers;
}

/** namespaces/finalize: the only way spec.finalizers change (the namespace controller empties it when content is gone). */
const finalize: SubresourceDefinition = {
  name: 'finalize',
  kind: 'Namespace',
  verbs: ['update'],
  mutation: {
    method: 'PUT',
    respond: 'object',
    apply(current, body) {
      const finalizers = (body.spec as NamespaceSpec | undefined)?.finalizers ?? [];
      const rv = (body.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
      if (rv) current.metadata.resourceVersion = rv;
      const spec = specOf<NamespaceSpec>(current);
      if (finalizers.length > 0) spec.finalizers = finalizers;
      else delete spec.finalizers;
      return current;
    },
  },
};

export const namespaces = defineResource({
  group: '',
  version: 'v1',
  kind: 'Namespace',
  plural: 'namespaces',
  singular: 'namespace',
  namespaced: false,
  shortNames: ['ns'],
  // Namespaces cannot be deleted as a collection (kube-apiserver serves no deletecollection for them).
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  hasStatus: true,
  schemaName: 'io.k8s.api.core.v1.Namespace',
  tracksGeneration: false,
  nameValidator: nameIsDNSLabel,
  prepareForCreate(obj) {
    // The namespace controller removes this finalizer once the namespace's content is gone.
    const spec = specOf<NamespaceSpec>(obj);
    spec.finalizers ??= ['kubernetes'];
    statusOf<NamespaceStatus>(obj).phase = 'Active';
    labelWithName(obj);
  },
  prepareForUpdate(obj, old) {
    labelWithName(obj);
    // spec.finalizers only change through the finalize subresource (namespace strategy PrepareForUpdate).
    const finalizers = (old.spec as NamespaceSpec | undefined)?.finalizers;
    if (finalizers) specOf<NamespaceSpec>(obj).finalizers = [...finalizers];
    else if (obj.spec) delete (obj.spec as NamespaceSpec).finalizers;
  },
  deletion: {
    // A namespace stays, Terminating, until its finalizers are gone (upstream namespace REST storage Delete).
    finalizationPending: (obj) => (finalizersOf(obj)?.length ?? 0) > 0,
    markDeleting(obj) {
      statusOf<NamespaceStatus>(obj).phase = 'Terminating';
    },
  },
  subresources: [finalize],
  printer: {
    columns: [nameColumn, column('Status', 'The status of the namespace'), ageColumn],
    row(obj, now) {
      return [obj.metadata.name ?? '', as<Namespace>(obj).status?.phase ?? '', age(obj, now)];
    },
  },
  fieldSelectors: {
    'status.phase': (o) => as<Namespace>(o).status?.phase ?? '',
  },
});

/**
 * Every namespace carries `kubernetes.io/metadata.name: <name>` (upstream's namespace defaulting and Canonicalize,
 * 1.21+), set over whatever the client wrote: namespaceSelectors of NetworkPolicies, webhooks and policies rely on it.
 */
function labelWithName(obj: KubeObject): void {
  obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name ?? '' };
}
