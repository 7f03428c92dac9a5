/** apps/v1 ReplicaSets: replicas default 1, selector rules, scale, the DESIRED/CURRENT/READY table. */
import type { ReplicaSet, ReplicaSetSpec } from 'kubernetes-types/apps/v1.js';
import { formatLabelSelector } from '../../api/labels.js';
import { nameIsDNSSubdomain, validateImmutableField } from '../../api/validation.js';
import { defineResource, specOf } from './define-resource.js';
import { scaleSelector } from './deployments.js';
import { defaultPodTemplate, validateNonNegative, validatePodTemplate, validateTemplateSelector } from './pod-spec.js';
import { age, as, column, containerCells, containersColumn, imagesColumn, nameColumn, ageColumn, selectorColumn } from './table-columns.js';

export const replicasets = defineResource({
  group: 'apps',
  version: 'v1',
  kind: 'ReplicaSet',
  plural: 'replicasets',
  singular: 'replicaset',
  namespaced: true,
  shortNames: ['rs'],
  categories: ['all'],
  hasStatus: true,
  scale: { specReplicasPath: 'spec.replicas', statusReplicasPath: 'status.replicas', selector: scaleSelector },
  schemaName: 'io.k8s.api.apps.v1.ReplicaSet',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = specOf<ReplicaSetSpec>(obj);
    spec.replicas ??= 1;
    defaultPodTemplate(spec.template);
  },
  validateSpec(obj) {
    const s = (obj.spec ?? {}) as ReplicaSetSpec;
    return [
      ...validateNonNegative(s.replicas, 'spec.replicas'),
      ...validateNonNegative(s.minReadySeconds, 'spec.minReadySeconds'),
      ...validateTemplateSelector(s.selector, s.template, 'deployment'),
      ...validatePodTemplate(s.template, 'spec.template', { restartPolicies: ['Always'] }),
    ];
  },
  validateSpecUpdate(obj, old) {
    return validateImmutableField((obj.spec as ReplicaSetSpec | undefined)?.selector, (old.spec as ReplicaSetSpec | undefined)?.selector, 'spec.selector');
  },
  printer: {
    columns: [
      nameColumn,
      column('Desired', 'Replicas is the number of desired pods.', { type: 'integer' }),
      column('Current', 'Replicas is the most recently observed number of replicas.', { type: 'integer' }),
      column('Ready', 'The number of ready replicas for this replica set.', { type: 'integer' }),
      ageColumn,
      containersColumn,
      imagesColumn,
      selectorColumn('Selector is a label query over pods that should match the replica count.'),
    ],
    row(obj, now) {
      const rs = as<ReplicaSet>(obj);
      const [names, images] = containerCells(rs.spec?.template?.spec?.containers);
      return [
        obj.metadata.name ?? '',
        rs.spec?.replicas ?? 0,
        rs.status?.replicas ?? 0,
        rs.status?.readyReplicas ?? 0,
        age(obj, now),
        names,
        images,
        formatLabelSelector(rs.spec?.selector),
      ];
    },
  },
  fieldSelectors: {
    'status.replicas': (o) => String(as<ReplicaSet>(o).status?.replicas ?? 0),
  },
});
