/** batch/v1 Jobs: defaults, the generated selector, template and restartPolicy rules, the STATUS/COMPLETIONS table. */
import type { Job, JobSpec } from 'kubernetes-types/batch/v1.js';
import { humanDuration } from '../../api/age.js';
import { fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { formatLabelSelector } from '../../api/labels.js';
import { nameIsDNSSubdomain, validateImmutableField } from '../../api/validation.js';
import { defineResource, specOf } from './define-resource.js';
import { defaultPodTemplate, validateNonNegative, validatePodTemplate, validateTemplateSelector } from './pod-spec.js';
import { age, as, column, containerCells, containersColumn, imagesColumn, nameColumn, ageColumn, selectorColumn } from './table-columns.js';

/** Labels the Job controller selects its pods by (batch.kubernetes.io/*, plus the legacy unprefixed pair). */
export const jobControllerUidLabel = 'batch.kubernetes.io/controller-uid';
export const jobNameLabel = 'batch.kubernetes.io/job-name';

/**
 * Unless spec.manualSelector is true, Kubernetes generates the selector from the Job's uid and adds the
 * matching labels to the template (job strategy generateSelector).
 */
function generateSelector(job: Job): void {
  const spec = job.spec!;
  if (spec.manualSelector) return;
  const uid = job.metadata?.uid;
  const name = job.metadata?.name;
  if (!uid || !name) return;
  spec.template ??= { spec: { containers: [] } };
  spec.template.metadata ??= {};
  spec.template.metadata.labels = {
    ...(spec.template.metadata.labels ?? {}),
    [jobControllerUidLabel]: uid,
    [jobNameLabel]: name,
    'controller-uid': uid,
    'job-name': name,
  };
  spec.selector ??= { matchLabels: { [jobControllerUidLabel]: uid } };
}

/** Job spec defaults (SetDefaults_Job). */
export function defaultJobSpec(spec: JobSpec): void {
  if (spec.completions === undefined && spec.parallelism === undefined) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  spec.parallelism ??= 1;
  spec.backoffLimit ??= 6;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  spec.podReplacementPolicy ??= 'TerminatingOrFailed';
  defaultPodTemplate(spec.template);
}

/** Validation of a JobSpec at `path` (also used for CronJob job templates). */
export function validateJobSpec(spec: JobSpec | undefined, path: string, requireSelector: boolean): FieldError[] {
  const s = spec ?? ({} as JobSpec);
  const errs: FieldError[] = [];
  errs.push(...validateNonNegative(s.parallelism, `${path}.parallelism`));
  errs.push(...validateNonNegative(s.completions, `${path}.completions`));
  errs.push(...validateNonNegative(s.backoffLimit, `${path}.backoffLimit`));
  if (s.activeDeadlineSeconds !== undefined && s.activeDeadlineSeconds <= 0) {
    errs.push({ type: 'FieldValueInvalid', field: `${path}.activeDeadlineSeconds`, detail: `Invalid value: ${s.activeDeadlineSeconds}: must be greater than 0` });
  }
  if (s.completionMode && s.completionMode !== 'NonIndexed' && s.completionMode !== 'Indexed') {
    errs.push(fieldNotSupported(`${path}.completionMode`, s.completionMode, ['NonIndexed', 'Indexed']));
  }
  if (requireSelector || s.selector) errs.push(...validateTemplateSelector(s.selector, s.template, 'job', path));
  errs.push(...validatePodTemplate(s.template, `${path}.template`));
  const rp = s.template?.spec?.restartPolicy;
  if (s.template && rp !== 'OnFailure' && rp !== 'Never') {
    errs.push(fieldRequired(`${path}.template.spec.restartPolicy`, 'valid values: "OnFailure", "Never"'));
  }
  return errs;
}

function hasCondition(job: Job, type: string): boolean {
  const c = job.status?.conditions?.find((x) => x.type === type);
  return c?.status === 'True';
}

export const jobs = defineResource({
  group: 'batch',
  version: 'v1',
  kind: 'Job',
  plural: 'jobs',
  singular: 'job',
  namespaced: true,
  categories: ['all'],
  hasStatus: true,
  schemaName: 'io.k8s.api.batch.v1.Job',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    defaultJobSpec(specOf<JobSpec>(obj));
  },
  prepareForCreate(obj) {
    generateSelector(as<Job>(obj));
  },
  validateSpec: (obj) => validateJobSpec(obj.spec as JobSpec | undefined, 'spec', true),
  validateSpecUpdate(obj, old) {
    const s = (obj.spec ?? {}) as JobSpec;
    const o = (old.spec ?? {}) as JobSpec;
    const errs = validateImmutableField(s.selector, o.selector, 'spec.selector');
    errs.push(...validateImmutableField(s.template, o.template, 'spec.template'));
    if (s.completionMode !== 'Indexed') errs.push(...validateImmutableField(s.completions, o.completions, 'spec.completions'));
    errs.push(...validateImmutableField(s.completionMode, o.completionMode, 'spec.completionMode'));
    return errs;
  },
  printer: {
    columns: [
      nameColumn,
      column('Status', 'Status of the job.'),
      column('Completions', 'The number of pods which reached phase Succeeded.'),
      column('Duration', 'Time required to complete the job.'),
      ageColumn,
      containersColumn,
      imagesColumn,
      selectorColumn('A label query over pods that should match the pod count.'),
    ],
    row(obj, now) {
      const job = as<Job>(obj);
      const succeeded = job.status?.succeeded ?? 0;
      let completions: string;
      if (job.spec?.completions !== undefined && job.spec.completions !== null) completions = `${succeeded}/${job.spec.completions}`;
      else if ((job.spec?.parallelism ?? 0) > 1) completions = `${succeeded}/1 of ${job.spec!.parallelism}`;
      else completions = `${succeeded}/1`;
      let duration = '';
      const start = job.status?.startTime;
      const done = job.status?.completionTime;
      if (start) duration = humanDuration((done ? new Date(done).getTime() : now.getTime()) - new Date(start).getTime());
      let status = 'Running';
      if (hasCondition(job, 'Complete')) status = 'Complete';
      else if (hasCondition(job, 'Failed')) status = 'Failed';
      else if (job.metadata?.deletionTimestamp) status = 'Terminating';
      else if (hasCondition(job, 'Suspended')) status = 'Suspended';
      else if (hasCondition(job, 'FailureTarget')) status = 'FailureTarget';
      const [names, images] = containerCells(job.spec?.template?.spec?.containers);
      return [obj.metadata.name ?? '', status, completions, duration, age(obj, now), names, images, formatLabelSelector(job.spec?.selector)];
    },
  },
  fieldSelectors: {
    'status.successful': (o) => String(as<Job>(o).status?.succeeded ?? 0),
  },
});
