/**
 * core/v1 ReplicationControllers: the map-selector ancestor of ReplicaSets (pkg/apis/core/v1/defaults.go
 * SetDefaults_ReplicationController, validation.ValidateReplicationController), with scale and status subresources.
 */
import type { ReplicationController, ReplicationControllerSpec } from 'kubernetes-types/core/v1.js';
import { formatLabels, labelSelectorFromSet, selectorToString } from '../../api/labels.js';
import type { KubeObject } from '../../api/object.js';
import { fieldInvalid, fieldRequired, type FieldError } from '../../api/status.js';
import { nameIsDNSSubdomain, validateLabels } from '../../api/validation.js';
import { defineResource, specOf } from './define-resource.js';
import { defaultPodTemplate, validateNonNegative, validatePodTemplate } from './pod-spec.js';
import { age, as, column, containerCells, containersColumn, imagesColumn, nameColumn, ageColumn } from './table-columns.js';

function rcSelector(obj: KubeObject): string | undefined {
  return selectorToString(labelSelectorFromSet((obj.spec as ReplicationControllerSpec | undefined)?.selector ?? {}));
}

/** ValidateReplicationControllerSpec: a non-empty map selector that selects the template's labels. */
export function validateReplicationControllerSpec(spec: ReplicationControllerSpec | undefined): FieldError[] {
  const s = spec ?? {};
  const errs: FieldError[] = [...validateNonNegative(s.replicas, 'spec.replicas'), ...validateNonNegative(s.minReadySeconds, 'spec.minReadySeconds')];
  const selector = s.selector ?? {};
  if (Object.keys(selector).length === 0) errs.push(fieldRequired('spec.selector'));
  else errs.push(...validateLabels(selector, 'spec.selector'));
  if (!s.template) {
    errs.push(fieldRequired('spec.template'));
    return errs;
  }
  const labels = s.template.metadata?.labels ?? {};
  if (Object.keys(selector).length > 0 && !Object.entries(selector).every(([k, v]) => labels[k] === v)) {
    errs.push(fieldInvalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
  }
  errs.push(...validatePodTemplate(s.template, 'spec.template', { restartPolicies: ['Always'] }));
  return errs;
}

export const replicationcontrollers = defineResource({
  group: '',
  version: 'v1',
  kind: 'ReplicationController',
  plural: 'replicationcontrollers',
  singular: 'replicationcontroller',
  namespaced: true,
  shortNames: ['rc'],
  categories: ['all'],
  hasStatus: true,
  scale: { specReplicasPath: 'spec.replicas', statusReplicasPath: 'status.replicas', selector: rcSelector },
  schemaName: 'io.k8s.api.core.v1.ReplicationController',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = specOf<ReplicationControllerSpec>(obj);
    // SetDefaults_ReplicationController: an empty selector and empty labels come from the template's labels.
    const templateLabels = spec.template?.metadata?.labels;
    if (templateLabels && Object.keys(templateLabels).length > 0) {
      if (!spec.selector || Object.keys(spec.selector).length === 0) spec.selector = { ...templateLabels };
      if (!obj.metadata.labels || Object.keys(obj.metadata.labels).length === 0) obj.metadata.labels = { ...templateLabels };
    }
    spec.replicas ??= 1;
    defaultPodTemplate(spec.template);
  },
  validateSpec(obj) {
    return validateReplicationControllerSpec(obj.spec as ReplicationControllerSpec | undefined);
  },
  printer: {
    columns: [
      nameColumn,
      column('Desired', 'Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1.', { type: 'integer' }),
      column('Current', 'Replicas is the most recently observed number of replicas.', { type: 'integer' }),
      column('Ready', 'The number of ready replicas for this replication controller.', { type: 'integer' }),
      ageColumn,
      containersColumn,
      imagesColumn,
      column('Selector', 'Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template.', { priority: 1 }),
    ],
    row(obj, now) {
      const rc = as<ReplicationController>(obj);
      const [names, images] = containerCells(rc.spec?.template?.spec?.containers);
      return [obj.metadata.name ?? '', rc.spec?.replicas ?? 0, rc.status?.replicas ?? 0, rc.status?.readyReplicas ?? 0, age(obj, now), names, images, formatLabels(rc.spec?.selector)];
    },
  },
  fieldSelectors: {
    'status.replicas': (o) => String(as<ReplicationController>(o).status?.replicas ?? 0),
  },
});
