/** apps/v1 ControllerRevisions: immutable history snapshots of StatefulSets and DaemonSets. */
import type { ControllerRevision } from 'kubernetes-types/apps/v1.js';
import { fieldInvalid, type FieldError } from '../../api/status.js';
import { nameIsDNSSubdomain, validateImmutableField } from '../../api/validation.js';
import { defineResource } from './define-resource.js';
import { age, as, column, nameColumn, ageColumn } from './table-columns.js';

/** `statefulset.apps/web` for the controlling owner (formatResourceName of its GroupKind). */
function controllerName(rev: ControllerRevision): string {
  const ref = rev.metadata?.ownerReferences?.find((r) => r.controller);
  if (!ref) return '<none>';
  const slash = ref.apiVersion.indexOf('/');
  const group = slash < 0 ? '' : ref.apiVersion.slice(0, slash);
  const groupKind = group ? `${ref.kind}.${group}` : ref.kind;
  return `${groupKind.toLowerCase()}/${ref.name}`;
}

export const controllerrevisions = defineResource({
  group: 'apps',
  version: 'v1',
  kind: 'ControllerRevision',
  plural: 'controllerrevisions',
  singular: 'controllerrevision',
  namespaced: true,
  hasStatus: false,
  schemaName: 'io.k8s.api.apps.v1.ControllerRevision',
  tracksGeneration: false,
  nameValidator: nameIsDNSSubdomain,
  validateSpec(obj) {
    const rev = as<ControllerRevision>(obj);
    const errs: FieldError[] = [];
    if (typeof rev.revision === 'number' && rev.revision < 0) errs.push(fieldInvalid('revision', rev.revision, 'must be greater than or equal to 0'));
    return errs;
  },
  validateSpecUpdate(obj, old) {
    return validateImmutableField(obj.data, old.data, 'data');
  },
  printer: {
    columns: [nameColumn, column('Controller', 'Controller of the object'), column('Revision', 'Revision indicates the revision of the state represented by Data.'), ageColumn],
    row(obj, now) {
      const rev = as<ControllerRevision>(obj);
      return [obj.metadata.name ?? '', controllerName(rev), rev.revision ?? 0, age(obj, now)];
    },
  },
});
