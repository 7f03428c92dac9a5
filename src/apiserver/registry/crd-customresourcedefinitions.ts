/**
 * apiextensions.k8s.io/v1 CustomResourceDefinitions: validation and defaults in ../crd/crd-validation.ts; serving
 * their custom resources is ../crd/crd-controller.ts's job. Deleting a CRD marks it Terminating and holds it with
 * the customresourcecleanup finalizer until its objects are gone (upstream's CRD REST Delete).
 */
import { nameIsDNSSubdomain } from '../../api/validation.js';
import { rfc3339 } from '../../api/time.js';
import { defaultCrd, validateCrd, validateCrdUpdate } from '../crd/crd-validation.js';
import { CLEANUP_FINALIZER, CRD_GROUP, type CustomResourceDefinition } from '../crd/json-schema.js';
import { publishedSchema, withQualifiedFinalizers } from '../crd/custom-resource.js';
import { CRD_SCHEMA } from '../crd/crd-schema.js';
import { pruneDecoded } from '../crd/prune-default.js';
import { defineResource } from './define-resource.js';
import { createdAtPrinter } from './table-columns.js';

export const customresourcedefinitions = withQualifiedFinalizers(defineResource({
  group: CRD_GROUP,
  version: 'v1',
  kind: 'CustomResourceDefinition',
  plural: 'customresourcedefinitions',
  singular: 'customresourcedefinition',
  namespaced: false,
  shortNames: ['crd', 'crds'],
  categories: ['api-extensions'],
  hasStatus: true,
  schemaName: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    defaultCrd(obj as CustomResourceDefinition);
  },
  prepareForCreate(obj) {
    // The status is the controller's: a new CRD starts with none accepted and nothing stored yet.
    obj.status = { conditions: [], acceptedNames: { plural: '', kind: '' }, storedVersions: [] };
  },
  validateSpec(obj) {
    return validateCrd(obj as CustomResourceDefinition);
  },
  validateSpecUpdate(obj, old) {
    return validateCrdUpdate(obj as CustomResourceDefinition, old as CustomResourceDefinition);
  },
  deletion: {
    // The first DELETE only marks the CRD; the finalizer added here holds it until its objects are deleted.
    finalizationPending: (obj) => !obj.metadata.deletionTimestamp,
    markDeleting(obj) {
      const crd = obj as CustomResourceDefinition;
      const finalizers = crd.metadata.finalizers ?? [];
      if (!finalizers.includes(CLEANUP_FINALIZER)) crd.metadata.finalizers = [...finalizers, CLEANUP_FINALIZER];
      const status = (crd.status ??= {});
      const conditions = (status.conditions ?? []).filter((c) => c.type !== 'Terminating');
      conditions.push({ type: 'Terminating', status: 'True', lastTransitionTime: rfc3339(new Date()), reason: 'InstanceDeletionPending', message: 'CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon' });
      status.conditions = conditions;
    },
  },
  printer: createdAtPrinter,
}));
// Published for kubectl explain, and pruned to on decode (fieldValidation reports misspelt fields).
customresourcedefinitions.customSchema = { openApi: publishedSchema(CRD_SCHEMA, true), prune: (obj) => pruneDecoded(CRD_SCHEMA, obj), acceptsStrategicMerge: true };
