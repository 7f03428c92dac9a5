/** apps/v1 StatefulSets: defaults, selector rules, the fields an update may change, scale and printer. */
import type { StatefulSet, StatefulSetSpec } from 'kubernetes-types/apps/v1.js';
import { fieldForbidden, fieldNotSupported, type FieldError } from '../../api/status.js';
import { deepEqual, nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource, specOf } from './define-resource.js';
import { scaleSelector } from './deployments.js';
import { defaultPodTemplate, validateNonNegative, validatePodTemplate, validateTemplateSelector } from './pod-spec.js';
import { age, as, column, containerCells, containersColumn, imagesColumn, nameColumn, ageColumn } from './table-columns.js';

const mutableFields = ['replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'] as const;

function validateStatefulSetUpdate(spec: StatefulSetSpec | undefined, old: StatefulSetSpec | undefined): FieldError[] {
  const a: Record<string, unknown> = { ...(spec ?? {}) };
  const b: Record<string, unknown> = { ...(old ?? {}) };
  for (const f of mutableFields) {
    delete a[f];
    delete b[f];
  }
  if (deepEqual(a, b)) return [];
  return [
    fieldForbidden(
      'spec',
      "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    ),
  ];
}

export const statefulsets = defineResource({
  group: 'apps',
  version: 'v1',
  kind: 'StatefulSet',
  plural: 'statefulsets',
  singular: 'statefulset',
  namespaced: true,
  shortNames: ['sts'],
  categories: ['all'],
  hasStatus: true,
  scale: { specReplicasPath: 'spec.replicas', statusReplicasPath: 'status.replicas', selector: scaleSelector },
  schemaName: 'io.k8s.api.apps.v1.StatefulSet',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = specOf<StatefulSetSpec>(obj);
    spec.replicas ??= 1;
    spec.podManagementPolicy ??= 'OrderedReady';
    spec.updateStrategy ??= {};
    spec.updateStrategy.type ??= 'RollingUpdate';
    if (spec.updateStrategy.type === 'RollingUpdate') {
      spec.updateStrategy.rollingUpdate ??= {};
      spec.updateStrategy.rollingUpdate.partition ??= 0;
    }
    spec.revisionHistoryLimit ??= 10;
    spec.persistentVolumeClaimRetentionPolicy ??= {};
    spec.persistentVolumeClaimRetentionPolicy.whenDeleted ??= 'Retain';
    spec.persistentVolumeClaimRetentionPolicy.whenScaled ??= 'Retain';
    defaultPodTemplate(spec.template);
  },
  validateSpec(obj) {
    const s = (obj.spec ?? {}) as StatefulSetSpec;
    const errs: FieldError[] = [
      ...validateNonNegative(s.replicas, 'spec.replicas'),
      ...validateNonNegative(s.minReadySeconds, 'spec.minReadySeconds'),
      ...validateNonNegative(s.revisionHistoryLimit, 'spec.revisionHistoryLimit'),
      ...validateTemplateSelector(s.selector, s.template, 'statefulset'),
      ...validatePodTemplate(s.template, 'spec.template', { restartPolicies: ['Always'], extraVolumes: claimTemplateNames(s) }),
    ];
    if (s.podManagementPolicy && s.podManagementPolicy !== 'OrderedReady' && s.podManagementPolicy !== 'Parallel') {
      errs.push(fieldNotSupported('spec.podManagementPolicy', s.podManagementPolicy, ['OrderedReady', 'Parallel']));
    }
    const t = s.updateStrategy?.type;
    if (t && t !== 'RollingUpdate' && t !== 'OnDelete') errs.push(fieldNotSupported('spec.updateStrategy.type', t, ['OnDelete', 'RollingUpdate']));
    errs.push(...validateNonNegative(s.updateStrategy?.rollingUpdate?.partition, 'spec.updateStrategy.rollingUpdate.partition'));
    return errs;
  },
  validateSpecUpdate: (obj, old) => validateStatefulSetUpdate(obj.spec as StatefulSetSpec | undefined, old.spec as StatefulSetSpec | undefined),
  printer: {
    columns: [
      nameColumn,
      column('Ready', 'Number of the pod with ready state'),
      ageColumn,
      containersColumn,
      imagesColumn,
    ],
    row(obj, now) {
      const sts = as<StatefulSet>(obj);
      const [names, images] = containerCells(sts.spec?.template?.spec?.containers);
      return [obj.metadata.name ?? '', `${sts.status?.readyReplicas ?? 0}/${sts.spec?.replicas ?? 0}`, age(obj, now), names, images];
    },
  },
});

/** Names of the volumeClaimTemplates, which the controller adds to each pod as volumes of the same name. */
function claimTemplateNames(spec: StatefulSetSpec): string[] {
  const names: string[] = [];
  for (const t of spec.volumeClaimTemplates ?? []) if (t?.metadata?.name) names.push(t.metadata.name);
  return names;
}
