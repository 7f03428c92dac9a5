/** apps/v1 DaemonSets: RollingUpdate defaults, selector rules and the DESIRED/CURRENT/READY/... table. */
import type { DaemonSet, DaemonSetSpec } from 'kubernetes-types/apps/v1.js';
import { fieldNotSupported, type FieldError } from '../../api/status.js';
import { formatLabelSelector, formatLabels } from '../../api/labels.js';
import { nameIsDNSSubdomain, validateImmutableField } from '../../api/validation.js';
import { defineResource, specOf } from './define-resource.js';
import { validateIntOrPercent } from './deployments.js';
import { defaultPodTemplate, validateNonNegative, validatePodTemplate, validateTemplateSelector } from './pod-spec.js';
import { age, as, column, containerCells, containersColumn, imagesColumn, nameColumn, ageColumn, selectorColumn } from './table-columns.js';

export const daemonsets = defineResource({
  group: 'apps',
  version: 'v1',
  kind: 'DaemonSet',
  plural: 'daemonsets',
  singular: 'daemonset',
  namespaced: true,
  shortNames: ['ds'],
  categories: ['all'],
  hasStatus: true,
  schemaName: 'io.k8s.api.apps.v1.DaemonSet',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = specOf<DaemonSetSpec>(obj);
    spec.updateStrategy ??= {};
    spec.updateStrategy.type ??= 'RollingUpdate';
    if (spec.updateStrategy.type === 'RollingUpdate') {
      spec.updateStrategy.rollingUpdate ??= {};
      spec.updateStrategy.rollingUpdate.maxUnavailable ??= 1;
      spec.updateStrategy.rollingUpdate.maxSurge ??= 0;
    }
    spec.revisionHistoryLimit ??= 10;
    defaultPodTemplate(spec.template);
  },
  validateSpec(obj) {
    const s = (obj.spec ?? {}) as DaemonSetSpec;
    const errs: FieldError[] = [
      ...validateTemplateSelector(s.selector, s.template, 'daemonset'),
      ...validatePodTemplate(s.template, 'spec.template', { restartPolicies: ['Always'] }),
      ...validateNonNegative(s.minReadySeconds, 'spec.minReadySeconds'),
      ...validateNonNegative(s.revisionHistoryLimit, 'spec.revisionHistoryLimit'),
    ];
    const t = s.updateStrategy?.type;
    if (t && t !== 'RollingUpdate' && t !== 'OnDelete') errs.push(fieldNotSupported('spec.updateStrategy.type', t, ['OnDelete', 'RollingUpdate']));
    errs.push(...validateIntOrPercent(s.updateStrategy?.rollingUpdate?.maxUnavailable, 'spec.updateStrategy.rollingUpdate.maxUnavailable'));
    errs.push(...validateIntOrPercent(s.updateStrategy?.rollingUpdate?.maxSurge, 'spec.updateStrategy.rollingUpdate.maxSurge'));
    return errs;
  },
  validateSpecUpdate(obj, old) {
    return validateImmutableField((obj.spec as DaemonSetSpec | undefined)?.selector, (old.spec as DaemonSetSpec | undefined)?.selector, 'spec.selector');
  },
  printer: {
    columns: [
      nameColumn,
      column('Desired', 'The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).', { type: 'integer' }),
      column('Current', 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.', { type: 'integer' }),
      column('Ready', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.', { type: 'integer' }),
      column('Up-to-date', 'The total number of nodes that are running updated daemon pod', { type: 'integer' }),
      column('Available', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)', { type: 'integer' }),
      column('Node Selector', 'NodeSelector is a selector which must be true for the pod to fit on a node.'),
      ageColumn,
      containersColumn,
      imagesColumn,
      selectorColumn('A label query over pods that are managed by the daemon set.'),
    ],
    row(obj, now) {
      const ds = as<DaemonSet>(obj);
      const st = ds.status;
      const [names, images] = containerCells(ds.spec?.template?.spec?.containers);
      return [
        obj.metadata.name ?? '',
        st?.desiredNumberScheduled ?? 0,
        st?.currentNumberScheduled ?? 0,
        st?.numberReady ?? 0,
        st?.updatedNumberScheduled ?? 0,
        st?.numberAvailable ?? 0,
        formatLabels(ds.spec?.template?.spec?.nodeSelector),
        age(obj, now),
        names,
        images,
        formatLabelSelector(ds.spec?.selector),
      ];
    },
  },
});
