/** batch/v1 CronJobs: defaults, schedule and job template validation, the SCHEDULE/SUSPEND/ACTIVE table. */
import type { CronJob, CronJobSpec } from 'kubernetes-types/batch/v1.js';
import { ageOf } from '../../api/age.js';
import { CronSyntaxError, parseCronFields } from '../../api/cron-fields.js';
import { fieldInvalid, fieldNotSupported, fieldRequired, type FieldError } from '../../api/status.js';
import { formatLabelSelector } from '../../api/labels.js';
import { nameIsDNSSubdomain } from '../../api/validation.js';
import { defineResource, specOf } from './define-resource.js';
import { validateJobSpec } from './jobs.js';
import { defaultPodTemplate, validateNonNegative } from './pod-spec.js';
import { age, as, column, containerCells, containersColumn, imagesColumn, nameColumn, ageColumn, selectorColumn } from './table-columns.js';

/**
 * undefined when robfig/cron's ParseStandard accepts the schedule (what kube-apiserver validates it with),
 * else its error, which becomes the detail of spec.schedule's Invalid value.
 */
export function validateSchedule(schedule: string): string | undefined {
  try {
    parseCronFields(schedule);
    return undefined;
  } catch (err) {
    if (err instanceof CronSyntaxError) return err.message;
    throw err;
  }
}

export const cronjobs = defineResource({
  group: 'batch',
  version: 'v1',
  kind: 'CronJob',
  plural: 'cronjobs',
  singular: 'cronjob',
  namespaced: true,
  shortNames: ['cj'],
  categories: ['all'],
  hasStatus: true,
  schemaName: 'io.k8s.api.batch.v1.CronJob',
  tracksGeneration: true,
  nameValidator: nameIsDNSSubdomain,
  defaults(obj) {
    const spec = specOf<CronJobSpec>(obj);
    spec.concurrencyPolicy ??= 'Allow';
    spec.suspend ??= false;
    spec.successfulJobsHistoryLimit ??= 3;
    spec.failedJobsHistoryLimit ??= 1;
    defaultPodTemplate(spec.jobTemplate?.spec?.template);
  },
  validateSpec(obj) {
    const errs: FieldError[] = [];
    // Job names are the CronJob name plus an 11-character suffix and must stay within 63 characters.
    const name = obj.metadata.name ?? '';
    if (name.length > 52) errs.push(fieldInvalid('metadata.name', name, 'must be no more than 52 characters'));
    const s = (obj.spec ?? {}) as CronJobSpec;
    if (!s.schedule) errs.push(fieldRequired('spec.schedule'));
    else if (s.schedule.includes('TZ')) {
      // validateScheduleFormat: a zone belongs in spec.timeZone (only an update keeping an old TZ= schedule may keep it).
      errs.push(fieldInvalid('spec.schedule', s.schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
    } else {
      const problem = validateSchedule(s.schedule);
      if (problem) errs.push(fieldInvalid('spec.schedule', s.schedule, problem));
    }
    if (s.concurrencyPolicy && !['Allow', 'Forbid', 'Replace'].includes(s.concurrencyPolicy)) {
      errs.push(fieldNotSupported('spec.concurrencyPolicy', s.concurrencyPolicy, ['Allow', 'Forbid', 'Replace']));
    }
    errs.push(...validateNonNegative(s.startingDeadlineSeconds, 'spec.startingDeadlineSeconds'));
    errs.push(...validateNonNegative(s.successfulJobsHistoryLimit, 'spec.successfulJobsHistoryLimit'));
    errs.push(...validateNonNegative(s.failedJobsHistoryLimit, 'spec.failedJobsHistoryLimit'));
    if (!s.jobTemplate) errs.push(fieldRequired('spec.jobTemplate'));
    else errs.push(...validateJobSpec(s.jobTemplate.spec, 'spec.jobTemplate.spec', false));
    return errs;
  },
  printer: {
    columns: [
      nameColumn,
      column('Schedule', 'The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.'),
      column('Timezone', 'The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.'),
      column('Suspend', 'This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.', { type: 'boolean' }),
      column('Active', 'A list of pointers to currently running jobs.', { type: 'integer' }),
      column('Last Schedule', 'Information when was the last time the job was successfully scheduled.'),
      ageColumn,
      containersColumn,
      imagesColumn,
      selectorColumn('A label query over pods that should match the pod count.'),
    ],
    row(obj, now) {
      const cj = as<CronJob>(obj);
      const suspend = cj.spec?.suspend;
      const [names, images] = containerCells(cj.spec?.jobTemplate?.spec?.template?.spec?.containers);
      return [
        obj.metadata.name ?? '',
        cj.spec?.schedule ?? '',
        cj.spec?.timeZone ?? '<none>',
        suspend === undefined || suspend === null ? '<unset>' : suspend ? 'True' : 'False',
        cj.status?.active?.length ?? 0,
        cj.status?.lastScheduleTime ? ageOf(cj.status.lastScheduleTime, now) : '<none>',
        age(obj, now),
        names,
        images,
        formatLabelSelector(cj.spec?.jobTemplate?.spec?.selector),
      ];
    },
  },
});
