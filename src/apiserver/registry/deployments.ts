/** apps/v1 Deployments: defaults (replicas 1, RollingUpdate 25%/25%, history 10, deadline 600), validation, scale, printer. */
import type { Deployment, DeploymentSpec } from 'kubernetes-types/apps/v1.js';
import type { KubeObject } from '../../api/object.js';
import { fieldForbidden, fieldInvalid, fieldNotSupported, type FieldError } from '../../api/status.js';
import { labelSelectorFromObject, selectorToString } from '../../api/labels.js';
import { nameIsDNSSubdomain, regexError, validateImmutableField } from '../../api/validation.js';
import { defineResource, specOf } from './define-resource.js';
import { defaultPodTemplate, validateNonNegative, validatePodTemplate, validateTemplateSelector } from './pod-spec.js';
import { age, as, column, containerCells, containersColumn, imagesColumn, nameColumn, ageColumn, selectorColumn } from './table-columns.js';

/** An int or a percent string such as `25%` (IsValidPercent / ValidatePositiveIntOrPercent). */
export function validateIntOrPercent(value: number | string | undefined, path: string): FieldError[] {
  if (value === undefined) return [];
  if (typeof value === 'number') return validateNonNegative(value, path);
  if (!/^[0-9]+%$/.test(value)) {
    return [fieldInvalid(path, value, regexError("a valid percent string must be a numeric string followed by an ending '%'", '[0-9]+%', '1%', '93%'))];
  }
  return [];
}

/** The numeric part of an int-or-percent, for "both zero" checks. */
export function intOrPercentIsZero(value: number | string | undefined): boolean {
  return value === 0 || value === '0%';
}

/** Scale.status.selector: the label selector as a string (`app=nginx`). */
export function scaleSelector(obj: KubeObject): string | undefined {
  const selector = (obj.spec as { selector?: Parameters<typeof labelSelectorFromObject>[0] } | undefined)?.selector;
  try {
    return selectorToString(labelSelectorFromObject(selector));
  } catch {
    // An invalid selector cannot be stored, so this only guards against legacy data.
    return undefined;
  }
}

function validateDeploymentSpec(spec: DeploymentSpec | undefined): FieldError[] {
  const s = spec ?? ({} as DeploymentSpec);
  const errs: FieldError[] = [];
  errs.push(...validateNonNegative(s.replicas, 'spec.replicas'));
  errs.push(...validateTemplateSelector(s.selector, s.template, 'deployment'));
  errs.push(...validatePodTemplate(s.template, 'spec.template', { restartPolicies: ['Always'] }));
  const strategy = s.strategy;
  if (strategy?.type && strategy.type !== 'Recreate' && strategy.type !== 'RollingUpdate') {
    errs.push(fieldNotSupported('spec.strategy.type', strategy.type, ['Recreate', 'RollingUpdate']));
  }
  if (strategy?.type === 'Recreate' && strategy.rollingUpdate) {
    errs.push(fieldForbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
  }
  const ru = strategy?.rollingUpdate;
  if (ru) {
    errs.push(...validateIntOrPercent(ru.maxUnavailable, 'spec.strategy.rollingUpdate.maxUnavailable'));
    errs.push(...validateIntOrPercent(ru.maxSurge, 'spec.strategy.rollingUpdate.maxSurge'));
    if (intOrPercentIsZero(ru.maxUnavailable) && intOrPercentIsZero(ru.maxSurge)) {
      errs.push(fieldInvalid('spec.strategy.rollingUpdate.maxUnavailable', ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
    }
    if (typeof ru.maxUnavailable === 'string' && parseInt(ru.maxUnavailable, 10) > 100) {
      errs.push(fieldInvalid('spec.strategy.rollingUpdate.maxUnavailable', ru.maxUnavailable, 'must not be greater than 100%'));
    }
  }
  errs.push(...validateNonNegative(s.revisionHistoryLimit, 'spec.revisionHistoryLimit'));
  errs.push(...validateNonNegative(s.minReadySeconds, 'spec.minReadySeconds'));
  if (s.progressDeadlineSeconds !== undefined) {
    errs.push(...validateNonNegative(s.progressDeadlineSeconds, 'spec.progressDeadlineSeconds'));
    if (s.progressDeadlineSeconds <= (s.minReadySeconds ?? 0)) {
      errs.push(fieldInvalid('spec.progressDeadlineSeconds', s.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
    }
  }
  return errs;
}

export const deployments = defineResource({
  group: 'apps',
  version: 'v1',
  kind: 'Deployment',
  plural: 'deployments',
  singular: 'deployment',
  namespaced: true,
  shortNames: ['deploy'],
  categories: ['all'],
  hasStatus: true,
  scale: { specReplicasPath: 'spec.replicas', statusReplicasPath: 'status.replicas', selector: scaleSelector },
  schemaName: 'io.k8s.api.apps.v1.Deployment',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = specOf<DeploymentSpec>(obj);
    spec.replicas ??= 1;
    spec.strategy ??= {};
    spec.strategy.type ??= 'RollingUpdate';
    if (spec.strategy.type === 'RollingUpdate') {
      spec.strategy.rollingUpdate ??= {};
      spec.strategy.rollingUpdate.maxUnavailable ??= '25%';
      spec.strategy.rollingUpdate.maxSurge ??= '25%';
    }
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
    defaultPodTemplate(spec.template);
  },
  validateSpec: (obj) => validateDeploymentSpec(obj.spec as DeploymentSpec | undefined),
  validateSpecUpdate(obj, old) {
    return validateImmutableField((obj.spec as DeploymentSpec | undefined)?.selector, (old.spec as DeploymentSpec | undefined)?.selector, 'spec.selector');
  },
  printer: {
    columns: [
      nameColumn,
      column('Ready', 'Number of the pod with ready state'),
      column('Up-to-date', 'Total number of non-terminating pods targeted by this deployment that have the desired template spec.'),
      column('Available', 'Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.'),
      ageColumn,
      containersColumn,
      imagesColumn,
      selectorColumn('Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.'),
    ],
    row(obj, now) {
      const d = as<Deployment>(obj);
      const [names, images] = containerCells(d.spec?.template?.spec?.containers);
      let selector: string;
      try {
        selector = selectorToString(labelSelectorFromObject(d.spec?.selector));
      } catch {
        selector = '<invalid>';
      }
      return [
        obj.metadata.name ?? '',
        `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`,
        d.status?.updatedReplicas ?? 0,
        d.status?.availableReplicas ?? 0,
        age(obj, now),
        names,
        images,
        selector,
      ];
    },
  },
});
